/*
 * test_workflows.c — the workflows commands share, called without the CLI
 * (as the daemon will call them): a run over configured sources
 * (ops_backup_sources), one source's drill with its scratch places and
 * event (ops_drill_job), which retention policy applies to a source
 * (ops_retention_plan) and key rotation (repo_key_add, repo_key_remove). Each runs on a real repository in a temporary
 * directory; what is backed up is restored and compared byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "ops/check_job.h"
#include "ops/drill.h"
#include "ops/ops.h"
#include "repo/event.h"
#include "repo/keys.h"
#include "repo/repo.h"
#include "testing.h"

struct fixture {
    char dir[64];
    char repo_dir[128];
    struct repo *repo;
    struct config cfg;
};

static int setup(void **state)
{
    struct error err = {0};
    struct fixture *f = calloc(1, sizeof *f);
    if (crypto_init(&err) < 0 || test_make_tmpdir(f->dir) < 0)
        return -1;
    snprintf(f->repo_dir, sizeof f->repo_dir, "%s/repo", f->dir);
    struct repo_init_options opts = {.kdf_level = KDF_LEVEL_TESTONLY};
    repo_config_defaults(&opts.config);
    if (repo_init(f->repo_dir, "pw", &opts, &err) < 0 || repo_open(f->repo_dir, NULL, "pw", &f->repo, &err) < 0)
        return -1;
    char path[256];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/src%d", f->dir, i);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/src%d/data.bin", f->dir, i);
        size_t len = 300000 + (size_t)i * 7777;
        uint8_t *data = malloc(len);
        test_fill_random(data, len, 42 + (uint64_t)i);
        FILE *fp = fopen(path, "wb");
        fwrite(data, 1, len, fp);
        fclose(fp);
        free(data);
    }
    /* Two file sources and one whose command fails. */
    char text[1024];
    snprintf(text, sizeof text,
             "sources:\n"
             "  a: {type: files, paths: [%s/src0], tags: [nightly]}\n"
             "  broken: {type: command, command: [false]}\n"
             "  b: {type: files, paths: [%s/src1]}\n",
             f->dir, f->dir);
    if (config_load_buffer("test.yaml", text, strlen(text), &f->cfg, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    repo_free(f->repo);
    config_free(&f->cfg);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

struct seen {
    size_t calls, failures, started;
    char failed_name[64];
};

static struct progress *count_start(void *ctx, const struct config_source *src)
{
    (void)src;
    ((struct seen *)ctx)->started++;
    return NULL;
}

static void count_done(void *ctx, const struct config_source *src, const struct snapshot *snap,
                       const struct error *err)
{
    struct seen *s = ctx;
    s->calls++;
    if (!snap) {
        s->failures++;
        snprintf(s->failed_name, sizeof s->failed_name, "%s", src->name);
        assert_non_null(err);
        assert_true(err->msg[0] != '\0');
    }
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static const struct snapshot *find_snapshot(const struct snapshot_list *list, const char *source)
{
    for (size_t i = 0; i < list->count; i++)
        if (!strcmp(list->items[i].source, source))
            return &list->items[i];
    return NULL;
}

/* Every configured source is tried; the failing one does not stop the
 * others; the saved ones share one run id, carry their source's tags,
 * and restore byte for byte. */
static void test_backup_sources_runs_every_source(void **state)
{
    struct fixture *f = *state;
    struct backup_options base = {0};
    struct seen seen = {0};
    struct backup_run run = {.base = &base, .start = count_start, .done = count_done, .ctx = &seen};
    struct error err;
    assert_int_equal(ops_backup_sources(f->repo, &f->cfg, NULL, 0, &run, &err), 0);
    assert_int_equal(seen.calls, 3);
    assert_int_equal(seen.started, 3);
    assert_int_equal(seen.failures, 1);
    assert_string_equal(seen.failed_name, "broken");
    assert_int_equal(run.saved, 2);
    assert_int_equal(run.failed, 1);
    assert_int_equal(strlen(run.run), 16);

    struct snapshot_list list = {0};
    assert_int_equal(snapshot_list_load(f->repo, &list, &err), 0);
    assert_int_equal(list.count, 2);
    const struct snapshot *a = find_snapshot(&list, "a"), *b = find_snapshot(&list, "b");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->run, run.run);
    assert_string_equal(b->run, run.run);
    assert_true(string_list_has(&a->tags, "nightly"));
    assert_false(string_list_has(&b->tags, "nightly"));

    char target[256], restored[512], original[256];
    snprintf(target, sizeof target, "%s/restore-a", f->dir);
    struct progress quiet;
    progress_init(&quiet, "restore", true, false);
    struct restore_options ro = {.target = target, .progress = &quiet};
    struct string_list failures = {0};
    assert_int_equal(ops_restore(f->repo, a, &ro, &failures, &err), 0);
    snprintf(restored, sizeof restored, "%s%s/src0/data.bin", target, f->dir);
    snprintf(original, sizeof original, "%s/src0/data.bin", f->dir);
    assert_true(files_equal(restored, original));
    string_list_free(&failures);
    snapshot_list_free(&list);

    /* Named sources only, and a name the file lacks is refused up front. */
    char *names[] = {"b"};
    assert_int_equal(ops_backup_sources(f->repo, &f->cfg, names, 1, &run, &err), 0);
    assert_int_equal(run.saved, 1);
    char *unknown[] = {"nosuch"};
    assert_int_equal(ops_backup_sources(f->repo, &f->cfg, unknown, 1, &run, &err), -1);
    assert_non_null(strstr(err.msg, "nosuch"));
}

static bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Deletes one pack file of the repository. */
static void delete_a_pack(const char *repo_dir)
{
    char data[256];
    snprintf(data, sizeof data, "%s/data", repo_dir);
    DIR *top = opendir(data);
    assert_non_null(top);
    struct dirent *d;
    bool done = false;
    while (!done && (d = readdir(top))) {
        if (d->d_name[0] == '.')
            continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", data, d->d_name);
        DIR *inner = opendir(sub);
        struct dirent *p;
        while (inner && !done && (p = readdir(inner))) {
            if (p->d_name[0] == '.')
                continue;
            char pack[1024];
            snprintf(pack, sizeof pack, "%s/%s", sub, p->d_name);
            assert_int_equal(unlink(pack), 0);
            done = true;
        }
        if (inner)
            closedir(inner);
    }
    closedir(top);
    assert_true(done);
}

/* Backs up the fixture's source "a" alone. */
static void back_up_source_a(struct fixture *f)
{
    struct backup_options base = {0};
    struct backup_run run = {.base = &base};
    struct error err;
    char *names[] = {"a"};
    assert_int_equal(ops_backup_sources(f->repo, &f->cfg, names, 1, &run, &err), 0);
}

/* A drill passes on an intact snapshot, removes its scratch directory and
 * records its event; once a pack is gone it fails, and keep_on_failure
 * keeps the scratch directory and names it in the event. */
static void test_drill_job_cleans_up_and_records(void **state)
{
    struct fixture *f = *state;
    struct error err;
    back_up_source_a(f);
    struct snapshot_list list = {0};
    assert_int_equal(snapshot_list_load(f->repo, &list, &err), 0);
    const struct snapshot *a = find_snapshot(&list, "a");

    static volatile sig_atomic_t stop;
    setenv("TMPDIR", f->dir, 1);
    const struct config_drill plain = {0}, keep = {.is_set = true, .keep_on_failure = true};
    struct drill_job job = {.snap = a, .src = config_find_source(&f->cfg, "a"), .settings = &plain, .stop = &stop};
    assert_int_equal(ops_drill_job(f->repo, &job, &err), 0);
    assert_true(job.is_ok);
    assert_true(json_is_true(json_object_get(job.doc, "ok")));
    assert_false(dir_exists(job.scratch_dir));
    ops_drill_job_free(&job);

    struct event_list events = {0};
    assert_int_equal(event_list_load(f->repo, "drill", &events, &err), 0);
    assert_int_equal(events.count, 1);
    assert_string_equal(json_string_value(json_object_get(events.items[0].doc, "source")), "a");
    event_list_free(&events);

    delete_a_pack(f->repo_dir);
    repo_drop_index(f->repo);
    job = (struct drill_job){.snap = a, .settings = &plain, .stop = &stop};
    assert_int_equal(ops_drill_job(f->repo, &job, &err), 0);
    assert_false(job.is_ok);
    assert_false(dir_exists(job.scratch_dir));
    ops_drill_job_free(&job);

    job = (struct drill_job){.snap = a, .settings = &keep, .stop = &stop};
    assert_int_equal(ops_drill_job(f->repo, &job, &err), 0);
    assert_false(job.is_ok);
    assert_true(dir_exists(job.scratch_dir));
    assert_string_equal(json_string_value(json_object_get(job.doc, "kept")), job.scratch_dir);
    test_remove_tree(job.scratch_dir);
    ops_drill_job_free(&job);

    assert_int_equal(event_list_load(f->repo, "drill", &events, &err), 0);
    assert_int_equal(events.count, 3);
    event_list_free(&events);
    snapshot_list_free(&list);
    unsetenv("TMPDIR"); /* it named the fixture's directory, which teardown removes */
}

/* Policies from coffer.yaml: a source's own, else the top-level one;
 * flags for everyone; neither: a usage error. */
static void test_retention_plan_resolves_policies(void **state)
{
    (void)state;
    const char *text = "retention: {daily: 3}\n"
                       "sources:\n"
                       "  a: {type: files, paths: [/a], retention: {last: 1, within: 2d}}\n"
                       "  b: {type: files, paths: [/b]}\n";
    struct config cfg;
    struct error err;
    assert_int_equal(config_load_buffer("r.yaml", text, strlen(text), &cfg, &err), 0);
    struct retention_plan plan;
    assert_int_equal(ops_retention_plan_init(&plan, &cfg, NULL, &err), 0);
    const struct retention_policy *a = ops_retention_policy_for(&plan, "a"), *b = ops_retention_policy_for(&plan, "b");
    assert_int_equal(a->counts[KEEP_LAST], 1);
    assert_int_equal(a->within_seconds, 2 * 86400);
    assert_int_equal(a->counts[KEEP_DAILY], 0);
    assert_int_equal(b->counts[KEEP_DAILY], 3);
    assert_ptr_equal(ops_retention_policy_for(&plan, "gone"), b); /* in the repository only: the top level */
    ops_retention_plan_free(&plan);

    struct retention_policy flags = {0};
    flags.counts[KEEP_WEEKLY] = 5;
    assert_int_equal(ops_retention_plan_init(&plan, &cfg, &flags, &err), 0);
    assert_int_equal(ops_retention_policy_for(&plan, "a")->counts[KEEP_WEEKLY], 5);
    ops_retention_plan_free(&plan);
    config_free(&cfg);

    text = "sources:\n  a: {type: files, paths: [/a]}\n";
    assert_int_equal(config_load_buffer("r.yaml", text, strlen(text), &cfg, &err), 0);
    assert_int_equal(ops_retention_plan_init(&plan, &cfg, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, "no policy"));
    assert_int_equal(ops_retention_plan_init(&plan, NULL, NULL, &err), -1);
    config_free(&cfg);
}

/* A check of one source: clean and recorded; after a pack is deleted,
 * damage found, named and recorded, and no stale locks to report. */
static void test_check_job_records_and_judges(void **state)
{
    struct fixture *f = *state;
    struct error err;
    back_up_source_a(f);

    json_t *locks = ops_check_stale_locks(f->repo);
    assert_int_equal(json_array_size(locks), 0);
    struct check_job job = {.source = "a", .cfg = &f->cfg, .stale_locks = locks};
    assert_int_equal(ops_check_job(f->repo, &job, &err), 0);
    assert_false(job.is_damaged);
    assert_true(job.is_judged);
    assert_int_equal(job.health.sources_judged, 1);
    assert_int_equal(job.result.snapshots, 1);
    assert_int_equal(json_array_size(job.damage), 0);
    assert_true(json_is_true(json_object_get(job.doc, "ok")));
    ops_check_job_free(&job);

    delete_a_pack(f->repo_dir);
    repo_drop_index(f->repo);
    job = (struct check_job){.source = "a", .cfg = &f->cfg, .stale_locks = locks};
    assert_int_equal(ops_check_job(f->repo, &job, &err), 0);
    assert_true(job.is_damaged);
    assert_true(json_array_size(job.damage) > 0);
    assert_true(job.damage_err.msg[0] != '\0');
    /* The missing pack is an object naming it, and the one snapshot,
     * which is also a problem of its own. */
    json_t *first = json_array_get(job.damage, 0), *last = json_array_get(job.damage, json_array_size(job.damage) - 1);
    char snapshot_hex[65];
    snapshot_id_hex(&job.snapshots.items[0], snapshot_hex);
    assert_string_equal(json_string_value(json_object_get(first, "kind")), "pack_missing");
    assert_int_equal(strlen(json_string_value(json_object_get(first, "pack"))), 64);
    assert_true(json_is_null(json_object_get(first, "blob")));
    assert_int_equal(json_array_size(json_object_get(first, "snapshots")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(first, "snapshots"), 0)), snapshot_hex);
    assert_non_null(strstr(json_string_value(json_object_get(first, "what")), "missing"));
    assert_string_equal(json_string_value(json_object_get(last, "kind")), "snapshot");
    assert_string_equal(json_string_value(json_array_get(json_object_get(last, "snapshots"), 0)), snapshot_hex);
    assert_int_equal(job.result.problem_count, json_array_size(job.damage));
    assert_true(json_is_false(json_object_get(job.doc, "ok")));
    ops_check_job_free(&job);
    json_decref(locks);

    struct event_list events = {0};
    assert_int_equal(event_list_load(f->repo, "check", &events, &err), 0);
    assert_int_equal(events.count, 2);
    event_list_free(&events);
}

/* A changed passphrase opens the repository and the old one no longer
 * does; a second key can be added and removed by its id prefix; the key
 * in use cannot be removed. */
static void test_key_rotation(void **state)
{
    struct fixture *f = *state;
    char name[KEY_NAME_MAX], second[KEY_NAME_MAX], removed[KEY_NAME_MAX];
    struct error err;
    assert_int_equal(repo_key_add(f->repo, "new pass", "testonly", true, name, &err), 0);
    struct repo *again = NULL;
    assert_int_equal(repo_open(f->repo_dir, NULL, "new pass", &again, &err), 0);
    repo_free(again);
    again = NULL;
    assert_int_equal(repo_open(f->repo_dir, NULL, "pw", &again, &err), -1);
    assert_int_equal(err.kind, ERR_PASSPHRASE);

    assert_int_equal(repo_key_add(f->repo, "second", "testonly", false, second, &err), 0);
    assert_int_equal(repo_open(f->repo_dir, NULL, "second", &again, &err), 0);
    repo_free(again);
    assert_int_equal(repo_key_remove(f->repo, repo_key_id(name), removed, &err), -1); /* in use */
    assert_int_equal(repo_key_remove(f->repo, "zzzz", removed, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", repo_key_id(second));
    assert_int_equal(repo_key_remove(f->repo, prefix, removed, &err), 0);
    assert_string_equal(removed, second);
    again = NULL;
    assert_int_equal(repo_open(f->repo_dir, NULL, "second", &again, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_sources_runs_every_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drill_job_cleans_up_and_records, setup, teardown),
        cmocka_unit_test(test_retention_plan_resolves_policies),
        cmocka_unit_test_setup_teardown(test_check_job_records_and_judges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
