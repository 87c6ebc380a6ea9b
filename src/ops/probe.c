/*
 * probe.c — `coffer config check`'s work: reach every configured source as
 * a backup would (connect, authenticate, open the paths), back up nothing.
 * Each type says how in its row's probe (source/types.h); this runs them,
 * one at a time, and reports each. The daemon will run it when it starts.
 */
#include "ops/ops.h"

#include <string.h>

#include "config/config.h"
#include "source/types.h"

int ops_probe_sources(const struct config *cfg, char *const *names, size_t count, probe_report_fn report, void *ctx,
                      struct error *err)
{
    for (size_t i = 0; i < count; i++)
        if (!config_find_source(cfg, names[i]))
            return error_setk(err, ERR_USAGE, "no source \"%s\" in %s", names[i], cfg->path);
    int failed = 0;
    for (size_t i = 0; i < cfg->source_count; i++) {
        const struct config_source *src = &cfg->sources[i];
        bool is_named = count == 0;
        for (size_t k = 0; k < count && !is_named; k++)
            is_named = !strcmp(names[k], src->name);
        if (!is_named)
            continue;
        char what[512] = "";
        struct error why;
        int rc = src->kind->probe ? src->kind->probe(src->settings, what, sizeof what, &why) : 0;
        if (!src->kind->probe)
            snprintf(what, sizeof what, "nothing to reach");
        failed += rc < 0;
        report(ctx, src, rc == 0 ? what : NULL, rc == 0 ? NULL : why.msg);
    }
    return failed;
}
