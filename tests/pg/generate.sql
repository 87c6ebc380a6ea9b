-- generate.sql — fills the tables of schema.sql, server-side, at a chosen
-- scale:   psql -v scale=1 -f schema.sql -f generate.sql
-- Deterministic: the same scale gives the same rows (setseed + random(),
-- evaluated in a fixed order, single session). Beware when editing: a
-- set-returning function in a correlated subquery is evaluated once and
-- replayed unless its arguments mention an outer column (hence "+ 0 * seq"). SCALE=1 is about 10 MB of
-- plain pg_dump; size grows linearly with scale.
--
-- Rows per SCALE unit: users 200, customer_configs 50, scrape_jobs 200,
-- scraped_pages 600 (+~450 page_embeddings of 384 floats), website_content
-- 400, conversations 1800 (+~14800 messages).

\set ON_ERROR_STOP 1
\ir helpers.sql

BEGIN;
SELECT setseed(0.20240101) \gset

SELECT greatest(1, round(200 * :scale))::int  AS n_users,
       greatest(1, round(50 * :scale))::int   AS n_cfg,
       greatest(1, round(600 * :scale))::int  AS n_pages,
       greatest(1, round(400 * :scale))::int  AS n_wc,
       greatest(1, round(1800 * :scale))::int AS n_conv,
       4 * greatest(1, round(50 * :scale))::int AS n_jobs
