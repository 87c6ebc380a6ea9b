/*
 * test_faults_ops.c — a store that fails at any one call leaves a
 * repository whole, whatever operation was running.
 *
 * For prune, forget, copy, check, locking and key rotation: the operation
 * runs once on a fault store (fault.h) over a memory store to count the
 * store calls it makes, by kind; then, for every kind and every N up to
 * that count, it runs again from the same starting repository (a clone of
 * the memory store) with its Nth call of that kind failing (ENOSPC for
 * puts, EIO otherwise). After each run, whether the operation failed or
 * coped: the repository opens (with the old passphrase, or — key rotation —
 * the new one), `check --read-data` finds nothing damaged, every snapshot
 * the operation had no business removing is there, and every snapshot
 * there restores byte-identical to what was backed up. Lock objects the
 * failed run left (its unlock may be what failed) are removed first, as
 * they would be once the process is gone (lock.h): a leftover lock is not
 * damage.
 *
 * The integration test tests/integration/faults.sh does the same through
 * the real binary with crashes and power cuts; this one is in-process, so
 * it can afford every call of every operation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "ops/ops.h"
#include "repo/keys.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "source/types.h"
#include "store/fault.h"
#include "store/store.h"
#include "testing.h"

#define PASS "fault-sweep-pass"
#define NEW_PASS "fault-sweep-new-pass"
#define WORKERS 2

/* ---- what was backed up ------------------------------------------------- */

/* Five snapshots of two sources; db's versions share most of their
 * content, so packs hold blobs of several snapshots and prune has packs to
 * repack as well as packs to drop. */
enum { DB1, DB2, DB3, APP1, APP2, SNAPSHOTS };
static const char *const sources[SNAPSHOTS] = {"db", "db", "db", "app", "app"};
static const int64_t times[SNAPSHOTS] = {1700000000, 1700086400, 1700172800, 1700000000, 1700086400};
#define DB_SIZE (900u << 10)
#define APP_SIZE (400u << 10)

static uint8_t *contents[SNAPSHOTS];
static size_t sizes[SNAPSHOTS];

static void make_contents(void)
{
    for (int i = DB1; i <= DB3; i++) {
        sizes[i] = DB_SIZE;
        contents[i] = malloc(DB_SIZE);
        test_fill_text(contents[i], DB_SIZE, 11);
        /* Each version rewrites a third of the dump of the one before. */
        for (int v = DB1; v < i; v++)
            test_fill_random(contents[i] + (size_t)(v + 1) * (DB_SIZE / 3) - (DB_SIZE / 3) / 2, DB_SIZE / 3,
                             100 + (uint64_t)v);
    }
    for (int i = APP1; i <= APP2; i++) {
        sizes[i] = APP_SIZE;
        contents[i] = malloc(APP_SIZE);
        test_fill_random(contents[i], APP_SIZE, 200 + (uint64_t)i);
    }
}

static int which_snapshot(const struct snapshot *snap)
{
    for (int i = 0; i < SNAPSHOTS; i++)
        if (!strcmp(snap->source, sources[i]) && snap->time == times[i])
            return i;
    return -1;
}

/* ---- making repositories ------------------------------------------------ */

static struct repo *open_on(struct store *store, const char *pass)
{
    struct repo *repo = NULL;
    struct error err = {0};
    if (repo_open_store(store, pass, &repo, &err) < 0)
        fail_msg("cannot open the repository: %s", err.msg);
    return repo;
}

static struct store *new_repository(void)
{
    struct store *store = store_open_memory();
    struct repo_init_options opts = {.kdf_level = KDF_LEVEL_TESTONLY};
    struct error err = {0};
    repo_config_defaults(&opts.config);
    opts.config.pack_size = 1 << 20; /* the smallest: several packs from little data */
    if (repo_init_store(store, PASS, &opts, &err) < 0)
        fail_msg("cannot make a repository: %s", err.msg);
    return store;
}

static void backup(struct repo *repo, int which)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct test_pipe_feed feed = {fds[1], contents[which], sizes[which]};
    pthread_t feeder;
    assert_int_equal(pthread_create(&feeder, NULL, test_feed_pipe, &feed), 0);
    struct progress progress = {0};
    struct config_source src;
    config_source_init(&src, source_type_find("stream"), sources[which]);
    struct backup_options opts = {.source = &src, .stdin_fd = fds[0],
                                  .time = times[which], .workers = WORKERS, .progress = &progress};
    struct snapshot snap;
    struct error err = {0};
    int rc = ops_backup(repo, &opts, &snap, &err);
    config_source_free(&src);
    pthread_join(feeder, NULL);
    close(fds[0]);
    if (rc < 0)
        fail_msg("backup of %s failed: %s", sources[which], err.msg);
    snapshot_free(&snap);
}

