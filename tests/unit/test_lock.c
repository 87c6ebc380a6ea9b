/*
 * test_lock.c — repository locks: shared locks coexist, an exclusive lock
 * is refused while another lock lives and names its holder, a lock left by
 * a process that is gone is cleared, and unlocking removes the lock object.
 * On a local directory (atomic creates) the exclusive lock is the one
 * object locks/eeee…: a second exclusive or a shared locker is refused
 * while it lives, it is gone after unlocking, and a holder that died or
 * stopped refreshing it (older than LOCK_STALE_SECONDS) is taken over,
 * while a live holder's is left alone, even by our own unlock. Which
 * locks count as certainly gone: ours (boot id and pid namespace) with a
 * dead pid, or this machine's (host name and machine id) of another boot;
 * not another machine's with our host name, not another pid namespace's,
 * not an older coffer's without these fields. A lock that does not open
 * or parse refuses every locker; one the store fails to return leaves the
 * exclusive locker not alone; one that vanished is skipped. Racing
 * takeovers of a stale exclusive object leave one holder; a takeover
 * under way (its marker) refuses others until its marker expires.
 * repo_lock_check and repo_lock_refresh see a lock removed or taken over
 * while its holder was stopped, and a refresh never writes over another
 * holder's object. Where creates are not atomic the exclusive lock is an
 * object of its own id that refuses others just the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "repo/lock.h"
#include "repo/repo.h"
#include "store/store_int.h"
#include "util/text.h"
#include "testing.h"

struct fixture {
    char dir[64];
    struct repo *repo;
};

static int setup(void **state)
{
    struct error err = {0};
    struct fixture *f = calloc(1, sizeof *f);
    if (crypto_init(&err) < 0 || test_make_tmpdir(f->dir) < 0)
        return -1;
    char repo_dir[128];
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", f->dir);
    struct repo_init_options opts = {.kdf_level = KDF_LEVEL_TESTONLY};
    repo_config_defaults(&opts.config);
    if (repo_init(repo_dir, "pw", &opts, &err) < 0 || repo_open(repo_dir, NULL, "pw", &f->repo, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    repo_free(f->repo);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static int count_locks(void *ctx, const char *name, uint64_t size, struct error *err)
{
    (*(int *)ctx)++;
    return 0;
}

static int lock_count(struct repo *repo)
{
    int n = 0;
    struct error err;
    store_list(repo_store(repo), "locks", count_locks, &n, &err);
    return n;
}

/* This process's identity as a lock records it, read here independently
 * of lock.c: the first line of a file (empty if unreadable), and the pid
 * namespace's inode (0 if unknown). */
static void first_line(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f && !fgets(out, (int)size, f))
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    if (f)
        fclose(f);
}

static void our_boot(char out[64])
{
    first_line("/proc/sys/kernel/random/boot_id", out, 64);
}

static void our_machine(char out[64])
{
    first_line("/etc/machine-id", out, 64);
    if (!out[0])
        first_line("/var/lib/dbus/machine-id", out, 64);
}

static json_int_t our_pidns(void)
{
    char link[64] = "";
    ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
    link[n > 0 ? n : 0] = '\0';
    return strncmp(link, "pid:[", 5) == 0 ? (json_int_t)strtoull(link + 5, NULL, 10) : 0;
}

/* A pid that runs no process: a child's, once it has exited. */
static int dead_pid(void)
{
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    return (int)child;
}

/* Seals text as the lock object id (a random id if id is NULL). */
static void put_lock_text(struct repo *repo, const char *text, size_t len, uint8_t id_out[CRYPTO_ID_SIZE])
{
    uint8_t id[CRYPTO_ID_SIZE];
    struct error err;
    crypto_random(id, sizeof id);
    assert_int_equal(repo_put_object(repo, OBJ_LOCK, id, text, len, &err), 0);
    if (id_out)
        memcpy(id_out, id, CRYPTO_ID_SIZE);
}

/* Writes doc as a lock object of another process (random id); takes doc. */
static void put_lock_doc(struct repo *repo, json_t *doc, uint8_t id_out[CRYPTO_ID_SIZE])
{
    char *text = json_dumps(doc, JSON_COMPACT);
    put_lock_text(repo, text, strlen(text), id_out);
    free(text);
    json_decref(doc);
}

/* A lock of another process of this machine, this boot and this pid
 * namespace, written now, as the current coffer writes them. */
static json_t *local_lock_doc(int pid, bool is_exclusive, int64_t when)
{
    char host[64], text_time[32], boot[64], machine[64];
    gethostname(host, sizeof host);
    our_boot(boot);
    our_machine(machine);
    time_format_rfc3339(when, text_time);
    return json_pack("{s:s, s:s, s:i, s:b, s:s, s:s, s:s, s:I}", "time", text_time, "host", host, "pid", pid,
                     "exclusive", is_exclusive, "nonce", "00112233445566778899aabbccddeeff", "boot", boot,
                     "machine", machine, "pidns", our_pidns());
}

/* Writes a lock object as another process of this machine would have. */
static void plant_lock(struct repo *repo, int pid, bool is_exclusive)
{
    put_lock_doc(repo, local_lock_doc(pid, is_exclusive, (int64_t)time(NULL)), NULL);
}

static bool has_lock(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE])
{
    char name[96];
    uint64_t size;
    struct error err;
    repo_object_name(OBJ_LOCK, id, name);
    return store_size(repo_store(repo), name, &size, &err) == 0;
}

