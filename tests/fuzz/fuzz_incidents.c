/*
 * fuzz_incidents.c — the daemon's incident book as read back from the
 * state directory (alert/incident.c), in any shape a crash or a person
 * may have left it. No crash, no leak; what parses can be updated (every
 * open incident of the domain resolved once it has been gone long enough).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert/incident.h"
#include "fuzzing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct incident_book book;
    struct error err;
    memset(&book, 0, sizeof book);
    book.host = strdup("h");
    book.repository = strdup("/r");
    if (incident_book_parse((const char *)data, size, &book, &err) == 0) {
        struct alert_notice *notices = NULL;
        size_t n = 0, before = book.open_count, in_domain = 0;
        for (size_t i = 0; i < book.open_count; i++)
            in_domain += !strcmp(book.open[i].domain, "monitor") && book.open[i].last_seen <= 1000;
        incident_book_update(&book, "monitor", NULL, 0, 1000 + 600, 3600, 600, &notices, &n);
        FUZZ_CHECK(n == in_domain);
        FUZZ_CHECK(book.open_count == before - in_domain);
        for (size_t i = 0; i < n; i++)
            alert_notice_free(&notices[i]);
        free(notices);
    }
    incident_book_free(&book);
    return 0;
}
