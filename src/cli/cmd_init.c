/*
 * cmd_init.c — `coffer init`: create a repository.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "util/text.h"

static const char help[] =
    "usage: coffer init [OPTIONS]\n\n"
    "Creates a repository in a new or empty directory and asks for its passphrase\n"
    "(or reads it as every command does).\n\n"
    "options:\n"
    "  --kdf LEVEL            Argon2id cost for the passphrase: interactive, moderate\n"
    "                         (default) or sensitive (64 MiB, 256 MiB, 1 GiB of memory)\n"
    "  --stream-chunks SIZE   average chunk size for streams such as database dumps\n"
    "                         (default 128K; smaller deduplicates scattered changes better)\n"
    "  --file-chunks SIZE     average chunk size for files of a tree (default 1M)\n"
    "  --compression LEVEL    zstd level, -7..19 (default 2)\n" CLI_GLOBAL_HELP;

static int parse_chunks(const char *arg, struct chunker_params *p)
{
    uint64_t avg;
    if (size_parse(arg, &avg) < 0 || avg > (4u << 20))
        return -1;
    p->avg_size = (uint32_t)avg;
    p->min_size = (uint32_t)(avg / 4);
    p->max_size = (uint32_t)(avg * 4);
    return 0;
}

int cmd_init(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"kdf", required_argument, NULL, 'k'},
        {"stream-chunks", required_argument, NULL, 's'},
        {"file-chunks", required_argument, NULL, 'f'},
        {"compression", required_argument, NULL, 'c'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct repo_init_options init = {.kdf_level = "moderate"};
    struct error err;
    repo_config_defaults(&init.config);
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(help, stdout); return EXIT_OK;
        case 'k': init.kdf_level = optarg; break;
        case 's':
            if (parse_chunks(optarg, &init.config.stream_chunks) < 0)
                return cli_usage_error("init", "bad chunk size \"%s\" (try 128K)", optarg);
            break;
        case 'f':
            if (parse_chunks(optarg, &init.config.file_chunks) < 0)
                return cli_usage_error("init", "bad chunk size \"%s\" (try 1M)", optarg);
            break;
        case 'c': init.config.zstd_level = atoi(optarg); break;
        default: return cli_usage_error("init", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("init", "unexpected argument \"%s\"", argv[optind]);
    char *pass = NULL;
    if (cli_check_kdf_level(init.kdf_level, &err) < 0 || cli_resolve_globals(g, &err) < 0 ||
        cli_passphrase(g, true, &pass, &err) < 0)
        return cli_fail(&err);
    init.s3 = &g->s3;
    int rc = repo_init(g->repo, pass, &init, &err);
    cli_passphrase_free(pass);
    if (rc < 0)
        return cli_fail(&err);
    if (g->is_json)
        printf("{\"repository\":\"%s\",\"created\":true}\n", g->repo);
    else if (!g->is_quiet)
        printf("created coffer repository at %s\n"
               "keep the passphrase safe: without it the data cannot be read\n", g->repo);
    return EXIT_OK;
}
