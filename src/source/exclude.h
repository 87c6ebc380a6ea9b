/*
 * exclude.h — the `exclude:` patterns of a files source: which entries of
 * a walked tree to leave out of the backup.
 *
 * The walk asks once per entry, for trees of millions of files, so the
 * patterns are compiled once (exclude_new) and exclude_matches allocates
 * nothing. An excluded directory is not descended into; that is how what
 * lies below it is left out: exclude_matches judges only the entry itself.
 *
 * The patterns read like .gitignore lines, matched against the absolute
 * path as walked ("/srv/app/uploads/a/b.tmp"). Below, a space separates
 * a * from a slash next to it, which a C comment cannot hold; the patterns
 * themselves have no such space.
 *
 *   *.tmp, cache, .DS_Store
 *       No slash (a trailing one aside): matches the entry's name, its last
 *       path component, at any depth.
 *   cache/
 *       A trailing slash: directories only, never a file of that name.
 *   /srv/app/uploads/private, /var/log/app/ *.gz
 *       A slash elsewhere: matches the whole absolute path, component by
 *       component, so it must start with / (or with a ** component, below).
 *       It does not match a longer name that shares its prefix
 *       (/srv/app/uploads/private2), nor what lies below it.
 *   ** as a whole component
 *       Any number of components, zero included: "** /node_modules" is the
 *       same as node_modules; "/srv/ ** /cache" matches /srv/cache and
 *       /srv/a/b/cache. At the end it means "everything below":
 *       "/srv/app/ **" matches /srv/app/x and deeper, not /srv/app itself.
 *       Inside a component (a**b) it is an ordinary *.
 *   * ? [abc] [a-z] [!abc] [^abc]
 *       As in fnmatch(3): * and ? never match a slash. A backslash makes
 *       the next character literal (\*, \[, \!, \\).
 *
 * Matching is bytewise and case-sensitive: file names are bytes, and the
 * locale of whoever runs the backup must not change what is backed up.
 * Patterns are never turned into "no match" silently: one that could never
 * match a walked path (foo/bar, a//b, /a/../b), that is unfinished (a
 * trailing backslash, an unclosed [) or that asks for what coffer does not
 * do (negation with !, [:alpha:] classes) is refused with the reason.
 */
#ifndef COFFER_SOURCE_EXCLUDE_H
#define COFFER_SOURCE_EXCLUDE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct exclude;

/* Compiles count patterns (count 0: nothing is excluded). On a bad pattern
 * returns NULL and err (ERR_USAGE) names the pattern and says what is
 * wrong with it. The result keeps no pointer into patterns. */
struct exclude *exclude_new(const char *const *patterns, size_t count, struct error *err);
void exclude_free(struct exclude *ex);

/* Why pattern would be refused, or NULL if it is fine. The reason does not
 * repeat the pattern, so it fits config.c's per-value checks. */
const char *exclude_check(const char *pattern);

/* Whether the entry at path (absolute, as walked) is excluded; is_dir says
 * whether it is a directory. ex NULL excludes nothing. Allocates nothing;
 * safe to call from several threads at once on the same ex. The root "/"
 * has no name and is matched by no pattern. */
bool exclude_matches(const struct exclude *ex, const char *path, bool is_dir);

#endif
