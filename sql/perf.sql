--
-- perf: no request twice in a statement (the memo), the cross-statement
-- cache (cache_ttl), pacing under a small rate limit with no 429, and the
-- number of requests of a join with a CRM table.  Timings are only ever
-- shown as bounds (booleans).
--
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- API keys from the environment (see setup); statements that carry one are
-- kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`
\set key_beta `printf "%s" "$LEMLIST_TEST_KEY_BETA"`
\set key_window `printf "%s" "$LEMLIST_TEST_KEY_WINDOW"`
SELECT * FROM mock('reset');
SET timezone = 'UTC';
SET datestyle = ISO;

-- masked_requests() comes from setup
-- method, route, status and the number of IDs of each logged request
CREATE TEMP VIEW reqs AS
  SELECT split_part(line, ' ', 1) AS method,
         split_part(split_part(line, ' ', 2), '?', 1) AS route,
         split_part(line, ' ', 3) AS status,
         json_array_length(substring(line FROM '\{.*$')::json -> 'campaignIds') AS ids,
         line
    FROM mock_requests;
-- the lemlist lines of EXPLAIN ANALYZE (no timing), and the plan's nodes
CREATE FUNCTION pg_temp.analyze(q text) RETURNS SETOF text
LANGUAGE sql AS $$
  SELECT regexp_replace(ln, ' \(actual rows=.*$', '')
    FROM masked_explain(q, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF') AS ln
   WHERE ln ~ '(Scan|Join|Loop|lemlist (Batches|List|Requests|Memo|Cache|Rate))'
$$;
-- 150 campaign IDs (cam_00001 .. cam_00151 but cam_00013, which lemlist
-- cannot report on): two batches
CREATE TEMP TABLE ids150 AS
  SELECT array_agg(format('cam_%s', lpad(i::text, 5, '0')) ORDER BY i) AS ids
    FROM generate_series(1, 151) AS i WHERE i <> 13;

--
-- Pacing corrected by lemlist's headers: X-RateLimit-Remaining: 0 and
-- X-RateLimit-Reset (a JavaScript date, here in GMT+0100) say that another
-- client used the key's window up, so the key waits for the reset (in 3 to
-- 4 s), not for a whole window (here 10 s).  With a key of its own, so
-- that no earlier request of the key counts in the window (the cluster
-- paces keys across backends).
--
CREATE SERVER lemlist_window FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', rate_window_ms '10000');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_window
  OPTIONS (api_key :'key_window');
RESET log_statement;
CREATE FOREIGN TABLE campaigns_window (campaign_id text)
  SERVER lemlist_window OPTIONS (resource 'campaigns');
SELECT date_trunc('second', now()) + interval '4 s' AS reset_at,
       to_char(date_trunc('second', now() AT TIME ZONE 'UTC') + interval '1 hour 4 s',
               'Dy Mon DD YYYY HH24:MI:SS') || ' GMT+0100 (Central European Standard Time)'
       AS reset \gset
SELECT * FROM mock(format('fault status route=campaigns status=200 "body=[]" %s %s',
                          'header:X-RateLimit-Remaining=0',
                          quote_ident('header:X-RateLimit-Reset=' || :'reset')));
SELECT count(*) FROM campaigns_window;
SELECT clock_timestamp() < :'reset_at'::timestamptz AS before_the_reset;
SELECT count(*) FROM campaigns_window WHERE campaign_id = 'cam_00001';
SELECT clock_timestamp() >= :'reset_at'::timestamptz AS held_until_the_reset,
       clock_timestamp() < :'reset_at'::timestamptz + interval '2 s' AS not_a_whole_window;
SELECT method, route, status, count(*) FROM reqs GROUP BY 1, 2, 3;
DROP FOREIGN TABLE campaigns_window;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_window;
DROP SERVER lemlist_window;

--
-- The memo: campaign_stats joined to campaign_step_stats under the same
-- filters sends each batch once; the second scan is answered by the memo
--
SELECT * FROM mock('reset');
SELECT count(*) AS step_rows, count(DISTINCT s.campaign_id) AS campaigns,
       sum(t.sent) = sum(DISTINCT s.messages_sent) IS NOT NULL AS joined
  FROM lemlist.campaign_stats s
  JOIN lemlist.campaign_step_stats t
    ON t.campaign_id = s.campaign_id
 WHERE s.campaign_id = ANY ((SELECT ids FROM ids150)::text[])
   AND t.campaign_id = ANY ((SELECT ids FROM ids150)::text[])
   AND s.start_date >= '2025-01-01' AND t.start_date >= '2025-01-01'
   AND s.end_date <= '2025-06-30' AND t.end_date <= '2025-06-30';
SELECT method, route, status, ids FROM reqs ORDER BY ids;
SELECT count(*) AS requests, count(DISTINCT line) AS distinct_requests FROM reqs;
-- EXPLAIN ANALYZE shows where the answers came from
SELECT * FROM mock('reset');
SELECT * FROM pg_temp.analyze($$
SELECT count(*)
  FROM lemlist.campaign_stats s
  JOIN lemlist.campaign_step_stats t
    ON t.campaign_id = s.campaign_id
 WHERE s.campaign_id = ANY ((SELECT ids FROM ids150)::text[])
   AND t.campaign_id = ANY ((SELECT ids FROM ids150)::text[])
   AND s.start_date >= '2025-01-01' AND t.start_date >= '2025-01-01'
   AND s.end_date <= '2025-06-30' AND t.end_date <= '2025-06-30'
$$);
SELECT count(*) AS requests FROM reqs;
-- with TIMING it also shows the time with requests in flight, waiting for
-- the pacing and for back-offs, and decoding the answers (as bounds here)
CREATE FUNCTION pg_temp.timings(q text, OUT api boolean, OUT decode boolean,
                                OUT pacing boolean, OUT backoff boolean)
LANGUAGE plpgsql AS $$
DECLARE
  scan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO scan;
  scan := scan -> 0 -> 'Plan';
  api := (scan ->> 'lemlist API Time')::float8 > 0;
  decode := (scan ->> 'lemlist Decode Time')::float8 > 0;
  pacing := (scan ->> 'lemlist Pacing Wait')::float8 >= 0;
  backoff := (scan ->> 'lemlist Backoff Wait')::float8 >= 0;
END
$$;
SELECT * FROM pg_temp.timings($$
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = ANY ((SELECT ids FROM ids150)::text[])
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
$$);

-- without campaign_id conditions both scans list the team's campaigns: the
-- list pages and the batches are each sent once too
SELECT * FROM mock('reset');
SELECT count(DISTINCT s.campaign_id) AS campaigns
  FROM lemlist.campaign_stats s
  JOIN lemlist.campaign_step_stats t ON t.campaign_id = s.campaign_id
 WHERE s.start_date >= '2025-01-01' AND t.start_date >= '2025-01-01'
   AND s.end_date <= '2025-06-30' AND t.end_date <= '2025-06-30';
SELECT method, route, status, ids FROM reqs ORDER BY method, ids, line;

-- a self-join with different filters shares nothing: different requests
SELECT * FROM mock('reset');
SELECT a.campaign_id, a.replied, b.replied AS replied_in_march
  FROM lemlist.campaign_stats a
  JOIN lemlist.campaign_stats b ON b.campaign_id = a.campaign_id
 WHERE a.campaign_id = 'cam_00002' AND b.campaign_id = 'cam_00002'
   AND a.start_date >= '2025-01-01' AND a.end_date <= '2025-06-30'
   AND b.start_date >= '2025-03-01' AND b.end_date <= '2025-03-31';
SELECT * FROM masked_requests();

--
-- A nested loop that rescans with an ID it already fetched sends nothing
--
CREATE TEMP TABLE visits (campaign_id text);
INSERT INTO visits VALUES ('cam_00002'), ('cam_00007'), ('cam_00002'),
  ('cam_00007'), ('cam_00002'), ('cam_00001');
ANALYZE visits;
-- PostgreSQL's own cache of rescans (from 14 on; 13 has none)
DO $$ BEGIN PERFORM set_config(name, 'off', false) FROM pg_settings WHERE name = 'enable_memoize'; END $$;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT * FROM mock('reset');
SELECT v.campaign_id, s.replied
  FROM visits v,
       LATERAL (SELECT * FROM lemlist.campaign_stats s
                 WHERE s.campaign_id = v.campaign_id
                   AND s.start_date >= '2025-01-01'
                   AND s.end_date <= '2025-06-30' OFFSET 0) s
 ORDER BY 1, 2;
SELECT * FROM masked_requests();
SELECT * FROM mock('reset');
SELECT * FROM pg_temp.analyze($$
SELECT v.campaign_id, s.replied
  FROM visits v,
       LATERAL (SELECT * FROM lemlist.campaign_stats s
                 WHERE s.campaign_id = v.campaign_id
                   AND s.start_date >= '2025-01-01'
                   AND s.end_date <= '2025-06-30' OFFSET 0) s
$$);
SELECT count(*) AS requests FROM reqs;
-- the memo lives for one statement: running it again sends again
SELECT * FROM mock('reset');
SELECT count(*) FROM visits v,
       LATERAL (SELECT * FROM lemlist.campaign_stats s
                 WHERE s.campaign_id = v.campaign_id
                   AND s.start_date >= '2025-01-01'
                   AND s.end_date <= '2025-06-30' OFFSET 0) s;
SELECT count(*) AS requests FROM reqs;
-- lemlist_fdw.memo_budget = 0 turns the memo off
SET lemlist_fdw.memo_budget = 0;
SELECT * FROM mock('reset');
SELECT count(*) FROM visits v,
       LATERAL (SELECT * FROM lemlist.campaign_stats s
                 WHERE s.campaign_id = v.campaign_id
                   AND s.start_date >= '2025-01-01'
                   AND s.end_date <= '2025-06-30' OFFSET 0) s;
SELECT count(*) AS requests FROM reqs;
RESET lemlist_fdw.memo_budget;
SHOW lemlist_fdw.memo_budget;
-- a budget too small for an answer keeps nothing (each answer is ~1 kB)
SET lemlist_fdw.memo_budget = '1kB';
SELECT * FROM mock('reset');
SELECT count(*) FROM visits v,
       LATERAL (SELECT * FROM lemlist.campaign_stats s
                 WHERE s.campaign_id = v.campaign_id
                   AND s.start_date >= '2025-01-01'
                   AND s.end_date <= '2025-06-30' OFFSET 0) s;
SELECT count(*) AS requests FROM reqs;
RESET lemlist_fdw.memo_budget;
DO $$ BEGIN PERFORM set_config(name, reset_val, false) FROM pg_settings WHERE name = 'enable_memoize'; END $$;
RESET enable_hashjoin;
RESET enable_mergejoin;

--
-- cache_ttl: answers reused across statements while younger than it
--
CREATE FOREIGN TABLE stats_cached (campaign_id text, start_date timestamptz,
                                   end_date timestamptz, replied integer)
  SERVER lemlist OPTIONS (resource 'campaign_stats', cache_ttl '2');
SELECT * FROM mock('reset');
SELECT campaign_id, replied FROM stats_cached
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
-- the same query again: from the cache, nothing sent
SELECT * FROM pg_temp.analyze($$
SELECT campaign_id, replied FROM stats_cached
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
$$);
SELECT campaign_id, replied FROM stats_cached
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
SELECT count(*) AS requests FROM reqs;
-- another request (other dates) is not in the cache
SELECT campaign_id, replied FROM stats_cached
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2025-02-01' AND end_date <= '2025-06-30' ORDER BY 1;
SELECT count(*) AS requests FROM reqs;
-- a table without cache_ttl never reads the cache
SELECT campaign_id, replied FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
SELECT count(*) AS requests FROM reqs;
-- once the answer is older than cache_ttl, the request is sent again
SELECT pg_sleep(2.1);
SELECT campaign_id, replied FROM stats_cached
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
SELECT count(*) AS requests FROM reqs;
SELECT * FROM masked_requests();
-- cache_ttl on the server applies to its tables; the table's wins
CREATE SERVER lemlist_cached FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', cache_ttl '600');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_cached
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_server_cached (campaign_id text, replied integer)
  SERVER lemlist_cached OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE stats_server_uncached (campaign_id text, replied integer)
  SERVER lemlist_cached OPTIONS (resource 'campaign_stats', cache_ttl '0');
SELECT * FROM mock('reset');
SELECT replied FROM stats_server_cached WHERE campaign_id = 'cam_00003';
SELECT replied FROM stats_server_cached WHERE campaign_id = 'cam_00003';
SELECT count(*) AS requests FROM reqs;
SELECT replied FROM stats_server_uncached WHERE campaign_id = 'cam_00004';
SELECT replied FROM stats_server_uncached WHERE campaign_id = 'cam_00004';
SELECT count(*) AS requests FROM reqs;
-- validation: seconds from 0 to 2592000 (30 days), on servers and tables only
ALTER SERVER lemlist_cached OPTIONS (SET cache_ttl '-1');
ALTER SERVER lemlist_cached OPTIONS (SET cache_ttl '2592001');
ALTER SERVER lemlist_cached OPTIONS (SET cache_ttl 'ten');
ALTER USER MAPPING FOR CURRENT_USER SERVER lemlist_cached OPTIONS (ADD cache_ttl '5');
ALTER FOREIGN TABLE stats_cached ALTER COLUMN replied OPTIONS (ADD cache_ttl '5');
ALTER FOREIGN TABLE stats_cached OPTIONS (SET cache_ttl '2592000');
DROP FOREIGN TABLE stats_server_cached, stats_server_uncached;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_cached;
DROP SERVER lemlist_cached;

--
-- Pacing: the mock allows 3 requests per second and the server paces at 3
-- per second: 10 batches take at least 3 more windows, and none gets 429
--
CREATE SERVER lemlist_paced FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', rate_limit '3', rate_window_ms '1000',
           max_parallel '8', max_retries '0');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_paced
  OPTIONS (api_key :'key_beta');
RESET log_statement;
CREATE FOREIGN TABLE stats_paced (campaign_id text, replied integer)
  SERVER lemlist_paced OPTIONS (resource 'campaign_stats');
-- the scan of campaigns first .. last, as text (\gexec runs it)
CREATE FUNCTION pg_temp.paced_scan(first int, last int) RETURNS text
LANGUAGE sql AS $$
  SELECT format('SELECT count(*), count(replied) FROM stats_paced
                  WHERE campaign_id = ANY (ARRAY(SELECT format(''cam_%%s'', lpad(i::text, 5, ''0''))
                                                   FROM generate_series(%s, %s) AS i))', first, last)
$$;
SELECT * FROM mock('reset');
SELECT * FROM mock('config rate_limit=3 rate_window_ms=1000 campaigns=1100 latency_ms=20');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.paced_scan(14, 1013) \gexec
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '3 s' AS paced,
       clock_timestamp() - :'t0'::timestamptz < interval '10 s' AS not_stuck;
SELECT count(*) AS requests, count(*) FILTER (WHERE status = '429') AS rate_limited,
       sum(ids) AS ids
  FROM reqs;

--
-- Shared pacing: the test cluster preloads lemlist_fdw, so backends that
-- share a key pace together through shared memory.  Two backends (the
-- other one through dblink) ask for 6 batches each at the same time, on the
-- same server (max_retries 0), under the mock's limit of 3 requests per
-- second: all 12 requests answered, none 429, in at least 3 windows.
-- Pacing on its own, each backend would send 3 in the first window, and 3
-- of them would be 429.
--
SELECT 'lemlist_fdw' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'),
                                                    ' ', ''), ',')) AS preloaded;
CREATE EXTENSION dblink;
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s',
                                      split_part(current_setting('unix_socket_directories'), ',', 1),
                                      current_setting('port'), current_database()));
SELECT * FROM mock('reset');
SELECT * FROM mock('config rate_limit=3 rate_window_ms=1000 campaigns=1300 latency_ms=20');
SELECT clock_timestamp() AS t0 \gset
SELECT dblink_send_query('other', pg_temp.paced_scan(14, 613));
SELECT pg_temp.paced_scan(614, 1213) \gexec
SELECT * FROM dblink_get_result('other') AS t(n bigint, replied bigint);
SELECT * FROM dblink_get_result('other') AS t(n bigint, replied bigint);	-- the end of it
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '3 s' AS paced,
       clock_timestamp() - :'t0'::timestamptz < interval '10 s' AS not_stuck;
SELECT count(*) AS requests, count(*) FILTER (WHERE status = '429') AS rate_limited,
       sum(ids) AS ids
  FROM reqs;
-- lemlist_fdw_pacing() shows the key, by its hash (hashtextextended with
-- lemlist_fdw's seed computes the same), in the shared table, with the
-- server's limits and lemlist's, and the time its requests waited
SET log_statement = 'none';
SELECT key_hash = left(lpad(to_hex(hashtextextended(:'key_beta', x'6c656d6c69737466'::bigint)), 16, '0'), 12)
         AS hash_of_the_key,
       shared, window_ms, rate_limit, limit_from_lemlist, rate_limited,
       waited_ms > 0 AS waited, requests_in_window BETWEEN 1 AND 12 AS in_window,
       last_used > :'t0'::timestamptz AS used_now
  FROM lemlist_fdw_pacing()
 WHERE key_hash = left(lpad(to_hex(hashtextextended(:'key_beta', x'6c656d6c69737466'::bigint)), 16, '0'), 12);
RESET log_statement;

--
-- Shared pacing paces every key in use, however many: 12 keys, each asked
-- for 2 batches by each of the two backends at the same time, in the same
-- order, under the mock's limit of 3 requests per 500 ms per key: none is
-- 429 (a table of 8 keys forgot keys in use and earned 429s).  The keys
-- regress-many-001 .. 300 are no secret: test/lib.sh gives them to the mock.
--
SHOW lemlist_fdw.max_shared_keys;
CREATE FUNCTION pg_temp.many_ddl(sql text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 300 LOOP
    EXECUTE replace(sql, 'NNN', lpad(i::text, 3, '0'));
  END LOOP;
END
$$;
SELECT pg_temp.many_ddl(format($f$CREATE SERVER perf_many_NNN FOREIGN DATA WRAPPER lemlist_fdw
                                    OPTIONS (api_url %L, rate_limit '3', rate_window_ms '500',
                                             max_parallel '8', max_retries '0')$f$, :'api_url'));
SELECT pg_temp.many_ddl($f$CREATE USER MAPPING FOR CURRENT_USER SERVER perf_many_NNN
                             OPTIONS (api_key 'regress-many-NNN')$f$);
SELECT pg_temp.many_ddl($f$CREATE FOREIGN TABLE perf_many_NNN (campaign_id text, replied integer)
                             SERVER perf_many_NNN OPTIONS (resource 'campaign_stats')$f$);
-- the scans of keys first .. last, in order: 150 campaigns (2 batches) each
CREATE FUNCTION pg_temp.many_scans(first int, last int) RETURNS text
LANGUAGE sql AS $$
  SELECT format('SELECT sum(n) FROM (%s) AS s',
                string_agg(format('SELECT count(replied) AS n FROM perf_many_%s
                                    WHERE campaign_id = ANY (ARRAY(SELECT format(''cam_%%s'', lpad(i::text, 5, ''0''))
                                                                     FROM generate_series(14, 163) AS i))',
                                  lpad(k::text, 3, '0')), ' UNION ALL ' ORDER BY k))
    FROM generate_series(first, last) AS k
$$;
CREATE FUNCTION pg_temp.run(q text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
  n numeric;
BEGIN
  EXECUTE q INTO n;
  RETURN n;
END
$$;
SELECT * FROM mock('reset');
SELECT * FROM mock('config rate_limit=3 rate_window_ms=500 campaigns=200 latency_ms=20');
SELECT clock_timestamp() AS t0 \gset
SELECT dblink_send_query('other', pg_temp.many_scans(1, 12));
-- (10 ms apart: statements started in the same millisecond would send the
-- same default end date, and the same requests once for both backends)
SELECT pg_sleep(0.01);
SELECT pg_temp.run(pg_temp.many_scans(1, 12));
SELECT * FROM dblink_get_result('other') AS t(n numeric);
SELECT * FROM dblink_get_result('other') AS t(n numeric);	-- the end of it
SELECT count(*) AS requests, count(*) FILTER (WHERE status = '429') AS rate_limited
  FROM reqs;
SELECT count(*) AS keys, bool_and(shared) AS shared, sum(rate_limited) AS rate_limited
  FROM lemlist_fdw_pacing() WHERE last_used > :'t0'::timestamptz;


--
-- A CRM table of 1,000 deals over 300 distinct campaigns, joined to
-- campaign_stats: at most 3 batch requests, plus the list pages when the
-- plan lists the team's campaigns (here a team of 300; cam_00013 is the
-- archived campaign lemlist has no statistics for)
--
CREATE TEMP TABLE deals (deal_id int, account text, lemlist_campaign_id text);
INSERT INTO deals
  SELECT d, format('account %s', d % 97),
         format('cam_%s', lpad(((d * 7) % 300 + 1)::text, 5, '0'))
    FROM generate_series(1, 1000) AS d;
ANALYZE deals;
SELECT count(*) AS deals, count(DISTINCT lemlist_campaign_id) AS campaigns FROM deals;
-- the idiom: the IDs in one array, one request per 100 distinct campaigns
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=300');
SELECT count(*) AS deals, sum(s.replied) > 0 AS replies
  FROM deals d
  JOIN lemlist.campaign_stats s ON s.campaign_id = d.lemlist_campaign_id
 WHERE s.campaign_id = ANY (ARRAY(SELECT lemlist_campaign_id FROM deals))
   AND s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30';
SELECT method, route, status, ids FROM reqs ORDER BY ids DESC;
-- the plain join: the batched join sends the same three batches, without
-- listing the team's campaigns nor sending a request per deal
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=300');
SELECT count(*) AS deals, sum(s.replied) > 0 AS replies
  FROM deals d
  JOIN lemlist.campaign_stats s ON s.campaign_id = d.lemlist_campaign_id
 WHERE s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30';
SELECT method, route, count(*) AS requests, sum(ids) AS ids
  FROM reqs GROUP BY 1, 2 ORDER BY 1;

--
-- 300 keys, more than the shared table's 256: a key finds a free entry, or
-- one whose key has had no request for a window, never one in use; beyond, each
-- backend paces the key on its own and says so once, with a WARNING.  Each
-- backend asks for one batch per key, in opposite orders: none is 429.
--
SELECT pg_temp.many_ddl($f$ALTER SERVER perf_many_NNN OPTIONS (SET rate_window_ms '2000')$f$);
SELECT * FROM mock('reset');
SELECT * FROM mock('config rate_limit=3 rate_window_ms=2000 campaigns=200');
SELECT clock_timestamp() AS t0 \gset
CREATE FUNCTION perf_one_batch_each(first int, last int, step int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  total bigint := 0;
  n bigint;
  k int;
BEGIN
  FOR k IN SELECT generate_series(first, last, step) LOOP
    EXECUTE format('SELECT count(replied) FROM perf_many_%s WHERE campaign_id = ''cam_00001''',
                   lpad(k::text, 3, '0')) INTO n;
    total := total + n;
  END LOOP;
  RETURN total;
END
$$;
SELECT dblink_send_query('other', 'SELECT perf_one_batch_each(300, 1, -1)');
SELECT pg_sleep(0.01);
SELECT perf_one_batch_each(1, 300, 1);
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT * FROM dblink_get_result('other') AS t(n bigint);	-- the end of it
SELECT count(*) AS requests, count(*) FILTER (WHERE status = '429') AS rate_limited
  FROM reqs;
-- (the shared table also holds the keys earlier suites used less than a
-- window ago; this backend's own table holds its 8 latest keys)
SELECT count(*) FILTER (WHERE shared) BETWEEN 200 AND 256 AS shared_keys,
       count(*) FILTER (WHERE NOT shared) AS own_keys,
       coalesce(sum(rate_limited), 0) AS rate_limited
  FROM lemlist_fdw_pacing() WHERE last_used > :'t0'::timestamptz;
-- a window later no key is in use: what comes next (the README cookbook)
-- finds room in the shared table
SELECT pg_sleep(2.3);
DROP FUNCTION perf_one_batch_each(int, int, int);
SET client_min_messages = warning;
SELECT pg_temp.many_ddl('DROP SERVER perf_many_NNN CASCADE');
RESET client_min_messages;
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;
DROP FOREIGN TABLE stats_paced;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_paced;
DROP SERVER lemlist_paced;


-- clean up
SELECT * FROM mock('reset');
DROP FOREIGN TABLE stats_cached;
DROP TABLE visits, deals, ids150;
