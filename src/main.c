/*
 * main.c — coffer's entry point; everything else starts in cli/.
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