/* The exclusive lock object's name where creates are atomic: 64 'e's. */
static void exclusive_name(char out[96])
{
    char hex[2 * CRYPTO_ID_SIZE + 1];
    memset(hex, 'e', 2 * CRYPTO_ID_SIZE);
    hex[2 * CRYPTO_ID_SIZE] = '\0';
    snprintf(out, 96, "locks/%s", hex);
}

static void exclusive_id(uint8_t id[CRYPTO_ID_SIZE])
{
    memset(id, 0xee, CRYPTO_ID_SIZE);
}

/* Writes the exclusive lock object as a holder with this pid, host, time
 * and nonce would have (sealed, through the repository). */
static void plant_exclusive(struct repo *repo, int pid, const char *host, int64_t when, const char *nonce)
{
    char text_time[32];
    time_format_rfc3339(when, text_time);
    json_t *doc = json_pack("{s:s, s:s, s:i, s:b, s:s}", "time", text_time, "host", host, "pid", pid,
                            "exclusive", 1, "nonce", nonce);
    char *text = json_dumps(doc, JSON_COMPACT);
    uint8_t id[CRYPTO_ID_SIZE];
    struct error err;
    exclusive_id(id);
    assert_int_equal(repo_put_object(repo, OBJ_LOCK, id, text, strlen(text), &err), 0);
    free(text);
    json_decref(doc);
}

/* What repo_locks_list reported. */
struct infos {
    struct lock_info info[8];
    size_t count;
};

static void remember_info(void *ctx, const struct lock_info *info)
{
    struct infos *infos = ctx;
    if (infos->count < 8)
        infos->info[infos->count] = *info;
    infos->count++;
}

/* The one lock the repository holds; fails the test unless exactly one. */
static struct lock_info only_lock(struct repo *repo)
{
    struct infos infos = {0};
    struct error err = {0};
    assert_int_equal(repo_locks_list(repo, remember_info, &infos, &err), 0);
    assert_int_equal(infos.count, 1);
    return infos.info[0];
}

static bool has_object(struct repo *repo, const char *name)
{
    uint64_t size;
    struct error err;
    return store_size(repo_store(repo), name, &size, &err) == 0;
}

static bool is_exclusive_id(const uint8_t id[CRYPTO_ID_SIZE])
{
    for (size_t i = 0; i < CRYPTO_ID_SIZE; i++)
        if (id[i] != 0xee)
            return false;
    return true;
}

/* Two shared locks coexist; unlocking removes both objects. */
static void test_lock_shared_locks_coexist(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *a = NULL, *b = NULL;

    assert_int_equal(repo_lock(f->repo, false, &a, &err), 0);
    assert_int_equal(repo_lock(f->repo, false, &b, &err), 0);
    assert_int_equal(lock_count(f->repo), 2);

    repo_unlock(a);
    repo_unlock(b);
    assert_int_equal(lock_count(f->repo), 0);
}

/* An exclusive lock is refused while a live process holds a shared one,
 * with ERR_LOCKED and a message naming the holder's pid. */
static void test_lock_exclusive_refused_while_shared_held(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    plant_lock(f->repo, getppid(), false); /* a live process, not us */

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), -1);

    assert_int_equal(err.kind, ERR_LOCKED);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getppid());
    assert_non_null(strstr(err.msg, pid));
    assert_int_equal(lock_count(f->repo), 1); /* ours was taken back */
}

/* A lock left by a process that no longer runs does not block an
 * exclusive lock, and is removed. */
static void test_lock_orphan_is_cleared(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0); /* its pid is now free: nobody runs under it */
    plant_lock(f->repo, (int)child, true);

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    assert_int_equal(lock_count(f->repo), 1); /* only ours */
    repo_unlock(excl);
    assert_int_equal(lock_count(f->repo), 0);
}

/* On a local directory an exclusive lock is the object locks/eeee… (64
 * hex digits), saying it is exclusive, our pid and a 32-digit nonce. */
static void test_lock_exclusive_is_the_well_known_object(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    char name[96];
    exclusive_name(name);
    assert_true(store_has_atomic_create(repo_store(f->repo)));

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    assert_true(has_object(f->repo, name));
    assert_int_equal(lock_count(f->repo), 1);
    struct lock_info info = only_lock(f->repo);
    assert_true(is_exclusive_id(info.id));
    assert_true(info.is_exclusive);
    assert_int_equal(info.pid, (int)getpid());
    assert_int_equal(strlen(info.nonce), 32);
    assert_true(is_hex(info.nonce));
    assert_false(info.is_orphaned);
    assert_false(info.is_expired);
    repo_unlock(excl);
}

/* A second exclusive lock is refused with ERR_LOCKED naming the holder's
 * pid, and the holder's object is left as it was. */
static void test_lock_second_exclusive_refused(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *first = NULL, *second = NULL;
    assert_int_equal(repo_lock(f->repo, true, &first, &err), 0);
    struct lock_info before = only_lock(f->repo);

    assert_int_equal(repo_lock(f->repo, true, &second, &err), -1);

    assert_int_equal(err.kind, ERR_LOCKED);
    assert_null(second);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getpid());
    assert_non_null(strstr(err.msg, pid));
    assert_non_null(strstr(err.msg, "exclusive"));
    struct lock_info after = only_lock(f->repo);
    assert_string_equal(after.nonce, before.nonce);
    repo_unlock(first);
}

/* A shared lock is refused while the exclusive object lives, and leaves
 * no object of its own behind. */