\gset
-- The generated history spans 2024 (365 days); activity.sql continues from 2025-01-01.
\set t0 '''2024-01-01 00:00:00+00''::timestamptz'

-- users ---------------------------------------------------------------------
INSERT INTO users (id, email, display_name, password_hash, role, locale, is_active,
                   email_verified_at, last_login_at, last_login_ip, metadata, created_at, updated_at)
SELECT g,
       'user' || g || '@' || (ARRAY['example.com', 'example.org', 'example.net', 'exämple.de', 'пример.рф'])[1 + g % 5],
       CASE WHEN random() < 0.1 THEN NULL ELSE pg_temp.person() END,
       '$argon2id$v=19$m=65536,t=3,p=4$' || rtrim(encode(pg_temp.rbytes(16), 'base64'), '=')
         || '$' || rtrim(encode(pg_temp.rbytes(32), 'base64'), '='),
       CASE WHEN g % 10 = 1 THEN 'owner' WHEN g % 10 = 2 THEN 'admin' ELSE 'member' END,
       pg_temp.lang_code(pg_temp.pick_lang()),
       random() > 0.03,
       CASE WHEN random() < 0.15 THEN NULL ELSE created + make_interval(secs => random() * 86400) END,
       CASE WHEN random() < 0.05 THEN NULL ELSE created + make_interval(secs => random() * 200 * 86400) END,
       CASE WHEN random() < 0.1 THEN NULL
            WHEN random() < 0.8 THEN ('198.51.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int)::inet
            ELSE ('2001:db8::' || to_hex(floor(random() * 65536)::int) || ':' || to_hex(g % 65536))::inet END,
       jsonb_build_object('signup_source', (ARRAY['web', 'invite', 'google', 'github'])[1 + floor(random() * 4)::int],
                          'marketing_opt_in', random() < 0.4,
                          'timezone', (ARRAY['UTC', 'Europe/Berlin', 'Europe/Moscow', 'Asia/Tokyo', 'America/New_York'])[1 + floor(random() * 5)::int]),
       created,
       created + make_interval(secs => random() * 30 * 86400)
FROM (SELECT g, :t0 + make_interval(secs => (g - 1) * 31536000.0 / :n_users + random() * 3600) AS created
      FROM generate_series(1, :n_users) g) u
ORDER BY g;

-- customer_configs ----------------------------------------------------------
CREATE TEMP TABLE cfg_plan AS
SELECT g AS id, pg_temp.pick_lang() AS lang, g % 3 AS shop   -- shop: 0 woocommerce, 1 shopify, 2 none
FROM generate_series(1, :n_cfg) g;

INSERT INTO customer_configs (id, owner_id, domain, business_name, plan, encrypted_openai_key,
       encrypted_woocommerce_key, encrypted_woocommerce_secret, encrypted_shopify_token,
       encryption_key_version, settings, allowed_origins, monthly_budget, created_at, updated_at)
SELECT c.id,
       1 + floor(random() * :n_users)::int,
       dom,
       pg_temp.txt(c.lang, 2) || ' ' || (ARRAY['GmbH', 'Ltd', 'S.L.', 'SARL', 'ООО', '株式会社', 'Inc.'])[1 + c.lang],
       (ARRAY['free', 'starter', 'pro', 'enterprise'])[1 + floor(random() * 4)::int],
       CASE WHEN random() < 0.8 THEN pg_temp.sealed(51) END,
       CASE WHEN c.shop = 0 THEN pg_temp.sealed(43) END,
       CASE WHEN c.shop = 0 THEN pg_temp.sealed(43) END,
       CASE WHEN c.shop = 1 THEN pg_temp.sealed(38) END,
       (1 + floor(random() * 2))::smallint,
       jsonb_build_object(
         'language', pg_temp.lang_code(c.lang),
         'widget', jsonb_build_object(
             'position', (ARRAY['bottom-right', 'bottom-left'])[1 + floor(random() * 2)::int],
             'color', '#' || lpad(to_hex(floor(random() * 16777216)::int), 6, '0'),
             'greeting', pg_temp.txt(c.lang, 8),
             'show_branding', random() < 0.5),
         'features', jsonb_build_object('woocommerce', c.shop = 0, 'shopify', c.shop = 1,
             'human_handoff', random() < 0.3, 'product_search', true),
         'rate_limit', jsonb_build_object('per_minute', (ARRAY[20, 60, 120])[1 + floor(random() * 3)::int]),
         'business_hours', CASE WHEN random() < 0.3 THEN 'null'::jsonb
                                ELSE jsonb_build_object('mon-fri', '09:00-17:00', 'sat', '10:00-14:00', 'tz', 'Europe/Berlin') END,
         'ai', jsonb_build_object('model', (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-3-haiku'])[1 + floor(random() * 3)::int],
             'temperature', round(random()::numeric, 2), 'max_tokens', 500,
             'system_prompt', pg_temp.txt(c.lang, 20))),
       CASE WHEN random() < 0.2 THEN NULL ELSE ARRAY['https://' || dom, 'https://www.' || dom] END,
       CASE WHEN random() < 0.3 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
       created,
       created + make_interval(secs => random() * 60 * 86400)
FROM (SELECT *, 'shop' || id || '.' || (ARRAY['example.com', 'example.de', 'example.es', 'example.fr', 'example.ru', 'example.cn', 'example.jp'])[1 + lang] AS dom,
             :t0 + make_interval(secs => (id - 1) * 31536000.0 / :n_cfg) AS created
      FROM cfg_plan) c
ORDER BY c.id;

-- scrape_jobs (job g belongs to config 1 + (g-1) % n_cfg) -------------------
INSERT INTO scrape_jobs (id, customer_config_id, job_type, status, priority, pages_found, pages_scraped,
                         pages_failed, error_message, options, created_at, started_at, finished_at)
SELECT g, cfg, jt, st, (1 + floor(random() * 9))::smallint,
       CASE WHEN st IN ('completed', 'failed', 'running') THEN found END,
       CASE WHEN st = 'completed' THEN found - failed WHEN st = 'running' THEN found / 2 WHEN st = 'failed' THEN found / 5 END,
       CASE WHEN st IN ('completed', 'failed') THEN failed END,
       CASE WHEN st = 'failed' THEN (ARRAY['HTTP 503 Service Unavailable from https://' || 'shop' || cfg || '/sitemap.xml',
                                           'timeout after 30s', 'robots.txt disallows /', 'TLS handshake failed: certificate expired',
                                           E'parse error at line 1:\n<html><body>Access denied</body></html>'])[1 + floor(random() * 5)::int] END,
       jsonb_build_object('max_pages', (ARRAY[100, 500, 1000, 5000])[1 + floor(random() * 4)::int],
                          'depth', 1 + floor(random() * 5)::int,
                          'respect_robots', random() < 0.9,
                          'include', to_jsonb(ARRAY['/products/*', '/blog/*', '/faq']),
                          'exclude', CASE WHEN random() < 0.5 THEN '[]'::jsonb ELSE to_jsonb(ARRAY['/cart', '/checkout', '/account/*']) END,
                          'user_agent', 'CofferTestBot/1.0 (+https://example.com/bot)'),
       created,
       CASE WHEN st <> 'pending' THEN created + make_interval(secs => 5 + random() * 600) END,
       CASE WHEN st IN ('completed', 'failed', 'cancelled') THEN created + make_interval(secs => 700 + random() * 7200) END
FROM (SELECT g, 1 + (g - 1) % :n_cfg AS cfg,
             (ARRAY['full', 'incremental', 'sitemap'])[1 + floor(random() * 3)::int] AS jt,
             CASE WHEN g > :n_jobs - greatest(1, :n_jobs / 50) THEN (ARRAY['pending', 'running'])[1 + g % 2]
                  WHEN r < 0.88 THEN 'completed' WHEN r < 0.97 THEN 'failed' ELSE 'cancelled' END AS st,
             10 + floor(random() * 990)::int AS found,
             floor(random() * 10)::int AS failed,
             :t0 + make_interval(secs => (g - 1) * 31536000.0 / :n_jobs + random() * 3600) AS created
      FROM (SELECT g, random() AS r FROM generate_series(1, :n_jobs) g) s) j
ORDER BY g;

-- scraped_pages ---------------------------------------------------------------
INSERT INTO scraped_pages (id, customer_config_id, scrape_job_id, url, title, content, content_hash, http_status,
                           content_length, language, metadata, scraped_at, last_modified)
WITH p AS MATERIALIZED (
  SELECT g, c.id AS cfg, c.lang, c.id + :n_cfg * floor(random() * 4)::int AS job,
         'https://shop' || c.id || '.example/' ||
           (ARRAY['products', 'blog', 'faq', 'pages', 'collections', 'help', 'de/produkte', 'ru/товары', 'ja/商品'])[1 + floor(random() * 9)::int]
           || '/' || g AS url,
         (ARRAY[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 301, 404, 500])[1 + floor(random() * 20)::int] AS status
  FROM (SELECT g, 1 + floor(random() * :n_cfg)::int AS cfg FROM generate_series(1, :n_pages) g) s
  JOIN cfg_plan c ON c.id = s.cfg
  ORDER BY g
), q AS MATERIALIZED (
  SELECT p.*, pg_temp.txt(p.lang, 3 + floor(random() * 8)::int) AS title,
         CASE WHEN p.status = 200 THEN pg_temp.doc(p.lang, 2 + floor(random() * 7)::int) END AS content
  FROM p ORDER BY g
)
SELECT g, cfg, job, url,
       CASE WHEN status = 200 THEN title END,
       content,
       md5(content),
       status::smallint,
       octet_length(content),
       CASE WHEN status = 200 THEN pg_temp.lang_code(lang) END,
       CASE WHEN random() < 0.1 THEN NULL ELSE jsonb_build_object(
         'headers', jsonb_build_object('content-type', 'text/html; charset=utf-8',
                                       'etag', '"' || substr(md5(url), 1, 16) || '"',
                                       'cache-control', 'max-age=' || (60 * floor(random() * 100)::int)),
         'links', floor(random() * 200)::int,
         'images', floor(random() * 40)::int,
         'canonical', url,
         'og', jsonb_build_object('title', title, 'locale', pg_temp.lang_code(lang))) END,
       :t0 + make_interval(secs => (g - 1) * 31536000.0 / :n_pages + random() * 3600),
       CASE WHEN random() < 0.4 THEN NULL ELSE :t0 - make_interval(secs => random() * 400 * 86400) END
FROM q
ORDER BY g;

-- page_embeddings: pages with id%4=0 get 2 chunks, id%4=1 one, others none ---
INSERT INTO page_embeddings (page_id, chunk_index, chunk_text, embedding, model, created_at)
SELECT p.id, c, substr(p.content, c * 400 + 1, 400), pg_temp.vec(384), 'all-MiniLM-L6-v2',
       p.scraped_at + make_interval(secs => 30 + random() * 300)
FROM scraped_pages p
CROSS JOIN LATERAL generate_series(0, CASE p.id % 4 WHEN 0 THEN 1 WHEN 1 THEN 0 ELSE -1 END) c
WHERE p.content IS NOT NULL
ORDER BY p.id, c;

-- website_content -----------------------------------------------------------
INSERT INTO website_content (id, customer_config_id, page_id, content_type, url, title, body, price, currency,
                             sku, in_stock, tags, attributes, updated_at)
SELECT g, cfg,
       CASE WHEN random() < 0.3 THEN NULL ELSE 1 + floor(random() * :n_pages)::int END,
       ct,
       CASE WHEN random() < 0.1 THEN NULL ELSE 'https://shop' || cfg || '.example/' || ct || '/' || g END,
       pg_temp.txt(lang, 2 + floor(random() * 6)::int),
       CASE ct WHEN 'faq' THEN 'Q: ' || pg_temp.txt(lang, 8 + floor(random() * 10)::int) || E'\nA: ' || pg_temp.txt(lang, 20 + floor(random() * 60)::int)
               WHEN 'category' THEN NULL
               ELSE pg_temp.txt(lang, 20 + floor(random() * 120)::int) END,
       CASE WHEN ct = 'product' THEN round((1 + random() * 999)::numeric, 2) END,
       CASE WHEN ct = 'product' THEN (ARRAY['EUR', 'USD', 'GBP', 'JPY', 'RUB', 'CNY'])[1 + floor(random() * 6)::int] END,
       CASE WHEN ct = 'product' THEN 'SKU-' || cfg || '-' || upper(lpad(to_hex(g), 6, '0')) END,
       CASE WHEN ct = 'product' THEN random() < 0.8 END,
       CASE WHEN ct IN ('product', 'category') THEN
            (SELECT array_agg(t ORDER BY t) FROM unnest(ARRAY['sale', 'new', 'bestseller', 'eco', 'limited', 'ünïcödé', 'новинка', '限定']) t
             WHERE random() < 0.25 AND g IS NOT NULL) END,
       CASE WHEN ct = 'product' THEN jsonb_build_object(
              'color', (ARRAY['black', 'white', 'schwarz', 'rouge', 'красный', '青'])[1 + floor(random() * 6)::int],
              'size', (ARRAY['S', 'M', 'L', 'XL', '42', 'one size'])[1 + floor(random() * 6)::int],
              'weight_g', floor(random() * 5000)::int,
              'dimensions_cm', jsonb_build_array(round((random() * 100)::numeric, 1), round((random() * 100)::numeric, 1)),
              'variants', floor(random() * 5)::int,
              'rating', CASE WHEN random() < 0.3 THEN NULL ELSE round((1 + random() * 4)::numeric, 1) END)
            WHEN ct = 'faq' THEN jsonb_build_object('helpful_votes', floor(random() * 100)::int) END,
       :t0 + make_interval(secs => (g - 1) * 31536000.0 / :n_wc + random() * 3600)
FROM (SELECT g, s.cfg, c.lang,
             CASE WHEN r < 0.5 THEN 'product' WHEN r < 0.7 THEN 'faq' WHEN r < 0.75 THEN 'policy'
                  WHEN r < 0.85 THEN 'category' ELSE 'page' END AS ct
      FROM (SELECT g, 1 + floor(random() * :n_cfg)::int AS cfg, random() AS r FROM generate_series(1, :n_wc) g) s
      JOIN cfg_plan c ON c.id = s.cfg) w
ORDER BY g;

-- conversations ---------------------------------------------------------------
CREATE TEMP TABLE conv_plan AS
SELECT g AS ord, pg_temp.uid('conversation-' || g) AS id,
       s.cfg, c.lang, 1 + floor(random() * 15)::int AS n_msgs, random() < 0.05 AS has_system,
       :t0 + make_interval(secs => (g - 1) * 31536000.0 / :n_conv + random() * 600) AS started_at
FROM (SELECT g, 1 + floor(random() * :n_cfg)::int AS cfg FROM generate_series(1, :n_conv) g) s
JOIN cfg_plan c ON c.id = s.cfg
ORDER BY g;

INSERT INTO conversations (id, customer_config_id, user_id, session_id, visitor_ip, locale, title, status,
                           metadata, started_at, ended_at)
SELECT id, cfg,
       CASE WHEN random() < 0.6 THEN NULL ELSE 1 + floor(random() * :n_users)::int END,
       'sess_' || substr(md5('session-' || ord), 1, 24),
       CASE WHEN r < 0.05 THEN NULL
            WHEN r < 0.85 THEN ('203.0.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int)::inet
            ELSE ('2001:db8:' || to_hex(floor(random() * 65536)::int) || '::' || to_hex(ord % 65536))::inet END,
       pg_temp.lang_code(lang),
       CASE WHEN random() < 0.3 THEN NULL ELSE pg_temp.txt(lang, 3 + floor(random() * 6)::int) END,
       st,
       jsonb_build_object('channel', (ARRAY['web', 'web', 'web', 'whatsapp', 'email'])[1 + floor(random() * 5)::int],
                          'user_agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)',
                                               'Mozilla/5.0 (Windows NT 10.0; Win64; x64)'])[1 + floor(random() * 3)::int],
                          'referrer', CASE WHEN random() < 0.5 THEN NULL ELSE 'https://www.google.com/search?q=' || ord END,
                          'rating', CASE WHEN random() < 0.7 THEN NULL ELSE 1 + floor(random() * 5)::int END,
                          'message_count', n_msgs),
       started_at,
       CASE WHEN st = 'open' THEN NULL ELSE started_at + make_interval(secs => n_msgs * 60 + random() * 600) END
FROM (SELECT *, random() AS r,
             CASE WHEN ord > :n_conv * 0.97 THEN 'open' WHEN random() < 0.05 THEN 'escalated' ELSE 'closed' END AS st
      FROM conv_plan) c
ORDER BY ord;

-- messages: n_msgs per conversation, user and assistant taking turns ------------
INSERT INTO messages (conversation_id, seq, role, content, tokens, model, latency_ms, metadata, created_at, edited_at)
WITH m AS MATERIALIZED (
  SELECT c.ord, c.id, s AS seq, c.lang, c.started_at,
         CASE WHEN s = 1 AND c.has_system THEN 'system' WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END AS role
  FROM conv_plan c CROSS JOIN LATERAL generate_series(1, c.n_msgs) s
  ORDER BY c.ord, s
), t AS MATERIALIZED (
  SELECT m.*,
         CASE role WHEN 'system' THEN 'You are the support assistant of this shop. Answer in ' || pg_temp.lang_code(lang) || '.'
                   WHEN 'user' THEN pg_temp.txt(lang, 2 + floor(random() * 25)::int)
                   ELSE pg_temp.txt(lang, 10 + floor(random() * 90)::int) END AS content
  FROM m ORDER BY ord, seq
)
SELECT id, seq, role, content,
       (octet_length(content) + 3) / 4,
       CASE WHEN role = 'assistant' THEN (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-3-haiku'])[1 + floor(random() * 3)::int] END,
       CASE WHEN role = 'assistant' THEN 200 + floor(random() * 4000)::int END,
       CASE WHEN role = 'assistant' THEN jsonb_build_object(
              'sources', (SELECT jsonb_agg(1 + floor(random() * :n_pages)::int) FROM generate_series(1, floor(random() * 4)::int + 0 * seq) k),
              'confidence', round(random()::numeric, 3),
              'finish_reason', CASE WHEN random() < 0.97 THEN 'stop' ELSE 'length' END)
            WHEN role = 'user' AND random() < 0.5 THEN jsonb_build_object('client', 'widget', 'page', '/products/' || ord)
       END,
       started_at + make_interval(secs => seq * 45 + random() * 30),
       CASE WHEN role = 'user' AND random() < 0.01 THEN started_at + make_interval(secs => seq * 45 + 60) END
FROM t
ORDER BY ord, seq;

-- identity sequences continue after the explicit ids -----------------------------
SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users)),
       setval(pg_get_serial_sequence('customer_configs', 'id'), (SELECT max(id) FROM customer_configs)),
       setval(pg_get_serial_sequence('scrape_jobs', 'id'), (SELECT max(id) FROM scrape_jobs)),
       setval(pg_get_serial_sequence('scraped_pages', 'id'), (SELECT max(id) FROM scraped_pages)),
       setval(pg_get_serial_sequence('website_content', 'id'), (SELECT max(id) FROM website_content))
\g /dev/null

COMMIT;
ANALYZE;
