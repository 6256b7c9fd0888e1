--
-- faults: the fault matrix.  Each case queues faults on the mock, runs one
-- query, and shows what the user gets: the complete answer (the same rows as
-- without the fault) or an ERROR, never a crash nor part of the rows; then
-- the same session runs the normal query and must get the complete answer
-- again.  Then a real 429 storm from the mock's own rate limiter, and
-- pg_terminate_backend against a backend stuck in a request, a back-off and a
-- pacing wait.  Elapsed times are asserted as booleans, never printed.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`
\set key_paced `printf "%s" "$LEMLIST_TEST_KEY_PACED"`

--
-- The normal query, its complete answer, and the servers the cases use
-- (the main server "lemlist" has max_retries 2)
--
CREATE VIEW faults_q AS
  SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats
   WHERE campaign_id IN ('cam_00001', 'cam_00002')
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
CREATE TABLE faults_complete AS SELECT * FROM faults_q;
SELECT * FROM faults_complete ORDER BY 1;

CREATE SERVER faults_refused FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url 'http://127.0.0.1:9/api', max_retries '2');
CREATE SERVER faults_slow FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', timeout_ms '300', max_retries '1');
CREATE SERVER faults_small FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_response_bytes '65536');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER faults_refused OPTIONS (api_key :'key_alpha');
CREATE USER MAPPING FOR CURRENT_USER SERVER faults_slow OPTIONS (api_key :'key_alpha');
CREATE USER MAPPING FOR CURRENT_USER SERVER faults_small OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE SCHEMA faults;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats) FROM SERVER faults_refused INTO faults;
ALTER FOREIGN TABLE faults.campaign_stats RENAME TO refused;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats) FROM SERVER faults_slow INTO faults;
ALTER FOREIGN TABLE faults.campaign_stats RENAME TO slow;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats) FROM SERVER faults_small INTO faults;
ALTER FOREIGN TABLE faults.campaign_stats RENAME TO small;

--
-- fault_case(faults, query): reset the mock, queue the faults (mockctl
-- "fault" arguments), run the query once (by default the normal one; another
-- must return the same three columns), and report:
--   outcome      "complete" (exactly the rows of faults_complete), "WRONG
--                ROWS" (never expected: a partial or altered answer) or "ERROR"
--   state, message, detail   of the ERROR (numbers of ms and bytes masked)
--   context      its first line, when lemlist_fdw set one
--   requests     how many requests the mock received meanwhile
--   then_normal  the normal query, right after, in the same session and
--                against the mock without faults, gives the complete answer
--
CREATE FUNCTION fault_case(faults text[], query text DEFAULT 'SELECT * FROM faults_q',
                           OUT outcome text, OUT state text, OUT message text,
                           OUT detail text, OUT context text, OUT requests int,
                           OUT then_normal boolean)
LANGUAGE plpgsql AS $$
DECLARE
  f text;
  got text[];
  complete text[] := (SELECT array_agg(c::text ORDER BY c::text) FROM faults_complete c);
BEGIN
  PERFORM mock('reset');
  FOREACH f IN ARRAY faults LOOP
    PERFORM mock('fault ' || f);
  END LOOP;
  BEGIN
    EXECUTE format('SELECT array_agg(q::text ORDER BY q::text) FROM (%s) q', query) INTO got;
    outcome := CASE WHEN got IS NOT DISTINCT FROM complete THEN 'complete' ELSE 'WRONG ROWS' END;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, context = PG_EXCEPTION_CONTEXT;
    outcome := 'ERROR';
    detail := regexp_replace(nullif(detail, ''), '\d+ (ms|bytes)', 'N \1', 'g');
    context := split_part(context, E'\n', 1);
    IF context ~ '^(PL/pgSQL|SQL statement)' THEN
      context := NULL;
    END IF;
  END;
  SELECT count(*) INTO requests FROM mock('requests');
  PERFORM mock('reset');
  SELECT array_agg(q::text ORDER BY q::text) IS NOT DISTINCT FROM complete
    INTO then_normal FROM faults_q q;
END
$$;
-- the same query on another table
CREATE FUNCTION faults_on(tab text) RETURNS text
LANGUAGE sql AS $$
  SELECT format('SELECT campaign_id, nb_leads, replied FROM %s
                  WHERE campaign_id IN (''cam_00001'', ''cam_00002'')
                    AND start_date >= ''2025-01-01'' AND end_date <= ''2025-06-30''', tab)
$$;

\x on
-- HTTP statuses: 429 and 5xx are retried (max_retries 2: three attempts)
SELECT * FROM fault_case('{"status route=stats status=429 header:Retry-After=0 times=2"}');
SELECT * FROM fault_case('{"status route=stats status=429 header:Retry-After=0 times=3"}');
SELECT * FROM fault_case('{"status route=stats status=503"}');
SELECT * FROM fault_case('{"status route=stats status=502 times=2"}');
SELECT * FROM fault_case('{"status route=stats status=500 times=3"}');
SELECT * FROM fault_case('{"status route=stats status=504 times=-1"}');
SELECT * FROM fault_case('{"status route=stats status=400"}');
SELECT * FROM fault_case('{"status route=stats status=401"}');
SELECT * FROM fault_case('{"status route=stats status=403"}');
SELECT * FROM fault_case('{"status route=stats status=404"}');
-- transport: refused, timeouts, cut connections (all retried)
-- (the DETAIL is curl's own wording, which suite curl shows: here, that
-- there is one)
SELECT outcome, state, message, detail <> '' AS curl_detail, context, requests, then_normal
  FROM fault_case('{}', faults_on('faults.refused'));
SELECT * FROM fault_case('{"latency route=stats ms=2000"}', faults_on('faults.slow'));
SELECT * FROM fault_case('{"latency route=stats ms=2000 times=-1"}', faults_on('faults.slow'));
SELECT * FROM fault_case('{"reset route=stats"}');
SELECT * FROM fault_case('{"reset route=stats times=-1"}');
SELECT * FROM fault_case('{"truncate route=stats times=2"}');
SELECT outcome, state, message, detail <> '' AS curl_detail, context, requests, then_normal
  FROM fault_case('{"truncate route=stats times=-1"}');
-- (curl itself tries once more when a kept-alive connection closes without
-- any answer: at least three requests, one more when a connection was reused)
SELECT outcome, state, message, detail, context, requests >= 3 AS retried, then_normal
  FROM fault_case('{"close route=stats times=-1"}');
-- 200 with a body that is not the documented JSON: not retried
SELECT * FROM fault_case('{"malformed route=stats"}');
SELECT * FROM fault_case(ARRAY[$$body route=stats 'body={"results":[{"campaignId":"cam_00001","nbLeads":6'$$]);
SELECT * FROM fault_case('{"mutate route=stats op=results_not_array"}');
SELECT * FROM fault_case('{"mutate route=stats op=missing_campaign_id"}');
SELECT * FROM fault_case('{"mutate route=stats op=steps_not_array"}');
SELECT * FROM fault_case('{"mutate route=stats op=counter_string"}');
SELECT * FROM fault_case('{"mutate route=stats op=counter_float"}');
SELECT * FROM fault_case('{"mutate route=stats op=counter_negative"}');
SELECT * FROM fault_case('{"mutate route=stats op=counter_huge"}');
SELECT * FROM fault_case(ARRAY[$$body route=stats 'body={"results":[{"campaignId":"cam_00001","nbLeads":99999999999999999999}],"errors":[{"campaignId":"cam_00002","error":"x"}]}'$$]);
SELECT * FROM fault_case(ARRAY[$$body route=stats 'body={"results":[{"campaignId":"cam_00001","nbLeads":1e3}],"errors":[{"campaignId":"cam_00002","error":"x"}]}'$$]);
-- the campaigns asked for, each exactly once, and no other
SELECT * FROM fault_case('{"mutate route=stats op=extra_id"}');
SELECT * FROM fault_case('{"mutate route=stats op=drop_id"}');
SELECT * FROM fault_case('{"mutate route=stats op=duplicate_id"}');
-- a body over max_response_bytes (65536 on faults_small): 54000, not retried
SELECT * FROM fault_case('{"mutate route=stats op=huge bytes=100000"}', faults_on('faults.small'));
-- the team's campaign list (GET /campaigns), read first when no campaign_id
-- condition is sent (campaign_id || '' is not: it is tested on each listed
-- ID, and only the two it holds for are batched): its faults too
SELECT * FROM fault_case('{}', $$SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats
   WHERE campaign_id || '' IN ('cam_00001', 'cam_00002')
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT * FROM fault_case('{"status route=campaigns status=503 times=2"}', $$SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats
   WHERE campaign_id || '' IN ('cam_00001', 'cam_00002')
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT * FROM fault_case('{"mutate route=campaigns op=campaigns_not_array"}', $$SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats
   WHERE campaign_id || '' IN ('cam_00001', 'cam_00002')
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT * FROM fault_case('{"mutate route=campaigns op=campaign_missing_id"}', $$SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats
   WHERE campaign_id || '' IN ('cam_00001', 'cam_00002')
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
\x off

--
-- A real 429 storm: the mock's own limit down to 3 requests a second, a
-- server that paces itself far above it (100 per second) and sends 8 batches
-- at once.  The 429s hold the key for their Retry-After, the batches go
-- through a few at a time, and the answer is complete: every batch answered
-- once with 200, and nothing asked twice after its 200.
--
CREATE SERVER faults_storm FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', rate_limit '100', rate_window_ms '1000',
           max_parallel '8', max_retries '5');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER faults_storm OPTIONS (api_key :'key_alpha');
RESET log_statement;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats) FROM SERVER faults_storm INTO faults;
ALTER FOREIGN TABLE faults.campaign_stats RENAME TO storm;
-- 800 campaigns (cam_00014 to cam_00813: none of them in errors[])
CREATE TABLE faults_ids AS
  SELECT format('cam_%s', lpad(i::text, 5, '0')) AS id FROM generate_series(14, 813) AS i;
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=1000');
CREATE TABLE faults_storm_complete AS
  SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats
   WHERE campaign_id = ANY (ARRAY(SELECT id FROM faults_ids))
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT count(*) FROM faults_storm_complete;
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=1000 rate_limit=3 rate_window_ms=1000');
SELECT array_agg(s::text ORDER BY s::text) =
       (SELECT array_agg(c::text ORDER BY c::text) FROM faults_storm_complete c) AS complete
  FROM (SELECT campaign_id, nb_leads, replied FROM faults.storm
         WHERE campaign_id = ANY (ARRAY(SELECT id FROM faults_ids))
           AND start_date >= '2025-01-01' AND end_date <= '2025-06-30') AS s;
SELECT count(*) FILTER (WHERE status = '200') AS answered,
       count(*) FILTER (WHERE status = '429') > 0 AS rate_limited,
       count(*) FILTER (WHERE status NOT IN ('200', '429')) AS other
  FROM (SELECT split_part(line, ' ', 3) AS status FROM mock('requests') AS line) AS r;
SELECT * FROM mock('reset');
SELECT * FROM faults_q ORDER BY 1;

--
-- pg_terminate_backend ends a backend promptly wherever lemlist_fdw holds
-- it: a request in flight (the mock never answers), a retry back-off (a 500
-- asking for 30 s) and a pacing wait (1 request a minute, 2 batches).  The
-- backend is another session, started in the background by faults_victim();
-- faults_terminate() signals it and waits until its process is gone.
--
CREATE SERVER faults_paced FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', rate_limit '1', rate_window_ms '60000');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER faults_paced OPTIONS (api_key :'key_paced');
RESET log_statement;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats) FROM SERVER faults_paced INTO faults;
ALTER FOREIGN TABLE faults.campaign_stats RENAME TO paced;
-- what the victims run (no quote in them: they go through the shell)
CREATE VIEW faults_in_flight AS SELECT * FROM faults_q;
CREATE VIEW faults_paced_150 AS
  SELECT campaign_id, nb_leads FROM faults.paced
   WHERE campaign_id = ANY (ARRAY(SELECT id FROM faults_ids LIMIT 150))
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
CREATE TABLE faults_out (line text);

-- faults_victim(view): start, in the background, a psql of this server's bin
-- directory, in a session of its own, that reads the view with
-- application_name faults_victim; its output goes to faults_victim.out in
-- the data directory.  Returns the victim's pid once it is running its
-- query and, when in_flight, once the mock received its request; then
-- leaves it 300 ms to settle into its wait.  The bin directory is
-- pg_config's BINDIR, which the server takes from the path it was started
-- with: right under valgrind too, where the executable of the process is
-- valgrind's.
CREATE FUNCTION faults_victim(view text, in_flight boolean) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  psql text := (SELECT setting FROM pg_config WHERE name = 'BINDIR') || '/psql';
  cmd text;
  victim int;
BEGIN
  cmd := format('PGAPPNAME=faults_victim setsid %s -X -q -h %s -p %s -U %s -d %s '
                '-c %s </dev/null >faults_victim.out 2>&1 &',
                quote_literal(psql),
                quote_literal(current_setting('unix_socket_directories')),
                current_setting('port'), quote_literal(current_user),
                quote_literal(current_database()),
                quote_literal(format('SELECT count(*) FROM %s', view)));
  EXECUTE format('COPY faults_out FROM PROGRAM %L', cmd);
  FOR i IN 1..200 LOOP
    PERFORM pg_stat_clear_snapshot();
    SELECT pid INTO victim FROM pg_stat_activity
     WHERE application_name = 'faults_victim' AND state = 'active';
    IF victim IS NOT NULL AND (NOT in_flight OR
                               (SELECT count(*) FROM mock('requests')) > 0) THEN
      PERFORM pg_sleep(0.3);
      RETURN victim;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RAISE EXCEPTION 'the victim did not start';
END
$$;

-- faults_terminate(pid): pg_terminate_backend, then wait (at most 10 s)
-- until the process is gone; how long that took goes to the server log only
CREATE FUNCTION faults_terminate(victim int, OUT signalled boolean, OUT gone_ms numeric)
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  signalled := pg_terminate_backend(victim);
  WHILE (pg_stat_file('/proc/' || victim, true)).modification IS NOT NULL
        AND clock_timestamp() - t0 < interval '10 s' LOOP
    PERFORM pg_sleep(0.001);
  END LOOP;
  gone_ms := round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 1);
  RAISE LOG 'faults: backend % gone % ms after pg_terminate_backend', victim, gone_ms;
END
$$;

-- faults_victim_said(): what the victim's psql printed, once it did (5 s)
CREATE FUNCTION faults_victim_said() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  said text;
BEGIN
  FOR i IN 1..100 LOOP
    said := pg_read_file('faults_victim.out', 0, 10000, true);
    IF said LIKE '%FATAL%' THEN
      RETURN substring(said FROM 'FATAL:[^\n]*');
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN said;
END
$$;

SELECT pg_postmaster_start_time() AS postmaster_start \gset
-- a request in flight
SELECT * FROM mock('reset');
SELECT * FROM mock('fault hang route=stats ms=20000');
SELECT faults_victim('faults_in_flight', true) AS victim \gset
SELECT signalled, gone_ms < 200 AS ended_in_time FROM faults_terminate(:victim);
SELECT faults_victim_said();
SELECT line FROM mock('requests') AS line;
-- a retry back-off
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=500 header:Retry-After=30');
SELECT faults_victim('faults_in_flight', true) AS victim \gset
SELECT signalled, gone_ms < 200 AS ended_in_time FROM faults_terminate(:victim);
SELECT faults_victim_said();
SELECT line FROM mock('requests') AS line;
-- a pacing wait: the 1st batch went out, the 2nd waits for the next minute
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=1000');
SELECT faults_victim('faults_paced_150', true) AS victim \gset
SELECT signalled, gone_ms < 200 AS ended_in_time FROM faults_terminate(:victim);
SELECT faults_victim_said();
SELECT regexp_replace(line, ' \{.*$', '') AS line FROM mock('requests') AS line;
-- no backend crashed (the postmaster would have restarted them all), and
-- this session goes on normally
SELECT pg_postmaster_start_time() = :'postmaster_start' AS no_restart;
SELECT * FROM mock('reset');
SELECT * FROM faults_q ORDER BY 1;