static void test_lock_shared_refused_while_exclusive_held(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL, *shared = NULL;
    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    assert_int_equal(repo_lock(f->repo, false, &shared, &err), -1);

    assert_int_equal(err.kind, ERR_LOCKED);
    assert_null(shared);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getpid());
    assert_non_null(strstr(err.msg, pid));
    assert_int_equal(lock_count(f->repo), 1);
    assert_true(is_exclusive_id(only_lock(f->repo).id));
    repo_unlock(excl);
}

/* Unlocking removes the exclusive object; the lock can then be taken
 * again, and a shared one too once that is released. */
static void test_lock_exclusive_again_after_unlock(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL, *shared = NULL;
    char name[96];
    exclusive_name(name);
    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);
    char first_nonce[33];
    snprintf(first_nonce, sizeof first_nonce, "%s", only_lock(f->repo).nonce);

    repo_unlock(excl);

    assert_false(has_object(f->repo, name));
    assert_int_equal(lock_count(f->repo), 0);
    excl = NULL;
    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);
    assert_string_not_equal(only_lock(f->repo).nonce, first_nonce); /* a new lock, not the old object */
    repo_unlock(excl);
    assert_int_equal(repo_lock(f->repo, false, &shared, &err), 0);
    repo_unlock(shared);
    assert_int_equal(lock_count(f->repo), 0);
}

/* An exclusive lock taken by a process that then died without unlocking
 * is taken over by the next exclusive locker. */
static void test_lock_exclusive_of_dead_process_taken_over(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct repo_lock *theirs = NULL;
        struct error child_err = {0};
        _exit(repo_lock(f->repo, true, &theirs, &child_err) == 0 ? 0 : 1); /* dies holding it */
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct lock_info dead = only_lock(f->repo);
    assert_true(is_exclusive_id(dead.id));
    assert_int_equal(dead.pid, (int)child);
    assert_true(dead.is_orphaned);

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    struct lock_info now = only_lock(f->repo);
    assert_true(is_exclusive_id(now.id));
    assert_int_equal(now.pid, (int)getpid());
    assert_string_not_equal(now.nonce, dead.nonce);
    repo_unlock(excl);
    assert_int_equal(lock_count(f->repo), 0);
}

/* An exclusive object not refreshed for longer than LOCK_STALE_SECONDS is
 * taken over, even though its process (our parent) still runs. */
static void test_lock_expired_exclusive_taken_over(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    char host[64];
    gethostname(host, sizeof host);
    plant_exclusive(f->repo, (int)getppid(), host, (int64_t)time(NULL) - LOCK_STALE_SECONDS - 60,
                    "0123456789abcdef0123456789abcdef");
    struct lock_info old = only_lock(f->repo);
    assert_true(old.is_expired);
    assert_false(old.is_orphaned);

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    struct lock_info now = only_lock(f->repo);
    assert_int_equal(now.pid, (int)getpid());
    assert_string_not_equal(now.nonce, "0123456789abcdef0123456789abcdef");
    assert_false(now.is_expired);
    repo_unlock(excl);
    assert_int_equal(lock_count(f->repo), 0);
}

/* An expired exclusive object of another host is taken over too: the
 * exclusive locker is the one allowed to clear expired locks. */
static void test_lock_expired_exclusive_of_other_host_taken_over(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    plant_exclusive(f->repo, 4242, "some-other-host", (int64_t)time(NULL) - LOCK_STALE_SECONDS - 60,
                    "0123456789abcdef0123456789abcdef");

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    assert_int_equal(only_lock(f->repo).pid, (int)getpid());
    repo_unlock(excl);
}

/* A live holder's fresh exclusive object is not taken over: refused with
 * ERR_LOCKED naming it, and the object is left as it was. */
static void test_lock_live_exclusive_not_taken_over(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL, *shared = NULL;
    char host[64];
    gethostname(host, sizeof host);
    /* Just inside the stale limit: still fresh. */
    plant_exclusive(f->repo, (int)getppid(), host, (int64_t)time(NULL) - LOCK_STALE_SECONDS + 120,
                    "0123456789abcdef0123456789abcdef");

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), -1);
    assert_int_equal(err.kind, ERR_LOCKED);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getppid());
    assert_non_null(strstr(err.msg, pid));
    assert_int_equal(repo_lock(f->repo, false, &shared, &err), -1);
    assert_int_equal(err.kind, ERR_LOCKED);

    struct lock_info still = only_lock(f->repo);
    assert_string_equal(still.nonce, "0123456789abcdef0123456789abcdef");
    assert_int_equal(still.pid, (int)getppid());
}

/* Unlocking does not remove the exclusive object once another holder's
 * has taken its name (ours was cleared as stale meanwhile). */
static void test_lock_unlock_leaves_another_holders_object(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    char host[64], name[96];
    gethostname(host, sizeof host);
    exclusive_name(name);
    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);
    plant_exclusive(f->repo, (int)getppid(), host, (int64_t)time(NULL), "fedcba9876543210fedcba9876543210");

    repo_unlock(excl);

    assert_true(has_object(f->repo, name));
    assert_string_equal(only_lock(f->repo).nonce, "fedcba9876543210fedcba9876543210");
}

/* An exclusive lock taken beside the expired lock doc describes (dead
 * pid, written long ago): it must be taken, and whether the other's
 * process counts as certainly gone shows in is_alone and in whether its
 * object is still there. */
static bool is_judged_gone(struct repo *repo, json_t *doc, const char **other_out)
{
    struct error err = {0};
    struct repo_lock *excl = NULL;
    uint8_t id[CRYPTO_ID_SIZE];
    put_lock_doc(repo, doc, id);
    assert_int_equal(repo_lock(repo, true, &excl, &err), 0);
    const char *other = NULL;
    bool is_alone = repo_lock_is_alone(excl, &other);
    static char seen[256];
    snprintf(seen, sizeof seen, "%s", other ? other : "");
    if (other_out)
        *other_out = seen;
    repo_unlock(excl);
    assert_int_equal(has_lock(repo, id), !is_alone); /* removed if and only if gone */
    return is_alone;
}

