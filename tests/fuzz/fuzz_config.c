/*
 * fuzz_config.c — libFuzzer harness for coffer.yaml (config_load_buffer).
 *
 * Whatever the bytes, loading must end — loaded or refused with a message
 * naming the file's line — without a crash, a leak or a hang (run with
 * -timeout=2 so a hang is a finding: issue #12, D12 was two bytes that
 * spun the YAML parser forever). A loaded config must be well formed:
 * every source has a name and a type, and config_free releases it all.
 * Seeds: tests/fuzz/corpus/config/ (the files of docs/config.md and the
 * tests).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define NAME "fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    uint8_t *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    struct config cfg;
    struct error err;
    int rc = config_load_buffer(NAME, text, size, &cfg, &err);
    if (rc == 0) {
        for (size_t i = 0; i < cfg.source_count; i++)
            if (!cfg.sources[i].name || !cfg.sources[i].kind || !cfg.sources[i].settings || cfg.sources[i].line == 0)
                abort();   /* a source without a name, a type or a line */
        if (!cfg.path || strcmp(cfg.path, NAME) != 0)
            abort();
    } else if (strncmp(err.msg, NAME ":", strlen(NAME ":")) != 0 || cfg.path || cfg.source_count) {
        abort();   /* a refusal must name the file (and its line), and leave the config empty */
    }
    config_free(&cfg);
    free(text);
    return 0;
}
