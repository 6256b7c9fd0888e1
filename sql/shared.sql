--
-- shared: answers shared by the backends of the cluster.  The test cluster
-- preloads lemlist_fdw, so the store is in the main shared memory segment
-- (lemlist_fdw.shared_cache_size = 2 MB there).  A second session, through
-- dblink, reads what this one fetched (cache_ttl), or waits for a request
-- this one sends (single flight); keys never share answers; a sender that
-- is cancelled, terminated or answered with an error hands nothing on.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`
\set key_beta `printf "%s" "$LEMLIST_TEST_KEY_BETA"`
\set key_wrong `printf "%s" "$LEMLIST_TEST_KEY_WRONG"`

SELECT scope, memory_from, size_bytes > 1000000 AS sized, note
  FROM lemlist_fdw_cache();

CREATE SERVER shared_srv FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0', cache_ttl '300');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER shared_srv OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE SCHEMA shared;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats, campaign_step_stats)
  FROM SERVER shared_srv INTO shared;
-- the same team without a cache: single flight only
CREATE FOREIGN TABLE shared.stats_nocache (campaign_id text, start_date timestamptz,
                                           end_date timestamptz, nb_leads bigint)
  SERVER shared_srv OPTIONS (resource 'campaign_stats', cache_ttl '0');
GRANT USAGE ON SCHEMA shared TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA shared TO PUBLIC;

CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s',
                                      split_part(current_setting('unix_socket_directories'), ',', 1),
                                      current_setting('port'), current_database()));
SELECT dblink_exec('other', 'SET timezone = ''UTC''');

-- a query of the other session, as (line) rows
CREATE FUNCTION other_explain(q text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(line, '[0-9.]+ ms', 'N ms'), 'rows=(\d+)\.00', 'rows=\1')
    FROM dblink('other', 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) ' || q)
      AS t(line text)
$$;
CREATE FUNCTION cache_counts() RETURNS TABLE (entries bigint, hits bigint, misses bigint,
                                              shared_waits bigint)
LANGUAGE sql AS $$ SELECT entries, hits, misses, shared_waits FROM lemlist_fdw_cache() $$;
CREATE TEMP TABLE c0 AS SELECT * FROM cache_counts();

--
-- The cache: this session reads 3 campaigns for the first half of 2025
-- (one request); the other session reads the same (no request), and its
-- EXPLAIN ANALYZE says where the answer came from
--
SELECT campaign_id, nb_leads FROM shared.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
SELECT * FROM other_explain($$SELECT campaign_id, nb_leads FROM shared.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT * FROM mock('requests');
SELECT c.entries - c0.entries AS entries, c.hits - c0.hits AS hits,
       c.misses - c0.misses AS misses
  FROM cache_counts() c, c0;

-- another date range is another request
SELECT * FROM mock('reset');
SELECT count(*) FROM dblink('other', $$SELECT campaign_id FROM shared.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-02-01' AND end_date <= '2025-06-30'$$)
  AS t(c text);
SELECT * FROM mock('requests');

--
-- No end date: the end sent is the statement's start.  The other session,
-- a moment later, is served that answer (its own statement starts within
-- cache_ttl of it); a table without a cache_ttl sends its own
--
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM shared.campaign_stats
 WHERE campaign_id = 'cam_00004' AND start_date >= '2025-01-01';
SELECT pg_sleep(0.01);
SELECT * FROM dblink('other', $$SELECT campaign_id, nb_leads FROM shared.campaign_stats
 WHERE campaign_id = 'cam_00004' AND start_date >= '2025-01-01'$$) AS t(c text, n bigint);
SELECT count(*) AS requests FROM mock('requests');
SELECT * FROM dblink('other', $$SELECT campaign_id, nb_leads FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00004' AND start_date >= '2025-01-01'$$) AS t(c text, n bigint);
SELECT count(*) AS requests FROM mock('requests');

--
-- Keys never share answers.  A role whose mapping holds another key sends
-- its own request; a role whose key lemlist rejects gets lemlist's 401, as
-- it would with an empty cache
--
CREATE ROLE shared_beta;
CREATE ROLE shared_wrong;
GRANT USAGE ON SCHEMA shared TO shared_beta, shared_wrong;
SET log_statement = 'none';
CREATE USER MAPPING FOR shared_beta SERVER shared_srv OPTIONS (api_key :'key_beta');
CREATE USER MAPPING FOR shared_wrong SERVER shared_srv OPTIONS (api_key :'key_wrong');
RESET log_statement;
SELECT * FROM mock('reset');
SET ROLE shared_beta;
SELECT campaign_id, nb_leads FROM shared.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
RESET ROLE;
SELECT * FROM mock('requests');
SET ROLE shared_wrong;
\set VERBOSITY terse
SELECT campaign_id, nb_leads FROM shared.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
\set VERBOSITY default
RESET ROLE;
SELECT count(*) AS requests FROM mock('requests');
-- each key's answer is kept apart: beta reads its own again, without a request
SELECT * FROM mock('reset');
SET ROLE shared_beta;
SELECT count(*) FROM shared.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
RESET ROLE;
SELECT count(*) AS requests FROM mock('requests');

--
-- Single flight: the other session's request is slow (a second of latency);
-- this session asks the same while it is in flight, and waits for its answer:
-- one request for both, no cache involved
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=1000');
SELECT dblink_send_query('other', $$SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00010' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT pg_sleep(0.4);
SELECT line FROM masked_explain($$SELECT campaign_id, nb_leads FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00010' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$,
  'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF') AS line;
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT * FROM mock('requests');

-- the waiting backend shows the wait (LemlistSharedAnswer from 17 on),
-- seen by a third session 400 ms into it
SELECT dblink_connect('watcher', format('host=%s port=%s dbname=%s',
                                        split_part(current_setting('unix_socket_directories'), ',', 1),
                                        current_setting('port'), current_database()));
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=1500');
SELECT dblink_send_query('other', $$SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00011' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT pg_sleep(0.4);
SELECT dblink_send_query('watcher', format(
  'SELECT pg_sleep(0.4)::text, wait_event FROM pg_stat_activity WHERE pid = %s', pg_backend_pid()));
SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00011' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT CASE WHEN current_setting('server_version_num')::int >= 170000
            THEN wait_event = 'LemlistSharedAnswer' ELSE wait_event = 'Extension' END AS named_wait
  FROM dblink_get_result('watcher') AS t(s text, wait_event text);
SELECT * FROM dblink_get_result('watcher') AS t(s text, wait_event text);
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT count(*) AS requests FROM mock('requests');

--
-- The sender is cancelled while this session waits: this session sends the
-- request itself, and never sees the other's cancel
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault hang route=stats ms=5000');
SELECT dblink_send_query('other', $$SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00012' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT pg_sleep(0.4);
SELECT pid AS other_pid FROM pg_stat_activity
 WHERE query LIKE '%cam_00012%' AND pid <> pg_backend_pid() AND backend_type = 'client backend' \gset
-- cancel the other session 300 ms from now, while this one waits
SELECT dblink_send_query('watcher', format('SELECT pg_sleep(0.3), pg_cancel_backend(%s)', :other_pid));
SELECT clock_timestamp() AS t0 \gset
SELECT campaign_id, nb_leads FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00012' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 s' AS not_stuck;
SELECT * FROM dblink_get_result('watcher') AS t(s text, c boolean);
SELECT * FROM dblink_get_result('watcher') AS t(s text, c boolean);
\set VERBOSITY terse
SELECT * FROM dblink_get_result('other') AS t(n bigint);
\set VERBOSITY default
SELECT * FROM dblink_get_result('other') AS t(n bigint);
-- two requests: the cancelled one (never answered) and this session's own
SELECT line FROM mock('requests') AS line ORDER BY 1;

--
-- The sender is terminated while this session waits: the same
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault hang route=stats ms=5000');
SELECT dblink_send_query('other', $$SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00016' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT pg_sleep(0.4);
SELECT pid AS other_pid FROM pg_stat_activity
 WHERE query LIKE '%cam_00016%' AND pid <> pg_backend_pid() AND backend_type = 'client backend' \gset
SELECT dblink_send_query('watcher', format('SELECT pg_sleep(0.3), pg_terminate_backend(%s)', :other_pid));
SELECT clock_timestamp() AS t0 \gset
SELECT campaign_id, nb_leads FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00016' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 s' AS not_stuck;
SELECT * FROM dblink_get_result('watcher') AS t(s text, c boolean);
SELECT * FROM dblink_get_result('watcher') AS t(s text, c boolean);
SELECT dblink_disconnect('other');
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s',
                                      split_part(current_setting('unix_socket_directories'), ',', 1),
                                      current_setting('port'), current_database()));
SELECT line FROM mock('requests') AS line ORDER BY 1;

--
-- The sender's answer is an error (a 503 after a second, no retries): it is
-- never handed to this session, which sends the request itself and gets
-- its rows
--
SELECT * FROM mock('reset');
SELECT * FROM mock('config latency_ms=1000');
SELECT * FROM mock('fault status route=stats status=503');
SELECT dblink_send_query('other', $$SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00014' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT pg_sleep(0.4);
SELECT campaign_id, nb_leads FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00014' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
\set VERBOSITY terse
SELECT * FROM dblink_get_result('other') AS t(n bigint);
\set VERBOSITY default
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT line FROM mock('requests') AS line ORDER BY 1;

--
-- A wait is cancellable: statement_timeout while another session's request
-- hangs
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault hang route=stats ms=3000');
SELECT dblink_send_query('other', $$SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00015' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT pg_sleep(0.4);
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM shared.stats_nocache
 WHERE campaign_id = 'cam_00015' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
ROLLBACK;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '300 ms' AS canceled_in_time;
SELECT * FROM mock('reset');
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT * FROM dblink_get_result('other') AS t(n bigint);

--
-- Dropping a server's answers: its owner or a superuser; then a read sends
-- its request again
--
SELECT * FROM mock('reset');
SELECT lemlist_fdw_cache_drop('shared_srv') > 0 AS dropped;
SELECT count(*) FROM shared.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT count(*) AS requests FROM mock('requests');
SET ROLE shared_beta;
SELECT lemlist_fdw_cache_drop('shared_srv');
SELECT * FROM lemlist_fdw_cache();
RESET ROLE;
SELECT lemlist_fdw_cache_drop('no_such_server');

--
-- Bounded: 1,200 answers of different requests in a store of 2 MB; the
-- least recently used are evicted, what is kept stays within the store
--
SELECT * FROM mock('config rate_limit=100000');
ALTER SERVER shared_srv OPTIONS (ADD rate_limit '1000');
CREATE TEMP TABLE b0 AS SELECT * FROM lemlist_fdw_cache();
DO $$
BEGIN
  FOR i IN 1..1200 LOOP
    EXECUTE format('SELECT count(*) FROM shared.campaign_stats
                     WHERE campaign_id = %L AND start_date >= %L AND end_date <= %L',
                   format('cam_%s', lpad((i % 200 + 20)::text, 5, '0')), '2025-01-01',
                   timestamptz '2025-06-30' - make_interval(secs => i));
  END LOOP;
END $$;
SELECT c.size_bytes = b0.size_bytes AS same_size, c.bytes <= c.size_bytes AS within,
       c.evictions > b0.evictions AS evicted, c.in_flight AS in_flight
  FROM lemlist_fdw_cache() c, b0;
ALTER SERVER shared_srv OPTIONS (DROP rate_limit);

SELECT dblink_disconnect('watcher');
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;
SELECT * FROM mock('reset');
