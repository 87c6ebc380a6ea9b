-- activity.sql — one day of application activity on a database made by
-- make-db.sh:   psql -v day=1 [-v edits=uniform] -f activity.sql
-- (day defaults to 1, edits to recent)
-- Run day 1, then day 2, ... to age a database day by day. Deterministic:
-- the same database and day give the same changes.
--
-- About 1% new rows (conversations with their messages, messages appended to
-- open conversations, scrape jobs, scraped pages with embeddings, users),
-- some updates (0.5% of messages edited, 5% of customer_configs settings
-- changed and one credential rotated, scrape_jobs moving pending -> running ->
-- completed, 0.5% of pages re-scraped and re-embedded, prices, logins,
-- conversations closed) and a few deletes (0.1% of conversations, cascading
-- to their messages; 0.2% of scraped_pages, cascading to their embeddings).
--
-- Where the message edits fall matters to a deduplicating backup: pg_dump
-- writes rows in physical order and an updated row moves, so each edit
-- changes two places in the dump. edits=recent (default, like a chat app:
-- people edit what they just wrote) takes them from the newest 5% of
-- messages; edits=uniform spreads them over all history (every 200th
-- message), which touches nearly every stretch of the messages table.

\set ON_ERROR_STOP 1
\if :{?day}
\else
\set day 1
\endif
\if :{?edits}
\else
\set edits recent
\endif
\ir helpers.sql

BEGIN;
SELECT setseed(mod(:day * 7919, 999983) / 999983.0) \gset

SELECT count(*) AS n_conv FROM conversations \gset
SELECT count(*) AS n_msg, coalesce(max(id), 0) AS max_msg FROM messages \gset
SELECT :'edits' IN ('recent', 'uniform') AS edits_ok, :'edits' = 'uniform' AS edits_uniform \gset
\if :edits_ok
\else
DO $$ BEGIN RAISE EXCEPTION 'activity.sql: edits must be recent or uniform'; END $$;
\endif
SELECT count(*) AS n_pages, coalesce(max(id), 0) AS max_page FROM scraped_pages \gset
SELECT count(*) AS n_cfg, max(id) AS max_cfg FROM customer_configs \gset
SELECT count(*) AS n_users, max(id) AS max_user FROM users \gset
-- The day's start: history ends 2024-12-31, day 1 is 2025-01-01.
SELECT format('%L::timestamptz', '2025-01-01 00:00:00+00'::timestamptz + make_interval(days => :day - 1)) AS t \gset

-- Lang index of each config, from its settings.
CREATE TEMP TABLE cfg_lang AS
SELECT c.id, v.lang FROM customer_configs c JOIN vocab v ON v.code = c.settings ->> 'language';

-- new users: 1% ------------------------------------------------------------
INSERT INTO users (email, display_name, password_hash, locale, email_verified_at, last_login_at,
                   last_login_ip, metadata, created_at, updated_at)
SELECT 'new-d' || :day || '-' || g || '@example.com',
       pg_temp.person(),
       '$argon2id$v=19$m=65536,t=3,p=4$' || rtrim(encode(pg_temp.rbytes(16), 'base64'), '=')
         || '$' || rtrim(encode(pg_temp.rbytes(32), 'base64'), '='),
       pg_temp.lang_code(pg_temp.pick_lang()),
       CASE WHEN random() < 0.5 THEN NULL ELSE ts + interval '5 minutes' END,
       ts + interval '1 minute',
       ('198.51.100.' || (1 + floor(random() * 254))::int)::inet,
       jsonb_build_object('signup_source', 'web', 'marketing_opt_in', random() < 0.4, 'timezone', 'UTC'),
       ts, ts
FROM (SELECT g, :t + make_interval(secs => random() * 86400) AS ts
      FROM generate_series(1, ceil(:n_users * 0.01)::int) g) s
ORDER BY g;

-- logins: 2% of users --------------------------------------------------------
UPDATE users
SET last_login_at = :t + make_interval(secs => (id % 86400)),
    last_login_ip = ('198.51.100.' || (1 + id % 254))::inet,
    updated_at = :t + make_interval(secs => (id % 86400))
WHERE id % 50 = :day % 50;

