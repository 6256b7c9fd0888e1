--
-- errors: how every failure of the API surfaces.  errors[] per campaign
-- (campaign_errors), HTTP errors, retries that recover and retries that give
-- up, transport failures, and bodies that are not the documented JSON.  Every
-- failure is an ERROR, never a crash nor a partial answer, and the session
-- works normally right after it.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`
\set key_forbidden `printf "%s" "$LEMLIST_TEST_KEY_FORBIDDEN"`
\set key_wrong `printf "%s" "$LEMLIST_TEST_KEY_WRONG"`

-- Most queries read the first half of 2025 so that request bodies are fixed.
CREATE VIEW errors_h1 AS
  SELECT * FROM lemlist.campaign_stats
   WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30';
-- the requests the mock received, without their bodies, numbered in
-- arrival order
CREATE VIEW errors_lines AS
  SELECT n, regexp_replace(line, ' \{.*$', '') AS line
    FROM mock('requests') WITH ORDINALITY AS r(line, n);

--
-- errors[]: cam_00013 always comes back there; the other campaigns are rows.
--
-- default (notice): a NOTICE per entry, with lemlist's text as DETAIL
SELECT campaign_id, nb_leads FROM errors_h1
 WHERE campaign_id IN ('cam_00012', 'cam_00013', 'cam_00014') ORDER BY 1;
SELECT * FROM mock_requests;
-- an ID lemlist does not know is an errors[] entry too
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_99999';

-- server level: warning
CREATE SERVER lemlist_warn FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', campaign_errors 'warning');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_warn
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_warn (campaign_id text, start_date timestamptz,
                                 end_date timestamptz, nb_leads integer)
  SERVER lemlist_warn OPTIONS (resource 'campaign_stats');
SELECT campaign_id, nb_leads FROM stats_warn
 WHERE campaign_id IN ('cam_00012', 'cam_00013')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;

-- server level: error (no rows at all, a HINT says how to skip)
ALTER SERVER lemlist_warn OPTIONS (SET campaign_errors 'error');
SELECT campaign_id, nb_leads FROM stats_warn
 WHERE campaign_id IN ('cam_00012', 'cam_00013')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
-- without an errors[] entry the same server answers normally
SELECT campaign_id, nb_leads FROM stats_warn
 WHERE campaign_id IN ('cam_00012', 'cam_00014')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;

-- table level wins over the server: notice on a table of the "error" server
ALTER FOREIGN TABLE stats_warn OPTIONS (ADD campaign_errors 'notice');
SELECT campaign_id, nb_leads FROM stats_warn
 WHERE campaign_id IN ('cam_00012', 'cam_00013')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
-- table level: error on a table of the default (notice) server
CREATE FOREIGN TABLE stats_strict (campaign_id text, start_date timestamptz,
                                   end_date timestamptz, nb_leads integer)
  SERVER lemlist OPTIONS (resource 'campaign_stats', campaign_errors 'error');
SELECT campaign_id, nb_leads FROM stats_strict
 WHERE campaign_id IN ('cam_00012', 'cam_00013')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1;
-- table level: warning, on campaign_step_stats
CREATE FOREIGN TABLE steps_warn (campaign_id text, start_date timestamptz,
                                 end_date timestamptz, step_index integer,
                                 sent integer)
  SERVER lemlist OPTIONS (resource 'campaign_step_stats', campaign_errors 'warning');
SELECT campaign_id, step_index, sent FROM steps_warn
 WHERE campaign_id IN ('cam_00012', 'cam_00013')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30' ORDER BY 1, 2;
-- a bad value names the valid ones
ALTER FOREIGN TABLE steps_warn OPTIONS (SET campaign_errors 'ignore');

--
-- HTTP 400: not retried; lemlist's text is the DETAIL, verbatim
--
SELECT * FROM mock('reset');
SELECT * FROM mock($$fault status route=stats status=400 'body=Bad params: the send user email is not related to the send user id'$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mock_requests;
-- the text is data, never a format string
SELECT * FROM mock($$fault status route=stats status=400 'body=Bad params: 100% of %s and %n'$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
-- a 400 as lemlist sends it for a bad sendUser (the real route, no fault)
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM errors_h1
 WHERE campaign_id = 'cam_00001' AND send_user = 'usr_alice|bob@example.com';
SELECT * FROM mock_requests;
-- the session goes on normally
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

--
-- HTTP 401 and 403: SQLSTATE 28000 with a HINT about the user mapping's
-- api_key, not retried, and the key itself is never shown
--
CREATE SERVER lemlist_badkey FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_badkey
  OPTIONS (api_key :'key_wrong');
RESET log_statement;
CREATE FOREIGN TABLE stats_badkey (campaign_id text, start_date timestamptz,
                                   end_date timestamptz, nb_leads integer)
  SERVER lemlist_badkey OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT nb_leads FROM stats_badkey
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
\echo :LAST_ERROR_SQLSTATE
SET log_statement = 'none';
ALTER USER MAPPING FOR CURRENT_USER SERVER lemlist_badkey
  OPTIONS (SET api_key :'key_forbidden');
RESET log_statement;
SELECT nb_leads FROM stats_badkey
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
\echo :LAST_ERROR_SQLSTATE
SELECT line FROM errors_lines ORDER BY n;
-- the session goes on normally
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

--
-- HTTP 404 and 405: an ERROR with the status and lemlist's text, not retried
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=404');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mock('fault status route=stats status=405');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT line FROM errors_lines ORDER BY n;
-- a real 404: an api_url that is not lemlist's API root
CREATE SERVER lemlist_wrongurl FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'mock_url');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_wrongurl
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_wrongurl (campaign_id text, start_date timestamptz,
                                     end_date timestamptz, nb_leads integer)
  SERVER lemlist_wrongurl OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT nb_leads FROM stats_wrongurl
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT * FROM mock_requests;
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

--
-- HTTP 429 once, with Retry-After: 1: waits a second, retries, recovers
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=429 header:Retry-After=1');
SELECT clock_timestamp() AS t0 \gset
SELECT * FROM masked_explain($$
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001'$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF');
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '1 s' AS waited_retry_after;
SELECT line FROM errors_lines ORDER BY n;

-- HTTP 429 more times than max_retries (2): an ERROR about the rate limit
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=429 header:Retry-After=0 times=3');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT line FROM errors_lines ORDER BY n;
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

-- HTTP 429 without Retry-After: waits for the whole window (rate_window_ms)
CREATE SERVER lemlist_window FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', rate_window_ms '700');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_window
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_window (campaign_id text, start_date timestamptz,
                                   end_date timestamptz, nb_leads integer)
  SERVER lemlist_window OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=429');
SELECT clock_timestamp() AS t0 \gset
SELECT nb_leads FROM stats_window
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '700 ms' AS waited_window;
SELECT line FROM errors_lines ORDER BY n;

--
-- HTTP 500 once: retried after a back-off, recovers
--
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=500');
SELECT * FROM masked_explain($$
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001'$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF');
SELECT line FROM errors_lines ORDER BY n;
-- HTTP 500 on every attempt: an ERROR with the status and the text
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=500 times=-1');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
\echo :LAST_ERROR_SQLSTATE
SELECT line FROM errors_lines ORDER BY n;
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

--
-- transport failures
--
-- connection refused (nothing listens on port 9): retried, then an ERROR
CREATE SERVER lemlist_refused FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url 'http://127.0.0.1:9/api', max_retries '1');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_refused
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_refused (campaign_id text, start_date timestamptz,
                                    end_date timestamptz, nb_leads integer)
  SERVER lemlist_refused OPTIONS (resource 'campaign_stats');
\set VERBOSITY terse
SELECT nb_leads FROM stats_refused
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE

-- timeout: timeout_ms 300 against 2 s of latency
CREATE SERVER lemlist_slow FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', timeout_ms '300', max_retries '1');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_slow
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_slow (campaign_id text, start_date timestamptz,
                                 end_date timestamptz, nb_leads integer)
  SERVER lemlist_slow OPTIONS (resource 'campaign_stats');
-- once: the retry gets the answer
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=2000');
SELECT * FROM masked_explain($$
SELECT nb_leads FROM stats_slow
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF');
-- every time: an ERROR naming the limit, well before the 2 s of latency
SELECT * FROM mock('fault latency route=stats ms=2000 times=-1');
SELECT clock_timestamp() AS t0 \gset
SELECT nb_leads FROM stats_slow
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1900 ms' AS gave_up_early;
SELECT * FROM mock('reset');
SELECT nb_leads FROM stats_slow
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';

-- truncated body (the connection closes mid-body): retried, then an ERROR.
-- The connection was made and a 200 began: not a "could not connect" error.
SELECT * FROM mock('reset');
SELECT * FROM mock('fault truncate route=stats');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock('fault truncate route=stats times=-1');
-- (terse: the DETAIL is curl's own wording, which suite curl shows)
\set VERBOSITY terse
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT line FROM errors_lines ORDER BY n;
-- connection reset mid-body
SELECT * FROM mock('reset');
SELECT * FROM mock('fault reset route=stats times=-1');
\set VERBOSITY terse
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
\set VERBOSITY default
SELECT line FROM errors_lines ORDER BY n;
-- connection closed without any response
SELECT * FROM mock('reset');
SELECT * FROM mock('fault close route=stats times=-1');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT line FROM errors_lines ORDER BY n;
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

--
-- 200 answers whose body is not the documented JSON: an ERROR, no retry
--
-- an HTML page from a proxy
SELECT * FROM mock('reset');
SELECT * FROM mock('fault malformed route=stats');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
\echo :LAST_ERROR_SQLSTATE
SELECT line FROM errors_lines ORDER BY n;
-- an empty body, a JSON array, JSON with no results
SELECT * FROM mock($$fault body route=stats 'body='$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock($$fault body route=stats 'body=[]'$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock($$fault body route=stats 'body={"errors":[]}'$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
-- valid JSON that forgets the campaign: incomplete, not an empty answer
SELECT * FROM mock($$fault body route=stats 'body={"results":[],"errors":[]}'$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
-- any layout of valid JSON reads as lemlist meant it: white space, keys in
-- any order, escapes in keys and values, unknown fields nested at any depth
SELECT * FROM mock($$fault body route=stats 'body= { "errors" : null , "results" : [ { "nbLeads" : 7 , "other" : { "a" : [ 1 , { "b" : null } , "\"]" ] } , "campaign\u0049d" : "cam_\u00300001" , "replied" : 2 } ] } '$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
-- a field that is read appearing twice in one object is ambiguous: an ERROR
SELECT * FROM mock($$fault body route=stats 'body={"results":[{"campaignId":"cam_00001","nbLeads":6,"nbLeads":7}]}'$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
-- not JSON, even though what comes first looks wrong: the JSON error wins
SELECT * FROM mock($$fault body route=stats 'body={"results":[{"campaignId":7}],]'$$);
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

-- every mutate op of the mock, one after the other
SELECT * FROM mock('reset');
SELECT * FROM mock('fault mutate route=stats op=results_not_array');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock('fault mutate route=stats op=counter_string');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock('fault mutate route=stats op=counter_float');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock('fault mutate route=stats op=counter_negative');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
-- the documented type is checked even when the column is not read
SELECT * FROM mock('fault mutate route=stats op=counter_negative');
SELECT campaign_id, opened FROM errors_h1 WHERE campaign_id = 'cam_00001';
-- counter_huge: 9999999999 does not fit the integer column ...
SELECT * FROM mock('fault mutate route=stats op=counter_huge');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
\echo :LAST_ERROR_SQLSTATE
-- ... but a bigint column takes it
CREATE FOREIGN TABLE stats_big (campaign_id text, start_date timestamptz,
                                end_date timestamptz, nb_leads bigint)
  SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('fault mutate route=stats op=counter_huge');
SELECT campaign_id, nb_leads FROM stats_big
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT * FROM mock('fault mutate route=stats op=missing_campaign_id');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock('fault mutate route=stats op=steps_not_array');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock('fault mutate route=stats op=steps_not_array');
SELECT campaign_id, step_index FROM lemlist.campaign_step_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT * FROM mock('fault mutate route=stats op=extra_id');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id IN ('cam_00001', 'cam_00002');
SELECT * FROM mock('fault mutate route=stats op=drop_id');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id IN ('cam_00001', 'cam_00002');
SELECT * FROM mock('fault mutate route=stats op=duplicate_id');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id IN ('cam_00001', 'cam_00002');
-- the campaign list (GET /campaigns): no array, a campaign without _id
SELECT * FROM mock('fault mutate route=campaigns op=campaigns_not_array');
SELECT count(*) FROM lemlist.campaigns;
SELECT * FROM mock('fault mutate route=campaigns op=campaign_missing_id');
SELECT count(*) FROM lemlist.campaigns;
SELECT * FROM mock('fault mutate route=campaigns op=campaign_missing_id');
SELECT count(*) FROM errors_h1;
-- none of them was retried
SELECT line FROM errors_lines ORDER BY n;
SELECT count(*) FROM lemlist.campaigns;
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id IN ('cam_00001', 'cam_00002') ORDER BY 1;

--
-- a body over max_response_bytes: an ERROR (54000), not retried
--
CREATE SERVER lemlist_small FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_response_bytes '65536');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_small
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_small (campaign_id text, start_date timestamptz,
                                  end_date timestamptz, nb_leads integer)
  SERVER lemlist_small OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT * FROM mock('fault mutate route=stats op=huge bytes=100000');
SELECT nb_leads FROM stats_small
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
\echo :LAST_ERROR_SQLSTATE
SELECT line FROM errors_lines ORDER BY n;
SELECT nb_leads FROM stats_small
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
-- under the limit, a big body is fine (2 MB against the default 64 MB)
SELECT * FROM mock('fault mutate route=stats op=huge bytes=2000000');
SELECT campaign_id, nb_leads FROM errors_h1 WHERE campaign_id = 'cam_00001';

--
-- never a partial answer: 250 IDs are 3 batches (100, 100, 50); a failure of
-- the 2nd batch fails the query instead of returning the 1st batch's rows.
-- max_parallel 1 sends the batches in order; a no-op fault (0 ms of latency)
-- takes the 1st request so that the real fault hits the 2nd.
--
CREATE SERVER lemlist_serial FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_parallel '1', max_retries '1');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_serial
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE stats_serial (campaign_id text, start_date timestamptz,
                                   end_date timestamptz, nb_leads integer)
  SERVER lemlist_serial OPTIONS (resource 'campaign_stats');
CREATE VIEW serial_250 AS
  SELECT * FROM stats_serial
   WHERE campaign_id = ANY (ARRAY(SELECT format('cam_%s', lpad(i::text, 5, '0'))
                                    FROM generate_series(1, 250) AS i))
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
-- what the batches are, without a fault: 249 rows (cam_00013 is a notice)
SELECT * FROM mock('reset');
SELECT count(*) FROM serial_250;
-- (method path status fault, number of IDs, first and last ID)
CREATE VIEW errors_batches AS
  SELECT n, regexp_replace(line, ' \{.*$', '') AS request,
         json_array_length(b -> 'campaignIds') AS ids,
         b -> 'campaignIds' ->> 0 AS first_id,
         b -> 'campaignIds' ->> -1 AS last_id
    FROM mock('requests') WITH ORDINALITY AS r(line, n),
         LATERAL (SELECT substring(line FROM '\{.*$')::json) AS j(b);
SELECT request, ids, first_id, last_id FROM errors_batches ORDER BY n;
-- 400 on the 2nd batch
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=0');
SELECT * FROM mock('fault status route=stats status=400');
SELECT count(*) FROM serial_250;
SELECT request, ids, first_id, last_id FROM errors_batches ORDER BY n;
-- 500 on both attempts of the 2nd batch; the 3rd batch goes out while the
-- 2nd waits (Retry-After: 1) for its retry, and succeeds
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=0');
SELECT * FROM mock('fault status route=stats status=500 header:Retry-After=1');
SELECT * FROM mock('fault latency route=stats ms=0');
SELECT * FROM mock('fault status route=stats status=500');
SELECT count(*) FROM serial_250;
SELECT request, ids, first_id, last_id FROM errors_batches ORDER BY n;
-- the 2nd batch's answer drops a campaign
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=0');
SELECT * FROM mock('fault mutate route=stats op=drop_id');
SELECT count(*) FROM serial_250;
-- the 3rd batch's answer is cut short, on every attempt
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=0 times=2');
SELECT * FROM mock('fault truncate route=stats times=2');
\set VERBOSITY terse
SELECT count(*) FROM serial_250;
\set VERBOSITY default
SELECT request, ids, first_id, last_id FROM errors_batches ORDER BY n;
-- and afterwards the whole answer again
SELECT * FROM mock('reset');
SELECT count(*) FROM serial_250;
-- with the default max_parallel (4) the batches go out together: whichever
-- gets the fault, the query fails; the requests still in flight are dropped
-- and the next query gets everything (IDs 14 to 250: no errors[] entries)
CREATE VIEW parallel_237 AS
  SELECT * FROM errors_h1
   WHERE campaign_id = ANY (ARRAY(SELECT format('cam_%s', lpad(i::text, 5, '0'))
                                    FROM generate_series(14, 250) AS i));
SELECT * FROM mock('fault status route=stats status=400');
SELECT count(*) FROM parallel_237;
SELECT count(*) FROM parallel_237;

-- clean up
DROP VIEW parallel_237, serial_250, errors_batches, errors_lines, errors_h1;
DROP FOREIGN TABLE stats_warn, stats_strict, steps_warn, stats_badkey,
  stats_wrongurl, stats_window, stats_refused, stats_slow, stats_big,
  stats_small, stats_serial;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_warn;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_badkey;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_wrongurl;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_window;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_refused;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_slow;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_small;
DROP USER MAPPING FOR CURRENT_USER SERVER lemlist_serial;
DROP SERVER lemlist_warn, lemlist_badkey, lemlist_wrongurl, lemlist_window,
  lemlist_refused, lemlist_slow, lemlist_small, lemlist_serial;
SELECT * FROM mock('reset');
