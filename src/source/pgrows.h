/*
 * pgrows.h — each table's row count, read off a pg_dump custom-format
 * archive as it streams into the repository.
 *
 * A snapshot records exact row counts without a second scan of the
 * database: every row of a TABLE DATA block is one line of COPY text
 * (newlines inside values are escaped), before the block's "\." line.
 * A drill compares the restored tables with these counts. An archive this
 * reader cannot take apart (another format, compressed data) just yields
 * no counts (the backup stores it without them, with a warning); large objects, which come after all table data and which the
 * reader does not take apart, leave the counts complete.
 */
#ifndef COFFER_SOURCE_PGROWS_H
#define COFFER_SOURCE_PGROWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "source/pgarchive.h"
#include "util/error.h"

struct pg_rows {
    struct pga_stream archive;
    bool has_failed;      /* the archive could not be read further */
    uint64_t *counts;     /* per TOC entry */
    size_t tables, tables_done; /* TABLE DATA entries, and blocks of them read to the end */
    size_t current;       /* entry of the block being read */
    char tail[5];         /* the block's last bytes so far */
    struct error why;     /* when pg_rows_result gives NULL: why there are no counts */
};

void pg_rows_init(struct pg_rows *r);
/* The next bytes of the archive; never fails, only stops counting. */
void pg_rows_feed(struct pg_rows *r, const uint8_t *data, size_t len);
/* [{"schema": s, "table": t, "rows": n}, ...] once the archive ended, or
 * NULL when not every table's data could be counted (r->why.msg says why:
 * another format, compressed data, an archive cut short). */
json_t *pg_rows_result(struct pg_rows *r);
/* The number of foreign keys the archive creates (its FK CONSTRAINT
 * entries), or -1 when its TOC could not be read. */
long pg_rows_foreign_keys(const struct pg_rows *r);
void pg_rows_free(struct pg_rows *r);

#endif