static int64_t long_ago(void)
{
    return (int64_t)time(NULL) - LOCK_STALE_SECONDS - 60;
}

/* Two machines with the same host name (cloned VMs, "raspberrypi") have
 * different boot ids: a lock of the other, with another machine id, is
 * not one of another boot of ours, so its process may still run. */
static void test_lock_same_host_name_other_machine_may_run(void **state)
{
    struct fixture *f = *state;
    json_t *doc = local_lock_doc(dead_pid(), false, long_ago());
    json_object_set_new(doc, "boot", json_string("00000000-1111-2222-3333-444444444444"));
    json_object_set_new(doc, "machine", json_string("0123456789abcdef0123456789abcdef"));
    const char *other = NULL;

    assert_false(is_judged_gone(f->repo, doc, &other));

    assert_non_null(strstr(other, "pid"));
}

/* A lock of an older coffer (no machine id) with our host name and another
 * boot id may be another machine's: it may still run. */
static void test_lock_other_boot_without_machine_id_may_run(void **state)
{
    struct fixture *f = *state;
    json_t *doc = local_lock_doc(dead_pid(), false, long_ago());
    json_object_set_new(doc, "boot", json_string("00000000-1111-2222-3333-444444444444"));
    json_object_del(doc, "machine");
    json_object_del(doc, "pidns");

    assert_false(is_judged_gone(f->repo, doc, NULL));
}

/* Our host name and machine id with another boot id: written before this
 * machine last booted, certainly gone (even though it is fresh, and its
 * pid runs a process now: our parent's). */
static void test_lock_same_machine_other_boot_is_gone(void **state)
{
    struct fixture *f = *state;
    char machine[64];
    our_machine(machine);
    if (!machine[0])
        skip(); /* no machine id here: nothing is "another boot of ours" */
    json_t *doc = local_lock_doc((int)getppid(), false, (int64_t)time(NULL));
    json_object_set_new(doc, "boot", json_string("00000000-1111-2222-3333-444444444444"));

    assert_true(is_judged_gone(f->repo, doc, NULL));
}

/* On our kernel but in another pid namespace (a container with the host's
 * network and name): its pid means nothing here, so a pid that runs no
 * process here says nothing: it may still run. */
static void test_lock_other_pid_namespace_may_run(void **state)
{
    struct fixture *f = *state;
    json_t *doc = local_lock_doc(dead_pid(), false, long_ago());
    json_object_set_new(doc, "pidns", json_integer(our_pidns() + 1));

    assert_false(is_judged_gone(f->repo, doc, NULL));
}

/* A lock of our boot that does not say its pid namespace (older coffer)
 * may still run, whatever its pid. */
static void test_lock_unknown_pid_namespace_may_run(void **state)
{
    struct fixture *f = *state;
    json_t *doc = local_lock_doc(dead_pid(), false, long_ago());
    json_object_del(doc, "pidns");

    assert_false(is_judged_gone(f->repo, doc, NULL));
}

/* Our boot and our pid namespace, and its pid runs no process: gone, and
 * the exclusive locker is alone. */
static void test_lock_same_namespace_dead_pid_is_gone(void **state)
{
    struct fixture *f = *state;

    assert_true(is_judged_gone(f->repo, local_lock_doc(dead_pid(), false, long_ago()), NULL));
}

/* A lock whose process may still run keeps repo_locks_list's is_orphaned
 * false, so `coffer unlock` keeps it too (until it expires). */
static void test_lock_listing_keeps_other_machines_lock(void **state)
{
    struct fixture *f = *state;
    json_t *doc = local_lock_doc(dead_pid(), false, (int64_t)time(NULL));
    json_object_set_new(doc, "boot", json_string("00000000-1111-2222-3333-444444444444"));
    json_object_set_new(doc, "machine", json_string("0123456789abcdef0123456789abcdef"));
    put_lock_doc(f->repo, doc, NULL);

    struct lock_info info = only_lock(f->repo);

    assert_false(info.is_orphaned);
    assert_string_equal(info.machine, "0123456789abcdef0123456789abcdef");
}

/* A lock object that is there but cannot be parsed may be a live lock
 * (of another coffer version, maybe a prune): neither an exclusive nor a
 * shared lock is taken beside it; ERR_LOCKED names the object and says
 * what to do; the object is left. */
static void refuse_beside(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct error err = {0};
    struct repo_lock *lock = NULL;
    char name[96];
    repo_object_name(OBJ_LOCK, id, name);
    for (int is_exclusive = 0; is_exclusive < 2; is_exclusive++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(repo_lock(repo, is_exclusive, &lock, &err), -1);
        assert_int_equal(err.kind, ERR_LOCKED);
        assert_non_null(strstr(err.msg, name));
        assert_non_null(strstr(err.msg, "coffer unlock"));
    }
    assert_true(has_lock(repo, id));
    assert_int_equal(lock_count(repo), 1); /* ours were taken back */
}

static void test_lock_garbage_lock_is_a_conflict(void **state)
{
    struct fixture *f = *state;
    uint8_t id[CRYPTO_ID_SIZE];
    put_lock_text(f->repo, "this is not JSON {", 18, id);

    refuse_beside(f->repo, id);
}

