/*
 * mksnapshots — fills a repository with many snapshots for bench/forget.sh.
 *
 *   COFFER_PASSWORD_FILE=F mksnapshots REPO COUNT FIRST LAST [SEED [EVENTS]]
 *
 * Copies the repository's latest snapshot COUNT times at irregular times
 * between the unix seconds FIRST and LAST (gaps drawn at random around the
 * mean, deterministic for a SEED), each a real snapshot object with its own
 * id, sealed and stored like one `coffer backup` writes; all share the
 * latest snapshot's content, so any of them restores. It exists because
 * 10,000 runs of `coffer backup` take about 20 minutes, most of it process
 * start and key derivation, which is not what bench/forget.sh measures.
 * Takes the repository's shared lock, as a backup does. EVENTS more
 * writes that many "run" events (bench/daemon.sh: a daemon's history).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

static int usage(void)
{
    fprintf(stderr, "usage: COFFER_PASSWORD_FILE=F mksnapshots REPO COUNT FIRST LAST [SEED [EVENTS]]\n");
    return 2;
}

/* splitmix64: a small, seedable generator; the times need no more. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int fail(const struct error *err)
{
    fprintf(stderr, "mksnapshots: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7)
        return usage();
    unsigned long long events = argc == 7 ? strtoull(argv[6], NULL, 10) : 0;
    char *end;
    unsigned long long count = strtoull(argv[2], &end, 10);
    long long first = strtoll(argv[3], NULL, 10), last = strtoll(argv[4], NULL, 10);
    uint64_t state = argc >= 6 ? strtoull(argv[5], NULL, 10) : 1;
    if (*end || count == 0 || last <= first)
        return usage();

    struct error err;
    struct cli_globals globals = {.repo = argv[1]};
    struct repo *repo = NULL;
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    int rc = 1;
    if (cli_open_repo(&globals, &repo, &err) < 0 || repo_lock(repo, false, &lock, &err) < 0 ||
        snapshot_list_load(repo, &list, &err) < 0) {
        rc = fail(&err);
        goto out;
    }
    if (!list.count) {
        fprintf(stderr, "mksnapshots: %s has no snapshot to copy; make one with coffer backup first\n", argv[1]);
        goto out;
    }
    /* The template is the newest snapshot; only its time changes per copy. */
    struct snapshot *template = &list.items[list.count - 1];
    double mean_gap = (double)(last - first) / (double)count;
    double t = (double)first;
    for (unsigned long long i = 0; i < count; i++) {
        /* A gap between 0.2 and 1.8 times the mean, so hours and days get
         * uneven numbers of snapshots, as real schedules with retries do. */
        double jitter = 0.2 + 1.6 * (double)(next_random(&state) >> 11) / (double)(1ULL << 53);
        t += mean_gap * jitter;
        template->time = (int64_t)t;
        template->time_ns = (int32_t)(next_random(&state) % 1000000000u);
        if (snapshot_save(repo, template, &err) < 0) {
            rc = fail(&err);
            goto out;
        }
    }
    for (unsigned long long i = 0; i < events; i++) { /* hourly runs of a job, ending at LAST */
        json_t *doc = json_pack("{s:s, s:I, s:I, s:s, s:[], s:[], s:[], s:[]}", "job", "hourly", "slot_time",
                                (json_int_t)(last - (long long)(events - i) * 3600), "passed", (json_int_t)1, "outcome",
                                "ok", "actions", "sources", "problems", "warnings");
        json_object_set_new(doc, "time", json_integer((json_int_t)(last - (long long)(events - i) * 3600)));
        int saved = event_save(repo, "run", doc, &err);
        json_decref(doc);
        if (saved < 0) {
            rc = fail(&err);
            goto out;
        }
    }
    printf("mksnapshots: %llu snapshots of source %s from %lld to %" PRId64 ", %llu events\n", count, template->source,
           first, template->time, events);
    rc = 0;
out:
    snapshot_list_free(&list);
    repo_unlock(lock);
    if (repo)
        repo_free(repo);
    cli_globals_free(&globals);
    return rc;
}
