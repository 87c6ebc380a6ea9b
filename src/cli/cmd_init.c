/*
 * cmd_init.c — `coffer init`: create a repository.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "util/text.h"

static const char description[] =
    "Creates a repository in a new or empty directory and asks for its passphrase\n"
    "(or reads it as every command does).";

/* An average chunk size as the chunker's bounds: a quarter to four times it. */
static void chunk_params(uint64_t avg, struct chunker_params *p)
{
    p->avg_size = (uint32_t)avg;
    p->min_size = (uint32_t)(avg / 4);
    p->max_size = (uint32_t)(avg * 4);
}

int cmd_init(struct cli_globals *g, int argc, char **argv)
{
    struct repo_init_options init = {.kdf_level = "moderate"};
    repo_config_defaults(&init.config);
    uint64_t stream_chunks = 0, file_chunks = 0;
    bool has_stream_chunks = false, has_file_chunks = false;
    /* Within these bounds, repo_init says whether the chunker accepts a size (a power of two). */
    const struct opt options[] = {
        {OPT_STRING("kdf", &init.kdf_level), .arg = "LEVEL",
         .help = "Argon2id cost for the passphrase: interactive, moderate (default) or sensitive (64 MiB, 256 MiB, "
                 "1 GiB of memory)"},
        {OPT_SIZE("stream-chunks", &stream_chunks, 4 << 10, 4 << 20), .seen = &has_stream_chunks, .arg = "SIZE",
         .help = "average chunk size for streams such as database dumps (default 128K; smaller deduplicates "
                 "scattered changes better)"},
        {OPT_SIZE("file-chunks", &file_chunks, 4 << 10, 4 << 20), .seen = &has_file_chunks, .arg = "SIZE",
         .help = "average chunk size for files of a tree (default 1M)"},
        {OPT_INT("compression", &init.config.zstd_level, -7, 19), .arg = "LEVEL",
         .help = "zstd level, -7..19 (default 2)"},
        {0},
    };
    const struct opt_command command = {.name = "init", .usage = "[OPTIONS]", .description = description,
                                        .options = options};
    struct opt_args args;
    struct error err;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if ((code = cli_args_at_most("init", &args, 0)) != EXIT_OK)
        return code;
    if (has_stream_chunks)
        chunk_params(stream_chunks, &init.config.stream_chunks);
    if (has_file_chunks)
        chunk_params(file_chunks, &init.config.file_chunks);
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