static void test_lock_other_versions_lock_is_a_conflict(void **state)
{
    struct fixture *f = *state;
    uint8_t id[CRYPTO_ID_SIZE];
    put_lock_doc(f->repo, json_pack("{s:i, s:s}", "version", 9, "holder", "pid 12 on vm"), id);

    refuse_beside(f->repo, id);
}

static void test_lock_unsealed_lock_is_a_conflict(void **state)
{
    struct fixture *f = *state;
    uint8_t id[CRYPTO_ID_SIZE], junk[100];
    char name[96];
    struct error err;
    crypto_random(id, sizeof id);
    crypto_random(junk, sizeof junk);
    repo_object_name(OBJ_LOCK, id, name);
    assert_int_equal(store_put(repo_store(f->repo), name, junk, sizeof junk, &err), 0);

    refuse_beside(f->repo, id);
}

/* A store whose get of one lock fails (with a given kind), for the tests
 * of read failures: the local driver but for that. */
static struct store_driver failing_driver;
static const struct store_driver *real_driver;
static char failing_name[96];
static enum error_kind failing_kind;

static int failing_get(void *impl, const char *name, uint64_t offset, uint64_t len, struct buf *out,
                       struct error *err)
{
    if (strcmp(name, failing_name) == 0)
        return failing_kind == ERR_NOT_FOUND ? error_setk(err, ERR_NOT_FOUND, "%s: no such object", name)
                                             : error_setk(err, failing_kind, "GET %s: timed out", name);
    return real_driver->get(impl, name, offset, len, out, err);
}

static void fail_gets_of(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], enum error_kind kind)
{
    real_driver = repo_store(repo)->driver;
    failing_driver = *real_driver;
    failing_driver.get = failing_get;
    repo_object_name(OBJ_LOCK, id, failing_name);
    failing_kind = kind;
    repo_store(repo)->driver = &failing_driver;
}

static void restore_driver(struct repo *repo)
{
    repo_store(repo)->driver = real_driver;
}

/* A lock the store fails to return (timeout, 5xx, refused: not "not
 * found") may be any lock: the exclusive locker is not alone, and says
 * which lock it could not read. */
static void test_lock_failed_read_is_not_alone(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    uint8_t id[CRYPTO_ID_SIZE];
    put_lock_doc(f->repo, local_lock_doc((int)getppid(), false, (int64_t)time(NULL)), id);
    const enum error_kind kinds[] = {ERR_GENERIC, ERR_AUTH};
    for (size_t k = 0; k < 2; k++) {
        fail_gets_of(f->repo, id, kinds[k]);

        int rc = repo_lock(f->repo, true, &excl, &err);

        assert_int_equal(rc, 0);
        const char *other = NULL;
        assert_false(repo_lock_is_alone(excl, &other));
        assert_non_null(strstr(other, failing_name));
        repo_unlock(excl);
        restore_driver(f->repo);
        assert_true(has_lock(f->repo, id));
    }
}

/* A lock that vanished between the listing and the read (not found) is
 * one being removed: skipped, the exclusive locker is alone. */
static void test_lock_vanished_lock_is_skipped(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    uint8_t id[CRYPTO_ID_SIZE];
    put_lock_doc(f->repo, local_lock_doc((int)getppid(), false, (int64_t)time(NULL)), id);
    fail_gets_of(f->repo, id, ERR_NOT_FOUND);

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    assert_true(repo_lock_is_alone(excl, NULL));
    repo_unlock(excl);
    restore_driver(f->repo);
}

/* Several processes take the exclusive lock at once over an expired
 * holder's object: at most one of them may hold it. (Before take_sole
 * serialized takeovers with a marker per stale nonce, 4 processes over an
 * expired object gave two holders at once in 4 to 8 rounds of 200.) */
#define RACE_LOCKERS 4
#define RACE_ROUNDS 200

static void test_lock_stale_takeover_race_has_one_holder(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    char host[64], name[96];
    gethostname(host, sizeof host);
    exclusive_name(name);
    int rounds_with_two = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        plant_exclusive(f->repo, (int)getppid(), host, (int64_t)time(NULL) - LOCK_STALE_SECONDS - 60,
                        "0123456789abcdef0123456789abcdef");
        int start[2], result[2], release[2];
        assert_int_equal(pipe(start), 0);
        assert_int_equal(pipe(result), 0);
        assert_int_equal(pipe(release), 0);
        pid_t kids[RACE_LOCKERS];
        for (int k = 0; k < RACE_LOCKERS; k++) {
            kids[k] = fork();
            assert_true(kids[k] >= 0);
            if (kids[k] == 0) { /* no cmocka asserts in here */
                char c;
                struct repo_lock *lock = NULL;
                struct error child_err = {0};
                if (read(start[0], &c, 1) != 1)
                    _exit(2);
                int rc = repo_lock(f->repo, true, &lock, &child_err);
                c = rc == 0 ? 'y' : 'n';
                if (write(result[1], &c, 1) != 1 || read(release[0], &c, 1) != 1)
                    _exit(2);
                if (rc == 0)
                    repo_unlock(lock);
                _exit(0);
            }
        }
        char go[RACE_LOCKERS];
        memset(go, 'g', sizeof go);
        assert_int_equal(write(start[1], go, sizeof go), sizeof go);
        int holders = 0;
        for (int k = 0; k < RACE_LOCKERS; k++) {
            char c = 0;
            assert_int_equal(read(result[0], &c, 1), 1);
            holders += c == 'y';
        }
        assert_int_equal(write(release[1], go, sizeof go), sizeof go); /* all hold what they got till now */
        for (int k = 0; k < RACE_LOCKERS; k++) {
            int status = 0;
            assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        for (int i = 0; i < 2; i++) {
            close(start[i]);
            close(result[i]);
            close(release[i]);
        }
        assert_true(holders >= 1);
        rounds_with_two += holders > 1;
        store_delete(repo_store(f->repo), name, &err);
    }
    if (rounds_with_two)
        fail_msg("%d of %d rounds ended with two exclusive holders at once", rounds_with_two, RACE_ROUNDS);
}