/* Keeps the last `keep` snapshots of db and of app (0: leaves it alone). */
struct keep_last {
    struct retention_policy db, app;
};

static const struct retention_policy *policy_for(void *ctx, const char *source)
{
    struct keep_last *k = ctx;
    const struct retention_policy *p = !strcmp(source, "db") ? &k->db : &k->app;
    return p->counts[KEEP_LAST] ? p : NULL;
}

static void ignore_verdict(void *ctx, const struct snapshot *snap, const struct retention_verdict *verdict,
                           const char *unhealthy)
{
}

static int forget_keeping(struct repo *repo, unsigned db, unsigned app, struct error *err)
{
    struct keep_last k = {0};
    k.db.counts[KEEP_LAST] = db;
    k.app.counts[KEEP_LAST] = app;
    struct forget_options opts = {.policy_for = policy_for, .ctx = &k};
    return ops_forget(repo, &opts, ignore_verdict, NULL, err);
}

static int prune(struct repo *repo, struct error *err)
{
    struct prune_options opts = {.max_unused = 0.05};
    struct prune_result result;
    memset(&result, 0, sizeof result);
    return ops_prune(repo, &opts, &result, err);
}

/* The starting points, made once. */
static struct store *all_five;     /* the five snapshots */
static struct store *half_pruned;  /* db1 forgotten and pruned (its packs condemned), db2 forgotten */
static struct store *empty_repo;   /* a repository with no snapshots, for copies into it */

static int setup_repositories(void **state)
{
    struct error err = {0};
    if (crypto_init(&err) < 0)
        return -1;
    make_contents();
    all_five = new_repository();
    struct repo *repo = open_on(all_five, PASS);
    for (int i = 0; i < SNAPSHOTS; i++)
        backup(repo, i);
    repo_free(repo);

    half_pruned = store_memory_clone(all_five);
    repo = open_on(half_pruned, PASS);
    if (forget_keeping(repo, 2, 0, &err) < 0 || prune(repo, &err) < 0 || forget_keeping(repo, 1, 0, &err) < 0) {
        fprintf(stderr, "cannot make the half-pruned repository: %s\n", err.msg);
        return -1;
    }
    repo_free(repo);
    empty_repo = new_repository();
    return 0;
}

static int teardown_repositories(void **state)
{
    store_free(all_five);
    store_free(half_pruned);
    store_free(empty_repo);
    for (int i = 0; i < SNAPSHOTS; i++)
        free(contents[i]);
    return 0;
}

/* ---- after a fault ------------------------------------------------------ */

struct names {
    char **items;
    size_t count;
};

static int note_name(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct names *n = ctx;
    n->items = realloc(n->items, (n->count + 1) * sizeof *n->items);
    n->items[n->count++] = strdup(name);
    return 0;
}

/* Removes the lock objects a run left; returns how many. */
static unsigned remove_leftover_locks(struct store *store)
{
    struct error err = {0};
    struct names names = {0};
    assert_int_equal(store_list(store, "locks", note_name, &names, &err), 0);
    for (size_t i = 0; i < names.count; i++) {
        assert_int_equal(store_delete(store, names.items[i], &err), 0);
        free(names.items[i]);
    }
    free(names.items);
    return (unsigned)names.count;
}

struct collected {
    struct buf bytes;
};

static int collect(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    buf_append(&((struct collected *)ctx)->bytes, data, len);
    return 0;
}

/* The repository on store opens (with pass or, if given, other_pass),
 * checks clean with every pack read, holds every snapshot of `required`
 * (a bit per snapshot) and each of its snapshots restores as backed up.
 * what names the run for messages. */
