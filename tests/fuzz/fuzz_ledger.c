/*
 * fuzz_ledger.c — the daemon's run ledger as read back from the state
 * directory (sched/ledger.c): a file anyone with access to the directory,
 * or a crash, may have left in any shape. No crash, no leak; a ledger that
 * parses has jobs with names, and a job looked up by name is found again.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "sched/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ledger l;
    struct error err;
    memset(&l, 0, sizeof l);
    l.lock_fd = -1;
    if (ledger_parse((const char *)data, size, &l, &err) == 0) {
        for (size_t i = 0; i < l.count; i++) {
            FUZZ_CHECK(l.jobs[i].name && l.jobs[i].name[0]);
            FUZZ_CHECK(l.jobs[i].outcome[sizeof l.jobs[i].outcome - 1] == '\0');
        }
        if (l.count) {
            char *first = l.jobs[0].name;
            size_t before = l.count;
            FUZZ_CHECK(ledger_job(&l, first, 1)->name == first);
            FUZZ_CHECK(l.count == before);
        }
    }
    ledger_close(&l);
    return 0;
}
