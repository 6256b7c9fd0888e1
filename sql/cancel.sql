--
-- cancel: a cancel (statement_timeout, pg_cancel_backend) stops a request in
-- flight, a pacing wait or a retry back-off within 200 ms, with the usual
-- "query canceled" error (SQLSTATE 57014), and the session works right after.
-- Elapsed times are asserted as booleans, never printed.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_beta `printf "%s" "$LEMLIST_TEST_KEY_BETA"`
\set key_held `printf "%s" "$LEMLIST_TEST_KEY_HELD"`

-- queries read the first half of 2025 so that request bodies are fixed
CREATE VIEW cancel_h1 AS
  SELECT * FROM lemlist.campaign_stats
   WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30';
-- the requests the mock received, numbered in arrival order, with and
-- without their bodies
CREATE VIEW cancel_requests AS
  SELECT n, line FROM mock('requests') WITH ORDINALITY AS r(line, n);
CREATE VIEW cancel_lines AS
  SELECT n, regexp_replace(line, ' \{.*$', '') AS line FROM cancel_requests;

--
-- statement_timeout while a request is in flight: the mock never answers
--
SELECT * FROM mock('fault hang route=stats ms=10000');
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT clock_timestamp() AS t0 \gset
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz < interval '300 ms' AS canceled_in_time;
-- the request was sent, and nothing answered it
SELECT line FROM cancel_lines ORDER BY n;
-- the session works: exactly one more request, answered
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';
SELECT line FROM cancel_lines ORDER BY n;

-- the same while listing the team's campaigns (GET /campaigns)
SELECT * FROM mock('reset');
SELECT * FROM mock('fault hang route=campaigns ms=10000');
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM lemlist.campaigns;
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz < interval '300 ms' AS canceled_in_time;
SELECT count(*) FROM lemlist.campaigns;
SELECT line FROM cancel_lines ORDER BY n;

-- the same while a slow answer is on its way (2 s of latency)
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=2000');
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT clock_timestamp() AS t0 \gset
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz < interval '300 ms' AS canceled_in_time;
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';

--
-- statement_timeout during a pacing wait: rate_limit 1 per minute, so the
-- second query must wait for a minute before its request may start
--
CREATE SERVER lemlist_paced FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', rate_limit '1', rate_window_ms '60000');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_paced
  OPTIONS (api_key :'key_beta');
RESET log_statement;
CREATE FOREIGN TABLE stats_paced (campaign_id text, start_date timestamptz,
                                  end_date timestamptz, nb_leads integer)
  SERVER lemlist_paced OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT nb_leads FROM stats_paced
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT clock_timestamp() AS t0 \gset
SELECT nb_leads FROM stats_paced
 WHERE campaign_id = 'cam_00002'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz < interval '300 ms' AS canceled_in_time;
-- only the first query's request reached the API
SELECT * FROM mock_requests;
-- another key is not held up, and nothing of the canceled query is sent later
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00002';
SELECT line FROM cancel_requests ORDER BY n;

--
-- statement_timeout during a retry back-off: a 500 that asks for 30 s
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=500 header:Retry-After=30');
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT clock_timestamp() AS t0 \gset
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz < interval '300 ms' AS canceled_in_time;
SELECT line FROM cancel_lines ORDER BY n;
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';
SELECT line FROM cancel_lines ORDER BY n;

-- and during the wait after a 429 with Retry-After: 30.  A 429 holds the
-- whole API key, so this uses a server with a key of its own (a status fault
-- answers before the key is checked).
CREATE SERVER lemlist_held FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_held
  OPTIONS (api_key :'key_held');
RESET log_statement;
CREATE FOREIGN TABLE stats_held (campaign_id text, start_date timestamptz,
                                 end_date timestamptz, nb_leads integer)
  SERVER lemlist_held OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=429 header:Retry-After=30');
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT clock_timestamp() AS t0 \gset
SELECT nb_leads FROM stats_held
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz < interval '300 ms' AS canceled_in_time;
SELECT line FROM cancel_lines ORDER BY n;
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';