/* ---- takeover markers, holding checks, refreshes ---------------------- */

#define STALE_NONCE "0123456789abcdef0123456789abcdef"

/* The marker a process taking over the stale exclusive object of nonce
 * STALE_NONCE creates, written at `when`. */
static void plant_marker(struct repo *repo, int64_t when)
{
    char stamp[32];
    struct error err;
    snprintf(stamp, sizeof stamp, "%lld", (long long)when);
    assert_int_equal(store_put(repo_store(repo), "locks/takeover-" STALE_NONCE, stamp, strlen(stamp), &err), 0);
}

static void plant_stale_exclusive(struct repo *repo)
{
    char host[64];
    gethostname(host, sizeof host);
    plant_exclusive(repo, (int)getppid(), host, (int64_t)time(NULL) - LOCK_STALE_SECONDS - 60, STALE_NONCE);
}

/* Another process is taking the stale object over (its marker is fresh):
 * refused, the marker and the object left as they are. */
static void test_lock_takeover_in_progress_refuses(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL;
    char name[96];
    exclusive_name(name);
    plant_stale_exclusive(f->repo);
    plant_marker(f->repo, (int64_t)time(NULL));

    assert_int_equal(repo_lock(f->repo, true, &lock, &err), -1);

    assert_int_equal(err.kind, ERR_LOCKED);
    assert_non_null(strstr(err.msg, "taking over a stale exclusive lock"));
    assert_true(has_object(f->repo, "locks/takeover-" STALE_NONCE));
    assert_true(has_object(f->repo, name));
}

/* A marker whose taker died expires like a lock: the locker that finds it
 * removes it and is refused this once; the next locker takes over. */
static void test_lock_expired_marker_is_cleared(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL;
    plant_stale_exclusive(f->repo);
    plant_marker(f->repo, (int64_t)time(NULL) - LOCK_STALE_SECONDS - 60);

    assert_int_equal(repo_lock(f->repo, true, &lock, &err), -1);
    assert_int_equal(err.kind, ERR_LOCKED);
    assert_false(has_object(f->repo, "locks/takeover-" STALE_NONCE));

    memset(&err, 0, sizeof err);
    assert_int_equal(repo_lock(f->repo, true, &lock, &err), 0);
    assert_false(repo_lock_is_alone(lock, NULL)); /* the stale holder may still run */
    assert_false(has_object(f->repo, "locks/takeover-" STALE_NONCE));
    repo_unlock(lock);
}

/* The exclusive object is there but does not open: every locker refused,
 * naming it and `coffer unlock --remove-all`; the object left. */
static void test_lock_unreadable_exclusive_object_refuses(void **state)
{
    struct fixture *f = *state;
    uint8_t id[CRYPTO_ID_SIZE], junk[64];
    char name[96];
    struct error err;
    exclusive_id(id);
    exclusive_name(name);
    crypto_random(junk, sizeof junk);
    assert_int_equal(store_put(repo_store(f->repo), name, junk, sizeof junk, &err), 0);

    refuse_beside(f->repo, id);
}

/* The store fails to return the exclusive object that blocks us: an error
 * saying so, not a takeover. */
static void test_lock_exclusive_object_read_failure(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL;
    uint8_t id[CRYPTO_ID_SIZE];
    char host[64], name[96];
    gethostname(host, sizeof host);
    exclusive_id(id);
    exclusive_name(name);
    plant_exclusive(f->repo, (int)getppid(), host, (int64_t)time(NULL), "00112233445566778899aabbccddeeff");
    fail_gets_of(f->repo, id, ERR_GENERIC);

    int rc = repo_lock(f->repo, true, &lock, &err);

    restore_driver(f->repo);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "cannot read the exclusive lock"));
    assert_true(has_object(f->repo, name));
}

/* `coffer unlock` and `check` list locks: one the store fails to return
 * stops the listing with its name; one that vanished is left out. */
static void test_lock_list_read_failures(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct infos infos = {0};
    uint8_t id[CRYPTO_ID_SIZE];
    put_lock_doc(f->repo, local_lock_doc((int)getppid(), false, (int64_t)time(NULL)), id);

    fail_gets_of(f->repo, id, ERR_GENERIC);
    assert_int_equal(repo_locks_list(f->repo, remember_info, &infos, &err), -1);
    assert_non_null(strstr(err.msg, "cannot read lock"));
    restore_driver(f->repo);

    fail_gets_of(f->repo, id, ERR_NOT_FOUND);
    memset(&err, 0, sizeof err);
    assert_int_equal(repo_locks_list(f->repo, remember_info, &infos, &err), 0);
    assert_int_equal(infos.count, 0);
    restore_driver(f->repo);
}

/* Takes the exclusive lock (the well-known object: id, name) and this
 * host's name, for the tests that then take it away. */
static struct repo_lock *hold_exclusive(struct repo *repo, uint8_t id[CRYPTO_ID_SIZE], char host[64], char name[96])
{
    struct error err = {0};
    struct repo_lock *lock = NULL;
    gethostname(host, 64);
    exclusive_id(id);
    exclusive_name(name);
    assert_int_equal(repo_lock(repo, true, &lock, &err), 0);
    return lock;
}

