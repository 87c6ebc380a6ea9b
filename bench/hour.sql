-- hour.sql — one hour of application activity for bench/retention.sh's last
-- simulated day, about a 24th of tests/pg/activity.sql's day:
--   psql -v hour=H -v t0="'2025-03-01 00:00+00'" -f hour.sql
-- replies (2 messages) in 0.02% of the open conversations, edits of 0.02%
-- of the messages (all among the newest 5%, as people edit what they just
-- wrote), and the logins of 1/1200 of the users. Deterministic per hour.
\set ON_ERROR_STOP 1
BEGIN;
SELECT setseed(mod(:hour * 104729 + 17, 999983) / 999983.0) \gset
SELECT count(*) AS n_conv FROM conversations \gset
SELECT count(*) AS n_msg, coalesce(max(id), 0) AS max_msg FROM messages \gset
SELECT format('%L::timestamptz', :t0::timestamptz + make_interval(hours => :hour)) AS t \gset

INSERT INTO messages (conversation_id, seq, role, content, tokens, created_at)
SELECT c.id,
       coalesce((SELECT max(seq) FROM messages m WHERE m.conversation_id = c.id), 0) + k,
       CASE k WHEN 1 THEN 'user' ELSE 'assistant' END,
       'hour ' || :hour || ': ' || md5(c.id::text || k || :hour) || repeat(' and more words', 5 + floor(random() * 40)::int),
       60, :t + make_interval(secs => k * 40)
FROM (SELECT id FROM conversations WHERE status = 'open'
      ORDER BY md5(id::text || :hour) LIMIT ceil(:n_conv * 0.0002)::int) c
CROSS JOIN generate_series(1, 2) k
ORDER BY c.id, k;

UPDATE messages
SET content = 'edited at hour ' || :hour || ' ' || content, edited_at = :t + make_interval(secs => id % 3600)
WHERE id > :max_msg - ceil(:n_msg * 0.05) AND id % 250 = (:hour * 37) % 250;

UPDATE users SET last_login_at = :t + make_interval(secs => id % 3600) WHERE id % 1200 = (:hour * 41) % 1200;
COMMIT;