-- new conversations: 1%, with their messages (about 1% of messages) ---------
CREATE TEMP TABLE new_conv AS
SELECT g AS ord, pg_temp.uid('conversation-day' || :day || '-' || g) AS id, s.cfg, l.lang,
       1 + floor(random() * 15)::int AS n_msgs,
       :t + make_interval(secs => (g - 1) * 86400.0 / ceil(:n_conv * 0.01) + random() * 300) AS started_at
FROM (SELECT g, 1 + floor(random() * :max_cfg)::int AS cfg
      FROM generate_series(1, ceil(:n_conv * 0.01)::int) g) s
JOIN cfg_lang l ON l.id = s.cfg
ORDER BY g;

INSERT INTO conversations (id, customer_config_id, user_id, session_id, visitor_ip, locale, title, status,
                           metadata, started_at, ended_at)
SELECT id, cfg,
       CASE WHEN random() < 0.6 THEN NULL ELSE 1 + floor(random() * :max_user)::int END,
       'sess_' || substr(md5('session-day' || :day || '-' || ord), 1, 24),
       ('203.0.113.' || (1 + floor(random() * 254))::int)::inet,
       pg_temp.lang_code(lang),
       CASE WHEN random() < 0.3 THEN NULL ELSE pg_temp.txt(lang, 3 + floor(random() * 6)::int) END,
       CASE WHEN ord % 4 = 0 THEN 'open' ELSE 'closed' END,
       jsonb_build_object('channel', 'web', 'user_agent', 'Mozilla/5.0 (X11; Linux x86_64)',
                          'referrer', NULL, 'rating', NULL, 'message_count', n_msgs),
       started_at,
       CASE WHEN ord % 4 = 0 THEN NULL ELSE started_at + make_interval(secs => n_msgs * 60) END
FROM new_conv
ORDER BY ord;

INSERT INTO messages (conversation_id, seq, role, content, tokens, model, latency_ms, metadata, created_at)
WITH m AS MATERIALIZED (
  SELECT c.ord, c.id, s AS seq, c.lang, c.started_at,
         CASE WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END AS role
  FROM new_conv c CROSS JOIN LATERAL generate_series(1, c.n_msgs) s
  ORDER BY c.ord, s
), t AS MATERIALIZED (
  SELECT m.*, CASE role WHEN 'user' THEN pg_temp.txt(lang, 2 + floor(random() * 25)::int)
                        ELSE pg_temp.txt(lang, 10 + floor(random() * 90)::int) END AS content
  FROM m ORDER BY ord, seq
)
SELECT id, seq, role, content, (octet_length(content) + 3) / 4,
       CASE WHEN role = 'assistant' THEN 'gpt-4o-mini' END,
       CASE WHEN role = 'assistant' THEN 200 + floor(random() * 4000)::int END,
       CASE WHEN role = 'assistant' THEN jsonb_build_object('sources', jsonb_build_array(1 + floor(random() * :max_page)::int),
                                                            'confidence', round(random()::numeric, 3), 'finish_reason', 'stop') END,
       started_at + make_interval(secs => seq * 45 + random() * 30)
FROM t
ORDER BY ord, seq;

-- replies in older open conversations: 0.5% of conversations get 2 more messages
CREATE TEMP TABLE reopened AS
SELECT c.id, l.lang, (SELECT max(seq) FROM messages m WHERE m.conversation_id = c.id) AS last_seq,
       row_number() OVER (ORDER BY md5(c.id::text || :day)) AS ord
FROM conversations c JOIN cfg_lang l ON l.id = c.customer_config_id
WHERE c.status = 'open' AND c.started_at < :t
ORDER BY md5(c.id::text || :day)
LIMIT ceil(:n_conv * 0.005)::int;

INSERT INTO messages (conversation_id, seq, role, content, tokens, model, latency_ms, created_at)
WITH t AS MATERIALIZED (
  SELECT r.ord, r.id, coalesce(r.last_seq, 0) + k AS seq,
         CASE WHEN k = 1 THEN 'user' ELSE 'assistant' END AS role,
         CASE WHEN k = 1 THEN pg_temp.txt(r.lang, 2 + floor(random() * 25)::int)
              ELSE pg_temp.txt(r.lang, 10 + floor(random() * 90)::int) END AS content
  FROM reopened r CROSS JOIN generate_series(1, 2) k
  ORDER BY r.ord, k
)
SELECT id, seq, role, content, (octet_length(content) + 3) / 4,
       CASE WHEN role = 'assistant' THEN 'gpt-4o-mini' END,
       CASE WHEN role = 'assistant' THEN 300 + floor(random() * 3000)::int END,
       :t + make_interval(secs => ord * 60 + seq)