/* repo_lock_check: our lock, fresh and ours, passes; once its object is
 * removed (`unlock --remove-all` while we were stopped) or taken over, it
 * fails with ERR_LOCKED; when the store does not answer, it fails saying
 * it cannot tell. */
static void test_lock_check_sees_loss(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    uint8_t id[CRYPTO_ID_SIZE];
    char host[64], name[96];
    struct repo_lock *lock = hold_exclusive(f->repo, id, host, name);
    assert_int_equal(repo_lock_check(lock, &err), 0);

    fail_gets_of(f->repo, id, ERR_GENERIC);
    assert_int_equal(repo_lock_check(lock, &err), -1);
    assert_non_null(strstr(err.msg, "cannot tell whether this process still holds its lock"));
    restore_driver(f->repo);

    plant_exclusive(f->repo, 4242, host, (int64_t)time(NULL), "ffeeddccbbaa99887766554433221100");
    memset(&err, 0, sizeof err);
    assert_int_equal(repo_lock_check(lock, &err), -1);
    assert_int_equal(err.kind, ERR_LOCKED);
    assert_non_null(strstr(err.msg, "no longer holds its lock"));

    assert_int_equal(store_delete(repo_store(f->repo), name, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(repo_lock_check(lock, &err), -1);
    assert_int_equal(err.kind, ERR_LOCKED);
    repo_unlock(lock);
}

/* The lock object's time field, parsed. */
static int64_t lock_time(struct repo *repo)
{
    struct lock_info info = only_lock(repo);
    return info.time;
}

/* A refresh rewrites our object; a refresh that finds another holder's
 * object under the exclusive name writes nothing (the new holder keeps
 * its object) and the lock stays lost, even once the name is free again;
 * a refresh the store does not answer changes nothing. */
static void test_lock_refresh(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    uint8_t id[CRYPTO_ID_SIZE];
    char host[64], name[96];
    struct repo_lock *lock = hold_exclusive(f->repo, id, host, name);
    /* Backdate our object by hand, as if written long ago by us. */
    struct lock_info before = only_lock(f->repo);
    assert_true(is_exclusive_id(before.id));
    char old_time[32];
    time_format_rfc3339((int64_t)time(NULL) - 600, old_time);
    struct buf raw = BUF_INIT;
    assert_int_equal(repo_get_object(f->repo, OBJ_LOCK, id, &raw, &err), 0);
    json_t *doc = json_loadb((const char *)raw.data, raw.len, 0, NULL);
    buf_free(&raw);
    assert_non_null(doc);
    json_object_set_new(doc, "time", json_string(old_time));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_int_equal(repo_put_object(f->repo, OBJ_LOCK, id, text, strlen(text), &err), 0);
    free(text);
    assert_true(lock_time(f->repo) < (int64_t)time(NULL) - 500);

    fail_gets_of(f->repo, id, ERR_GENERIC); /* the store does not answer: nothing written */
    repo_lock_refresh(lock);
    restore_driver(f->repo);
    assert_true(lock_time(f->repo) < (int64_t)time(NULL) - 500);

    repo_lock_refresh(lock); /* ours: rewritten now */
    assert_true(lock_time(f->repo) >= (int64_t)time(NULL) - 5);
    assert_int_equal(repo_lock_check(lock, &err), 0);

    plant_exclusive(f->repo, 4242, host, (int64_t)time(NULL) - 100, "ffeeddccbbaa99887766554433221100");
    repo_lock_refresh(lock); /* another's: left alone, the lock lost */
    struct lock_info other = only_lock(f->repo);
    assert_string_equal(other.nonce, "ffeeddccbbaa99887766554433221100");
    assert_int_equal(other.pid, 4242);

    assert_int_equal(store_delete(repo_store(f->repo), name, &err), 0);
    repo_lock_refresh(lock); /* lost for good: the free name is not taken back */
    assert_false(has_object(f->repo, name));
    memset(&err, 0, sizeof err);
    assert_int_equal(repo_lock_check(lock, &err), -1);
    assert_int_equal(err.kind, ERR_LOCKED);
    repo_unlock(lock);
    assert_false(has_object(f->repo, name));
}

/* ---- what the scan of the other locks makes of them ------------------- */

/* Lock objects whose fields do not parse (a time that is no time, a
 * negative start time) cannot be read: every locker refused. */
static void test_lock_bad_fields_are_a_conflict(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    uint8_t id[CRYPTO_ID_SIZE];
    json_t *doc = local_lock_doc((int)getppid(), false, (int64_t)time(NULL));
    json_object_set_new(doc, "time", json_string("yesterday"));
    put_lock_doc(f->repo, doc, id);
    refuse_beside(f->repo, id);
    assert_int_equal(repo_lock_remove(f->repo, id, &err), 0);

    doc = local_lock_doc((int)getppid(), false, (int64_t)time(NULL));
    json_object_set_new(doc, "started", json_integer(-5));
    put_lock_doc(f->repo, doc, id);
    refuse_beside(f->repo, id);
}

/* Of several locks in the way, the refusal names one (the first listed). */
static void test_lock_several_conflicts_refuse_once(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL;
    put_lock_text(f->repo, "not JSON", 8, NULL);
    put_lock_text(f->repo, "not JSON either", 15, NULL);
    plant_lock(f->repo, (int)getppid(), false);
    plant_lock(f->repo, (int)getppid(), false);

    assert_int_equal(repo_lock(f->repo, true, &lock, &err), -1);

    assert_int_equal(err.kind, ERR_LOCKED);
    bool names_unreadable = strstr(err.msg, "cannot be read") != NULL, names_live = strstr(err.msg, "held by");
    assert_true(names_unreadable != names_live);
    const char *name = strstr(err.msg, "locks/");
    assert_true(name == NULL || strstr(name + 1, "locks/") == NULL);
    assert_int_equal(lock_count(f->repo), 4);
}

/* A shared locker goes on beside an expired lock (it deletes nothing, so
 * a stopped holder is no danger to it) and leaves it there. */
static void test_lock_shared_beside_expired_lock(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL;
    uint8_t id[CRYPTO_ID_SIZE];
    put_lock_doc(f->repo, local_lock_doc((int)getppid(), true, (int64_t)time(NULL) - LOCK_STALE_SECONDS - 60), id);

    assert_int_equal(repo_lock(f->repo, false, &lock, &err), 0);

    assert_int_equal(lock_count(f->repo), 2);
    repo_unlock(lock);
    assert_true(has_lock(f->repo, id));
}

/* Names under locks/ that are no lock's (a takeover marker with no stale
 * object to take over) are neither locks nor conflicts. */
static void test_lock_other_names_are_no_locks(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL;
    plant_marker(f->repo, (int64_t)time(NULL));
    for (int is_exclusive = 0; is_exclusive < 2; is_exclusive++) {
        assert_int_equal(repo_lock(f->repo, is_exclusive, &lock, &err), 0);
        assert_true(repo_lock_is_alone(lock, NULL) == (bool)is_exclusive);
        repo_unlock(lock);
    }
    assert_true(has_object(f->repo, "locks/takeover-" STALE_NONCE));
}

/* A store that cannot list the locks: no lock is taken, and none is left. */
static int failing_list(void *impl, const char *folder, store_list_fn fn, void *ctx, struct error *err)
{
    if (strcmp(folder, "locks") == 0)
        return error_set(err, "LIST locks/: connection reset");
    return real_driver->list(impl, folder, fn, ctx, err);
}

static void test_lock_listing_failure_takes_nothing(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL;
    real_driver = repo_store(f->repo)->driver;
    failing_driver = *real_driver;
    failing_driver.list = failing_list;
    for (int is_exclusive = 0; is_exclusive < 2; is_exclusive++) {
        repo_store(f->repo)->driver = &failing_driver;
        memset(&err, 0, sizeof err);
        int rc = repo_lock(f->repo, is_exclusive, &lock, &err);
        restore_driver(f->repo);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err.msg, "cannot list locks"));
        assert_int_equal(lock_count(f->repo), 0);
    }
}