static void assert_whole(struct store *store, const char *pass, const char *other_pass, unsigned required,
                         const char *what)
{
    struct repo *repo = NULL;
    struct error err = {0};
    if (repo_open_store(store, pass, &repo, &err) < 0 &&
        (!other_pass || repo_open_store(store, other_pass, &repo, &err) < 0))
        fail_msg("%s: the repository does not open: %s", what, err.msg);

    struct progress progress = {0};
    struct check_options copts = {.is_read_data = true, .workers = WORKERS, .progress = &progress};
    struct check_result cres;
    memset(&cres, 0, sizeof cres);
    if (ops_check(repo, &copts, &cres, &err) < 0 || cres.errors)
        fail_msg("%s: check finds %llu errors: %s", what, (unsigned long long)cres.errors, err.msg);
    check_result_free(&cres);

    struct snapshot_list list = {0};
    assert_int_equal(snapshot_list_load(repo, &list, &err), 0);
    if (list.unreadable.count)
        fail_msg("%s: unreadable snapshot %s", what, list.unreadable.items[0]);
    unsigned present = 0;
    for (size_t i = 0; i < list.count; i++) {
        int which = which_snapshot(&list.items[i]);
        if (which < 0)
            fail_msg("%s: a snapshot of %s that was never made", what, list.items[i].source);
        present |= 1u << which;
        struct collected got = {BUF_INIT};
        if (ops_read(repo, &list.items[i], NULL, WORKERS, collect, &got, &err) < 0)
            fail_msg("%s: snapshot %d does not restore: %s", what, which, err.msg);
        if (got.bytes.len != sizes[which] || memcmp(got.bytes.data, contents[which], sizes[which]) != 0)
            fail_msg("%s: snapshot %d restores %zu bytes unlike the %zu backed up", what, which, got.bytes.len,
                     sizes[which]);
        buf_free(&got.bytes);
    }
    if ((present & required) != required)
        fail_msg("%s: snapshots lost (required 0x%x, present 0x%x)", what, required, present);
    snapshot_list_free(&list);
    repo_free(repo);
}

/* ---- the sweep ---------------------------------------------------------- */

/* One operation: run on repo (opened on the fault store); for copy, to is
 * the faulted destination and repo the healthy source. */
struct op {
    const char *name;
    struct store **start;     /* the repository it starts from (faulted, unless is_source_faulted) */
    struct store **source;    /* copy: the repository it reads; else NULL */
    bool is_source_faulted;   /* copy: the fault store is under the source, not the destination */
    unsigned required;        /* snapshots of the faulted repository that must stay */
    bool is_rotating_key;     /* the new passphrase may be the one that opens it */
    int (*run)(struct repo *repo, struct repo *source, struct error *err);
};

struct run_stats {
    uint64_t calls[STORE_CALL_KINDS];
    unsigned runs, failed, leftover_locks;
    unsigned unreached; /* runs that made fewer calls of the kind than N */
};

static uint64_t run_once(const struct op *op, enum store_call kind, uint64_t nth, struct run_stats *stats,
                         uint64_t counts[STORE_CALL_KINDS])
{
    struct store *work = store_memory_clone(*op->start);
    struct store *source = op->source ? store_memory_clone(*op->source) : NULL;
    struct store *faulty = store_open_fault(op->is_source_faulted ? source : work);
    struct repo *repo = open_on(op->is_source_faulted ? work : faulty, PASS);
    struct repo *from = source ? open_on(op->is_source_faulted ? faulty : source, PASS) : NULL;
    struct error err = {0};
    fault_store_reset(faulty);
    if (nth)
        fault_store_fail(faulty, kind, nth, kind == STORE_CALL_PUT ? ENOSPC : EIO, false);

    int rc = op->run(repo, from, &err);

    uint64_t injected = fault_store_injected(faulty);
    if (nth && !injected && fault_store_calls(faulty, kind) < nth) {
        injected = 1; /* a path with fewer calls (threads finished in another order): nothing to fail */
        stats->unreached++;
    }
    if (counts)
        for (int k = 0; k < STORE_CALL_KINDS; k++)
            counts[k] = fault_store_calls(faulty, (enum store_call)k);
    repo_free(repo);
    repo_free(from);
    store_free(faulty);
    char what[128];
    if (nth) {
        snprintf(what, sizeof what, "%s with %s %llu failing", op->name, store_call_name(kind),
                 (unsigned long long)nth);
        stats->runs++;
        stats->failed += rc < 0;
    } else {
        snprintf(what, sizeof what, "%s without faults", op->name);
        if (rc < 0)
            fail_msg("%s: fails: %s", what, err.msg);
    }
    stats->leftover_locks += remove_leftover_locks(work);
    assert_whole(work, PASS, op->is_rotating_key ? NEW_PASS : NULL, op->required, what);
    if (source) {
        stats->leftover_locks += remove_leftover_locks(source);
        assert_whole(source, PASS, NULL, (1u << SNAPSHOTS) - 1, what);
    }
    store_free(work);
    store_free(source);
    return injected;
}