FROM t
ORDER BY ord, seq;

-- 0.5% of messages edited ------------------------------------------------------
WITH e AS MATERIALIZED (
  SELECT m.id, pg_temp.txt(v.lang, 3 + floor(random() * 30)::int) AS added
  FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN vocab v ON v.code = c.locale
  WHERE m.created_at < :t
    AND CASE WHEN :'edits_uniform'::boolean THEN m.id % 200 = (:day * 53 + 7) % 200
             ELSE m.id > :max_msg - ceil(:n_msg * 0.05) AND m.id % 10 = (:day * 53 + 7) % 10 END
  ORDER BY m.id
)
UPDATE messages m
SET content = e.added || ' ' || m.content,
    tokens = (octet_length(e.added) + octet_length(m.content) + 4) / 4,
    edited_at = :t + make_interval(secs => m.id % 86400)
FROM e
WHERE e.id = m.id;

-- conversations closed: the older half of the open ones that got no reply ------
UPDATE conversations
SET status = 'closed', ended_at = :t + make_interval(secs => 3600 + extract(epoch FROM started_at)::bigint % 3600)
WHERE status = 'open' AND started_at < :t AND id NOT IN (SELECT id FROM reopened)
  AND md5(id::text || :day) < '8';

-- customer_configs: 5% change settings, one rotates a credential -------------
WITH n AS MATERIALIZED (
  SELECT id, '#' || lpad(to_hex(floor(random() * 16777216)::int), 6, '0') AS color,
         (ARRAY[20, 60, 120, 240])[1 + floor(random() * 4)::int] AS per_minute
  FROM customer_configs WHERE id % 20 = :day % 20
  ORDER BY id
)
UPDATE customer_configs c
SET settings = jsonb_set(jsonb_set(c.settings, '{widget,color}', to_jsonb(n.color)),
                         '{rate_limit,per_minute}', to_jsonb(n.per_minute))
               || jsonb_build_object('updated_by', 'day-' || :day),
    updated_at = :t + make_interval(secs => c.id * 60)
FROM n
WHERE n.id = c.id;

UPDATE customer_configs
SET encrypted_openai_key = pg_temp.sealed(51),
    encryption_key_version = encryption_key_version + 1,
    updated_at = :t + interval '12 hours'
WHERE id = 1 + (:day * 13) % :max_cfg;

-- scrape_jobs: the queue moves on, 4% of configs start a job today -------------
UPDATE scrape_jobs
SET status = 'completed', pages_scraped = pages_found, pages_failed = 0,
    finished_at = :t + make_interval(secs => id % 3600)
WHERE status = 'running';

UPDATE scrape_jobs
SET status = 'running', started_at = :t + make_interval(secs => id % 3600),
    pages_found = 10 + id % 500, pages_scraped = (10 + id % 500) / 3
WHERE status = 'pending';

CREATE TEMP TABLE new_jobs (id bigint, cfg bigint, ord int);
WITH ins AS (
  INSERT INTO scrape_jobs (customer_config_id, job_type, status, priority, pages_found, pages_scraped,
                           pages_failed, options, created_at, started_at, finished_at)
  SELECT 1 + (g * 7 + :day) % :max_cfg, 'incremental', 'completed', 5, 20, 20, 0,
         jsonb_build_object('max_pages', 100, 'depth', 2, 'respect_robots', true),
         :t + make_interval(hours => g % 24), :t + make_interval(hours => g % 24, mins => 1),
         :t + make_interval(hours => g % 24, mins => 30)
  FROM generate_series(1, ceil(:n_cfg * 0.04)::int) g
  ORDER BY g
  RETURNING id, customer_config_id
)
INSERT INTO new_jobs SELECT id, customer_config_id, row_number() OVER (ORDER BY id) FROM ins;
-- plus one job that is still pending at the end of the day
INSERT INTO scrape_jobs (customer_config_id, job_type, status, options, created_at)
VALUES (1 + (:day * 3) % :max_cfg, 'full', 'pending', '{"max_pages": 1000}', :t + interval '23 hours');