/* A lock object too short to hold a sealed text cannot be read. */
static void test_lock_short_object_is_a_conflict(void **state)
{
    struct fixture *f = *state;
    uint8_t id[CRYPTO_ID_SIZE];
    char name[96];
    struct error err;
    crypto_random(id, sizeof id);
    repo_object_name(OBJ_LOCK, id, name);
    assert_int_equal(store_put(repo_store(f->repo), name, "short", 5, &err), 0);

    refuse_beside(f->repo, id);
}

/* Where the store cannot create atomically (an S3 server without
 * conditional writes), the exclusive lock is a lock object with an id of
 * its own: a second exclusive locker and a shared one are refused beside
 * it, a refresh rewrites it, and unlocking removes it. */
static bool no_atomic_create(void *impl)
{
    return false;
}

static void test_lock_exclusive_without_atomic_create(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *lock = NULL, *other = NULL;
    real_driver = repo_store(f->repo)->driver;
    failing_driver = *real_driver;
    failing_driver.has_atomic_create = no_atomic_create;
    repo_store(f->repo)->driver = &failing_driver;

    assert_int_equal(repo_lock(f->repo, true, &lock, &err), 0);
    struct lock_info held = only_lock(f->repo);
    assert_false(is_exclusive_id(held.id));
    assert_true(held.is_exclusive);
    for (int is_exclusive = 0; is_exclusive < 2; is_exclusive++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(repo_lock(f->repo, is_exclusive, &other, &err), -1);
        assert_int_equal(err.kind, ERR_LOCKED);
    }
    repo_lock_refresh(lock);
    assert_int_equal(repo_lock_check(lock, &err), 0);
    assert_int_equal(lock_count(f->repo), 1);
    repo_unlock(lock);
    assert_int_equal(lock_count(f->repo), 0);
    restore_driver(f->repo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_shared_locks_coexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_exclusive_refused_while_shared_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_orphan_is_cleared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_exclusive_is_the_well_known_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_second_exclusive_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_shared_refused_while_exclusive_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_exclusive_again_after_unlock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_exclusive_of_dead_process_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_expired_exclusive_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_expired_exclusive_of_other_host_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_live_exclusive_not_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_unlock_leaves_another_holders_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_same_host_name_other_machine_may_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_other_boot_without_machine_id_may_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_same_machine_other_boot_is_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_other_pid_namespace_may_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_unknown_pid_namespace_may_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_same_namespace_dead_pid_is_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_listing_keeps_other_machines_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_garbage_lock_is_a_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_other_versions_lock_is_a_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_unsealed_lock_is_a_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_failed_read_is_not_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_vanished_lock_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_stale_takeover_race_has_one_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_takeover_in_progress_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_expired_marker_is_cleared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_unreadable_exclusive_object_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_exclusive_object_read_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_list_read_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_check_sees_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_bad_fields_are_a_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_several_conflicts_refuse_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_shared_beside_expired_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_other_names_are_no_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_listing_failure_takes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_short_object_is_a_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_exclusive_without_atomic_create, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
