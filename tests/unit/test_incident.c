/*
 * test_incident.c — problems become incidents (alert/incident.c): a new
 * problem triggers once; while it lasts only a reminder every `repeat`;
 * gone for `settle` it resolves, with the same dedup key; back before
 * settle it was never gone (a flap sends nothing); a domain's update
 * resolves only its own incidents; the book reads back what it wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alert/incident.h"
#include "util/fdio.h"

static const struct alert_problem redis_down = {"cache", "failed", "cannot connect to Redis", "start it"};
static const struct alert_problem db_old = {"db", "rpo", "the newest snapshot is 26h old", NULL};

/* Updates domain with problems at now; returns the actions sent, as "trigger,resolved". */
static const char *step(struct incident_book *book, const char *domain, const struct alert_problem *problems,
                        size_t count, int64_t now)
{
    static char out[256];
    struct alert_notice *notices = NULL;
    size_t n = 0;
    incident_book_update(book, domain, problems, count, now, 3600, 600, &notices, &n);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(out, i ? "," : "");
        strcat(out, alert_action_name(notices[i].action));
        strcat(out, ":");
        strcat(out, notices[i].incident.source);
        alert_notice_free(&notices[i]);
    }
    free(notices);
    return out;
}

static void test_incident_life(void **state)
{
    struct incident_book book = {.host = strdup("h"), .repository = strdup("/r"), .sent = json_object()};
    assert_string_equal(step(&book, "job:cache", &redis_down, 1, 1000), "trigger:cache");
    char *dedup = strdup(book.open[0].dedup_key);
    assert_int_equal(strlen(dedup), strlen("coffer-") + 32);
    assert_string_equal(step(&book, "job:cache", &redis_down, 1, 1900), "");     /* lasts: nothing */
    assert_string_equal(step(&book, "job:cache", &redis_down, 1, 4600), "reminder:cache"); /* an hour on */
    assert_string_equal(step(&book, "job:cache", &redis_down, 1, 5000), "");
    assert_string_equal(step(&book, "job:cache", NULL, 0, 5300), "");  /* gone 5 min: not yet */
    assert_string_equal(step(&book, "job:cache", &redis_down, 1, 5400), ""); /* back: a flap, nothing */
    assert_string_equal(step(&book, "monitor", &db_old, 1, 5500), "trigger:db");
    assert_string_equal(step(&book, "monitor", NULL, 0, 6100), "resolved:db"); /* only its domain */
    assert_int_equal(book.open_count, 1);
    struct alert_notice *notices = NULL;
    size_t n = 0;
    incident_book_update(&book, "job:cache", NULL, 0, 6100, 3600, 600, &notices, &n);
    assert_int_equal(n, 1);
    assert_int_equal(notices[0].action, ALERT_RESOLVE);
    assert_string_equal(notices[0].incident.dedup_key, dedup);
    alert_notice_free(&notices[0]);
    free(notices);
    assert_int_equal(book.open_count, 0);
    free(dedup);
    incident_book_free(&book);
}

static void test_incident_book_reads_back(void **state)
{
    char dir[] = "/tmp/coffer-incidents-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct incident_book book;
    struct error err;
    assert_int_equal(incident_book_load(dir, "h", "/r", &book, &err), 0);
    assert_string_equal(step(&book, "job:cache", &redis_down, 1, 1000), "trigger:cache");
    json_object_set_new(book.sent, "slack", json_integer(3));
    book.failures = 2;
    assert_int_equal(incident_book_save(dir, &book, &err), 0);
    incident_book_free(&book);
    assert_int_equal(incident_book_load(dir, "h", "/r", &book, &err), 0);
    assert_int_equal(book.open_count, 1);
    assert_string_equal(book.open[0].what, "cannot connect to Redis");
    assert_int_equal(book.open[0].opened, 1000);
    assert_int_equal(json_integer_value(json_object_get(book.sent, "slack")), 3);
    assert_int_equal(book.failures, 2);
    assert_string_equal(step(&book, "job:cache", &redis_down, 1, 1100), ""); /* the same incident, not a new one */
    assert_string_equal(book.warning, "");
    incident_book_free(&book);

    /* A book that cannot be read (here a directory: EISDIR) is an error,
     * not damage: it is not put aside, nothing is forgotten. */
    char path[128];
    snprintf(path, sizeof path, "%s/incidents.json", dir);
    assert_int_equal(remove(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(incident_book_load(dir, "h", "/r", &book, &err), -1);
    assert_non_null(strstr(err.msg, "cannot read"));
    incident_book_free(&book);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(remove_tree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incident_life),
        cmocka_unit_test(test_incident_book_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
