/*
 * envfile.h — a copy of a .env file with the secrets taken out, for review.
 *
 * Someone checking what a backup holds (or a diff between two snapshots)
 * should see that API_KEY changed without seeing the key. envfile_redact
 * copies the file byte for byte and puts [REDACTED] in place of the value
 * of every variable whose name looks secret, keeping what a reviewer needs:
 * the names, the `export ` prefixes, the spacing, the quotes, the comments,
 * the line endings.
 *
 * Syntax: dotenv as Docker Compose, python-dotenv and Node's dotenv read
 * it. A variable is `NAME=VALUE` (optionally `export NAME=VALUE`, blanks
 * around `=`), NAME being [A-Za-z_][A-Za-z0-9_.-]*. A value is unquoted
 * (up to the end of the line or a `#` after a blank, which starts an inline
 * comment), or in double or single quotes and may then span lines up to the
 * closing quote. Every other line (comments, blank lines, anything not an
 * assignment) is copied unchanged.
 *
 * A name matches when it contains one of the words as a substring, ignoring
 * ASCII case: with "key", API_KEY and keyboard_layout both match. A word
 * that starts with "value:" is a pattern for values instead: the rest is a
 * glob (* any bytes, ? one, \ makes the next literal; bytewise, case
 * matters) that must match the whole value — the text inside its quotes,
 * or up to an inline comment — as in "value:sk_live_*" or "value:AKIA*",
 * so that a secret is hidden whatever its variable is called. Value
 * patterns are for secrets with a shape; a value that merely contains a
 * name word is not evidence of anything.
 *
 * URL passwords are hidden in every line, whatever the variable is called
 * and whatever the words, comments included: in DATABASE_URL=postgres://
 * app:hunter2@db/app the output has postgres://app:[REDACTED]@db/app. After
 * "://", up to the last @ before the URL ends (a blank, a quote or a line
 * end), what follows the first : is replaced — or all of the user part when
 * it has no : (https://TOKEN@github.com). A @ in a URL's path can so hide
 * more than a password, never less.
 *
 * The three dialects disagree at the edges, so this reads every variable
 * the way that leaks least: a redacted value is taken to end as late as any
 * of them would end it, a copied one as early as any of them would, so a
 * disagreement can cost too much redaction but never a secret. Concretely:
 *  - A quote preceded by a backslash does not close a value (inside any
 *    quotes). Compose-go says so in its code; python-dotenv's and Node's
 *    regular expressions, being greedy, do the same. So in `"a\\"` the
 *    last quote does not close either, although its backslash is escaped.
 *  - A redacted quoted value that is never closed runs to the end of the
 *    file. No dialect reads it so (Compose rejects the file, the others
 *    take the value as one line), but the lines after an unclosed quote
 *    are most likely the rest of the secret: a PEM key missing its end.
 *  - Text after a redacted value's closing quote that is not a comment is
 *    dropped with the value. Backquotes (Node) quote a redacted value too.
 *  - A copied (not matching) value continues past its line only when it
 *    opens with " or ', after `=`, and its closing quote is followed by
 *    nothing but blanks and a comment: then every dialect agrees the lines
 *    in between are its own. Otherwise the lines after it are read as
 *    lines of their own, so a malformed harmless value cannot hide a secret
 *    that follows it.
 *  - `NAME: VALUE` (Compose, Node) is recognised for matching names.
 *  - Lines end at \n, \r\n or a lone \r (python-dotenv, Node); a redacted
 *    unquoted value without an inline comment runs on over a lone \r to
 *    the next \n (Compose). A UTF-8 byte-order mark at the start is kept
 *    and skipped.
 * Comment lines are copied as they are, even one like `# API_KEY=old`,
 * but for the passwords of the URLs in them.
 */
#ifndef COFFER_SOURCE_ENVFILE_H
#define COFFER_SOURCE_ENVFILE_H

#include <stddef.h>

#include "util/buf.h"

/* What a redacted value is replaced with. */
#define ENVFILE_REDACTED "[REDACTED]"
/* The start of a word that is a pattern for values, not names. */
#define ENVFILE_VALUE_PREFIX "value:"

/* Appends to out (without resetting it) the len bytes of .env text with
 * the value of every variable whose name contains one of the word_count
 * words (ASCII case-insensitive; an empty word matches every name), or
 * whose value matches one of the value: patterns, replaced by
 * ENVFILE_REDACTED, and every URL's password too. With no words and no
 * "://" the output equals the input. text need not be NUL-terminated and
 * may hold any bytes. Cannot fail; uses memory linear in len. */
void envfile_redact(const char *text, size_t len, const char *const *words, size_t word_count, struct buf *out);

#endif
