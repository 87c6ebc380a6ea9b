#!/usr/bin/env bash
# checksum.sh DBNAME — prints a fingerprint of a database's contents, to
# compare a source database with one restored from a backup (diff the
# outputs). Lines, sorted by name within each kind:
#
#   TABLE ROWCOUNT CHECKSUM        one per table in schema public
#   sequence NAME LAST_VALUE       one per sequence in schema public
#   schema OBJECTS CHECKSUM        columns, constraints and indexes of public
#   orphan_messages N              the runbook's check: messages whose conversation is gone (must be 0)
#   orphan_page_embeddings N       same for page_embeddings -> scraped_pages (must be 0)
#
# CHECKSUM is md5 over the sorted md5s of every row's text form, so it covers
# all rows and columns and does not depend on row order. Text forms are made
# with fixed settings (UTC, ISO dates, hex bytea, shortest exact floats), so
# the session's defaults do not matter. Exit status is 1 if an orphan is found.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 DBNAME" >&2; exit 2; }
db=$1

out=$("${PSQL[@]}" -d "$db" -At -F ' ' <<'SQL'
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SET lc_monetary = 'C';

SELECT format($q$SELECT %L, count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '-')
                 FROM (SELECT md5(t::text) COLLATE "C" AS h FROM %I.%I t) s$q$,
              c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname COLLATE "C"
\gexec

SELECT 'sequence', sequencename, coalesce(last_value::text, '-')
FROM pg_sequences WHERE schemaname = 'public'
ORDER BY sequencename COLLATE "C";

WITH o AS (
  SELECT format('column %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), '')) AS def
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public'
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid))
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public'
)
SELECT 'schema', count(*), coalesce(md5(string_agg(def, E'\n' ORDER BY def COLLATE "C")), '-') FROM o;

SELECT to_regclass('public.messages') IS NOT NULL AND to_regclass('public.conversations') IS NOT NULL AS has_msgs,
       to_regclass('public.page_embeddings') IS NOT NULL AND to_regclass('public.scraped_pages') IS NOT NULL AS has_emb
\gset
\if :has_msgs
SELECT 'orphan_messages', count(*)
FROM messages m LEFT JOIN conversations c ON m.conversation_id = c.id
WHERE c.id IS NULL;
\endif
\if :has_emb
SELECT 'orphan_page_embeddings', count(*)
FROM page_embeddings e LEFT JOIN scraped_pages p ON e.page_id = p.id
WHERE p.id IS NULL;
\endif
SQL
)
echo "$out"
if echo "$out" | grep -Eq '^orphan_[a-z_]+ [1-9]'; then
  echo "checksum.sh: orphaned rows found in $db" >&2
  exit 1
fi