-- new scraped_pages: 1%, attached to today's jobs, with embeddings ------------
INSERT INTO scraped_pages (customer_config_id, scrape_job_id, url, title, content, content_hash, http_status,
                           content_length, language, metadata, scraped_at)
WITH p AS MATERIALIZED (
  SELECT g, j.cfg, j.id AS job, l.lang,
         'https://shop' || j.cfg || '.example/new/day' || :day || '-' || g AS url
  FROM generate_series(1, ceil(:n_pages * 0.01)::int) g
  JOIN new_jobs j ON j.ord = 1 + (g - 1) % (SELECT count(*) FROM new_jobs)
  JOIN cfg_lang l ON l.id = j.cfg
  ORDER BY g
), q AS MATERIALIZED (
  SELECT p.*, pg_temp.txt(lang, 3 + floor(random() * 8)::int) AS title,
         pg_temp.doc(lang, 2 + floor(random() * 7)::int) AS content
  FROM p ORDER BY g
)
SELECT cfg, job, url, title, content, md5(content), 200, octet_length(content), pg_temp.lang_code(lang),
       jsonb_build_object('headers', jsonb_build_object('content-type', 'text/html; charset=utf-8'), 'canonical', url),
       :t + make_interval(secs => g * 300)
FROM q
ORDER BY g;

INSERT INTO page_embeddings (page_id, chunk_index, chunk_text, embedding, model, created_at)
SELECT p.id, c, substr(p.content, c * 400 + 1, 400), pg_temp.vec(384), 'all-MiniLM-L6-v2',
       p.scraped_at + interval '2 minutes'
FROM scraped_pages p
CROSS JOIN LATERAL generate_series(0, CASE p.id % 4 WHEN 0 THEN 1 WHEN 1 THEN 0 ELSE -1 END) c
WHERE p.id > :max_page AND p.content IS NOT NULL
ORDER BY p.id, c;

-- 0.5% of pages re-scraped: new content, hash and embeddings -----------------
CREATE TEMP TABLE rescraped AS
SELECT p.id, pg_temp.doc(l.lang, 2 + floor(random() * 7)::int) AS content
FROM scraped_pages p JOIN cfg_lang l ON l.id = p.customer_config_id
WHERE p.id % 200 = (:day * 31 + 3) % 200 AND p.content IS NOT NULL AND p.id <= :max_page
ORDER BY p.id;
UPDATE scraped_pages p
SET content = r.content, content_hash = md5(r.content), content_length = octet_length(r.content),
    scraped_at = :t + make_interval(secs => p.id % 86400),
    last_modified = :t
FROM rescraped r
WHERE r.id = p.id;
WITH n AS MATERIALIZED (
  SELECT e.id, substr(r.content, e.chunk_index * 400 + 1, 400) AS chunk_text, pg_temp.vec(384) AS embedding
  FROM page_embeddings e JOIN rescraped r ON r.id = e.page_id
  ORDER BY e.id
)
UPDATE page_embeddings e
SET chunk_text = n.chunk_text, embedding = n.embedding,
    created_at = :t + make_interval(secs => e.page_id % 86400 + 120)
FROM n
WHERE n.id = e.id;

-- website_content: 1% price or stock changes -----------------------------------
WITH n AS MATERIALIZED (
  SELECT id, round(price * (0.8 + random()::numeric * 0.4), 2) AS price
  FROM website_content WHERE id % 100 = :day % 100
  ORDER BY id
)
UPDATE website_content w
SET price = n.price,
    in_stock = NOT w.in_stock,
    updated_at = :t + make_interval(secs => w.id % 86400)
FROM n
WHERE n.id = w.id;

-- deletes: 0.1% of conversations (their messages go by ON DELETE CASCADE),
-- 0.2% of scraped_pages (embeddings cascade, website_content.page_id -> NULL)
DELETE FROM conversations
WHERE id IN (SELECT id FROM conversations WHERE status = 'closed' AND started_at < :t
             ORDER BY md5(id::text || 'delete' || :day) LIMIT ceil(:n_conv * 0.001)::int);

DELETE FROM scraped_pages
WHERE id IN (SELECT id FROM scraped_pages WHERE id <= :max_page
             ORDER BY md5(id::text || 'delete' || :day) LIMIT ceil(:n_pages * 0.002)::int);

COMMIT;
ANALYZE;
