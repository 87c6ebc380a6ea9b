/*
 * putlock — writes a lock object by hand, for tests of how lockers judge
 * locks they did not write (tests/integration/lockjudge.sh).
 *
 *   COFFER_PASSWORD_FILE=F putlock REPO [--raw] < CONTENT
 *
 * Stores stdin as locks/<random id> of the repository at REPO, sealed with
 * its key as coffer seals a lock (or, with --raw, as it is: an object that
 * does not open), and prints the object's name. coffer writes locks only
 * about itself; a test needs locks of other machines, other pid
 * namespaces, older versions and garbage, which only this can write.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "repo/repo.h"
#include "store/store.h"

static int fail(const struct error *err)
{
    fprintf(stderr, "putlock: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    bool is_raw = argc == 3 && strcmp(argv[2], "--raw") == 0;
    if (argc != 2 && !is_raw) {
        fprintf(stderr, "usage: COFFER_PASSWORD_FILE=F putlock REPO [--raw] < CONTENT\n");
        return 2;
    }
    struct buf content = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        buf_append(&content, chunk, n);

    struct error err;
    struct cli_globals globals = {.repo = argv[1]};
    struct repo *repo = NULL;
    uint8_t id[CRYPTO_ID_SIZE];
    char name[96];
    int rc = 1;
    if (cli_open_repo(&globals, &repo, &err) < 0) {
        rc = fail(&err);
        goto out;
    }
    crypto_random(id, sizeof id);
    repo_object_name(OBJ_LOCK, id, name);
    if ((is_raw ? store_put(repo_store(repo), name, content.data, content.len, &err)
                : repo_put_object(repo, OBJ_LOCK, id, content.data, content.len, &err)) < 0) {
        rc = fail(&err);
        goto out;
    }
    printf("%s\n", name);
    rc = 0;
out:
    repo_free(repo);
    buf_free(&content);
    return rc;
}