static void sweep(const struct op *op)
{
    struct run_stats stats = {0};
    uint64_t counts[STORE_CALL_KINDS];
    run_once(op, STORE_CALL_PUT, 0, &stats, counts);
    uint64_t total = 0;
    for (int k = 0; k < STORE_CALL_KINDS; k++) {
        total += counts[k];
        for (uint64_t n = 1; n <= counts[k]; n++) {
            uint64_t injected = run_once(op, (enum store_call)k, n, &stats, NULL);
            /* The run is the same up to the Nth call, so the Nth call
             * comes, and it alone fails. */
            if (injected != 1)
                fail_msg("%s: %s %llu: %llu faults injected, not 1", op->name, store_call_name((enum store_call)k),
                         (unsigned long long)n, (unsigned long long)injected);
        }
    }
    print_message("%s: %llu store calls (put %llu, get %llu, list %llu, delete %llu, size %llu); %u runs with one "
                  "failing (%u made fewer calls), %u of them failed, %u left locks behind; every one left the repository "
                  "whole\n",
                  op->name, (unsigned long long)total, (unsigned long long)counts[STORE_CALL_PUT],
                  (unsigned long long)counts[STORE_CALL_GET], (unsigned long long)counts[STORE_CALL_LIST],
                  (unsigned long long)counts[STORE_CALL_DELETE], (unsigned long long)counts[STORE_CALL_SIZE],
                  stats.runs, stats.unreached, stats.failed, stats.leftover_locks);
    assert_true(total > 0);
    assert_int_equal(stats.runs, total);
}

/* ---- the operations ----------------------------------------------------- */

#define ALL ((1u << SNAPSHOTS) - 1)

static int run_prune(struct repo *repo, struct repo *source, struct error *err)
{
    return prune(repo, err);
}

static int run_forget(struct repo *repo, struct repo *source, struct error *err)
{
    return forget_keeping(repo, 1, 1, err);
}

static int run_copy(struct repo *repo, struct repo *source, struct error *err)
{
    struct copy_options opts = {.workers = WORKERS};
    struct copy_result result;
    memset(&result, 0, sizeof result);
    return ops_copy(source, repo, &opts, &result, err);
}

static int run_check(struct repo *repo, struct repo *source, struct error *err)
{
    struct progress progress = {0};
    struct check_options opts = {.is_read_data = true, .workers = WORKERS, .progress = &progress};
    struct check_result result;
    memset(&result, 0, sizeof result);
    int rc = ops_check(repo, &opts, &result, err);
    check_result_free(&result);
    return rc;
}

static int run_lock(struct repo *repo, struct repo *source, struct error *err)
{
    struct repo_lock *shared = NULL, *exclusive = NULL;
    if (repo_lock(repo, false, &shared, err) < 0)
        return -1;
    repo_unlock(shared);
    if (repo_lock(repo, true, &exclusive, err) < 0)
        return -1;
    int rc = repo_lock_check(exclusive, err);
    repo_unlock(exclusive);
    return rc;
}

/* `coffer key passwd`: a key file for the new passphrase, then the old
 * one removed. */
static int run_rotate_key(struct repo *repo, struct repo *source, struct error *err)
{
    char name[KEY_NAME_MAX];
    return repo_key_add(repo, NEW_PASS, KDF_LEVEL_TESTONLY, true, name, err);
}

static void test_prune_survives_every_failure(void **state)
{
    /* db1 and db2 are forgotten: prune may drop their data, not a snapshot. */
    const struct op op = {"prune", &half_pruned, NULL, false, (1u << DB3) | (1u << APP1) | (1u << APP2), false,
                          run_prune};
    sweep(&op);
}

static void test_forget_survives_every_failure(void **state)
{
    const struct op op = {"forget", &all_five, NULL, false, (1u << DB3) | (1u << APP2), false, run_forget};
    sweep(&op);
}

static void test_copy_survives_every_failure(void **state)
{
    const struct op op = {"copy", &empty_repo, &all_five, false, 0, false, run_copy};
    sweep(&op);
}

/* The same with the source's store failing: reads, its lock. */
static void test_copy_survives_every_source_failure(void **state)
{
    const struct op op = {"copy (source failing)", &empty_repo, &all_five, true, 0, false, run_copy};
    sweep(&op);
}

static void test_check_survives_every_failure(void **state)
{
    const struct op op = {"check", &all_five, NULL, false, ALL, false, run_check};
    sweep(&op);
}

static void test_lock_survives_every_failure(void **state)
{
    const struct op op = {"lock", &all_five, NULL, false, ALL, false, run_lock};
    sweep(&op);
}

static void test_key_rotation_survives_every_failure(void **state)
{
    const struct op op = {"key rotation", &all_five, NULL, false, ALL, true, run_rotate_key};
    sweep(&op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prune_survives_every_failure),
        cmocka_unit_test(test_forget_survives_every_failure),
        cmocka_unit_test(test_copy_survives_every_failure),
        cmocka_unit_test(test_copy_survives_every_source_failure),
        cmocka_unit_test(test_check_survives_every_failure),
        cmocka_unit_test(test_lock_survives_every_failure),
        cmocka_unit_test(test_key_rotation_survives_every_failure),
    };
    return cmocka_run_group_tests(tests, setup_repositories, teardown_repositories);
}
