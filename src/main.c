/*
 * main.c — coffer's entry point; everything else starts in cli/.
 *
 * Before anything reads a secret, the process stops being dumpable and
 * its core size limit drops to 0: a crash leaves no core holding the
 * passphrase, the master key or a database password.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "util/secret.h"

int main(int argc, char **argv)
{
    struct error err;
    if (secret_protect_process(&err) < 0) {
        fprintf(stderr, "coffer: %s\n", err.msg);
        return 1;
    }
    return cli_main(argc, argv);
}