--
-- pg_cancel_backend from a second connection.  cancel_me_in(delay) starts,
-- in the background, a psql that waits delay seconds, then cancels this
-- backend and logs when it did so in cancel_log, with what
-- pg_stat_activity said this backend waited for just before.  The bound
-- (300 ms from the cancel to the next statement of this session) includes
-- psql's round trip.
--
CREATE TABLE cancel_log (canceled boolean, at timestamptz,
                         wait_event_type text, wait_event text);
CREATE TABLE cancel_out (line text);
CREATE FUNCTION cancel_me_in(delay numeric) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  sql text := format('WITH w AS MATERIALIZED (SELECT wait_event_type, wait_event '
                     '                        FROM pg_stat_activity WHERE pid = %s) '
                     'INSERT INTO cancel_log '
                     'SELECT pg_cancel_backend(%s), clock_timestamp(), wait_event_type, wait_event '
                     '  FROM w',
                     pg_backend_pid(), pg_backend_pid());
  cmd text;
BEGIN
  -- The psql of this server's bin directory (the shell's parent is this
  -- backend) runs in a session of its own: pg_cancel_backend signals the
  -- backend's whole process group, which the shell would otherwise be in.
  -- The values are single-quoted for the shell; none of them holds a quote.
  cmd := format('bin=$(dirname "$(readlink /proc/$PPID/exe)"); '
                'setsid sh -c ''sleep "$1"; "$2/psql" -X -q -h "$3" -p "$4" -U "$5" -d "$6" -c "$7"'' '
                'sh %s "$bin" %s %s %s %s %s </dev/null >/dev/null 2>&1 &',
                delay, quote_literal(current_setting('unix_socket_directories')),
                current_setting('port'), quote_literal(current_user),
                quote_literal(current_database()), quote_literal(sql));
  EXECUTE format('COPY cancel_out FROM PROGRAM %L', cmd);
END
$$;

-- cancel_logged(): wait (at most 5 s) until the other session has logged
CREATE FUNCTION cancel_logged() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    IF EXISTS (SELECT FROM cancel_log) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END
$$;

-- the wait event a DBA sees in pg_stat_activity: from PostgreSQL 17 on, one
-- of lemlist_fdw's own (LemlistRequest, LemlistPacing), "Extension" before
CREATE FUNCTION cancel_wait_named(expected text) RETURNS TABLE (wait_event_type text, named boolean)
LANGUAGE sql AS $$
  SELECT wait_event_type,
         wait_event = CASE WHEN current_setting('server_version_num')::int >= 170000
                           THEN expected ELSE 'Extension' END
    FROM cancel_log
$$;

-- while a request is in flight
SELECT * FROM mock('reset');
SELECT * FROM mock('fault hang route=stats ms=5000');
SELECT cancel_me_in(0.5);
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';
SELECT clock_timestamp() AS t1 \gset
\echo :LAST_ERROR_SQLSTATE
SELECT cancel_logged();
SELECT canceled, :'t1'::timestamptz - at < interval '300 ms' AS canceled_in_time
  FROM cancel_log;
-- waiting for lemlist's answer
SELECT * FROM cancel_wait_named('LemlistRequest');
SELECT line FROM cancel_lines ORDER BY n;
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';

-- while waiting to retry after a 500 with Retry-After: 30
TRUNCATE cancel_log;
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=500 header:Retry-After=30');
SELECT cancel_me_in(0.5);
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';
SELECT clock_timestamp() AS t1 \gset
\echo :LAST_ERROR_SQLSTATE
SELECT cancel_logged();
SELECT canceled, :'t1'::timestamptz - at < interval '300 ms' AS canceled_in_time
  FROM cancel_log;
-- waiting out the back-off before the retry
SELECT * FROM cancel_wait_named('LemlistPacing');
SELECT line FROM cancel_lines ORDER BY n;
SELECT campaign_id, nb_leads FROM cancel_h1 WHERE campaign_id = 'cam_00001';

-- clean up
DROP FUNCTION cancel_me_in(numeric), cancel_logged(), cancel_wait_named(text);
DROP TABLE cancel_log, cancel_out;
DROP VIEW cancel_h1, cancel_lines, cancel_requests;
DROP FOREIGN TABLE stats_paced, stats_held;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_paced;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_held;
DROP SERVER lemlist_paced, lemlist_held;
SELECT * FROM mock('reset');
