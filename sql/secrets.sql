--
-- secrets: the API key is nowhere a user or an operator could read it.  The
-- cluster of test/run.sh logs every statement and every message down to
-- DEBUG5, for the whole run; this suite, the last one, adds EXPLAIN output
-- to that log (auto_explain) and errors for odd keys, then reads the whole
-- server log and searches it for every key of the run, as is and as the
-- Basic credentials sent on the wire.  test/run.sh searches the log once
-- more after the run, with pg_regress's output and the mocks' logs.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`
\set key_beta `printf "%s" "$LEMLIST_TEST_KEY_BETA"`
\set key_forbidden `printf "%s" "$LEMLIST_TEST_KEY_FORBIDDEN"`
\set key_wrong `printf "%s" "$LEMLIST_TEST_KEY_WRONG"`
\set key_held `printf "%s" "$LEMLIST_TEST_KEY_HELD"`
\set key_spare `printf "%s" "$LEMLIST_TEST_KEY_SPARE"`
-- a key made to be awkward: quotes, a backslash, format directives, UTF-8
\set key_odd :key_spare '''"\\%s%n%x€'

-- the keys, in a table of this session only, to search for them
SET log_statement = 'none';
CREATE TEMP TABLE secrets_keys (name text, key text);
INSERT INTO secrets_keys VALUES
  ('alpha', :'key_alpha'), ('beta', :'key_beta'), ('forbidden', :'key_forbidden'),
  ('wrong', :'key_wrong'), ('held', :'key_held'), ('spare', :'key_spare'),
  ('odd', :'key_odd');
RESET log_statement;

-- the run logs everything
SELECT name, setting FROM pg_settings
 WHERE name IN ('log_min_messages', 'log_statement', 'log_min_error_statement')
 ORDER BY 1;

--
-- EXPLAIN output in the log too: auto_explain, VERBOSE and ANALYZE, for
-- every statement of this session
--
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_verbose = on;
SET auto_explain.log_nested_statements = on;
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00013')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT count(*) FROM lemlist.campaign_step_stats
 WHERE campaign_id = 'cam_00002'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT count(*) FROM lemlist.campaigns;

--
-- the odd key: sent as it is (lemlist answers 401), in no part of the error
--
CREATE SERVER secrets_odd FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER secrets_odd OPTIONS (api_key :'key_odd');
RESET log_statement;
CREATE FOREIGN TABLE secrets_odd_stats (campaign_id text, start_date timestamptz,
                                        end_date timestamptz, nb_leads integer)
  SERVER secrets_odd OPTIONS (resource 'campaign_stats');
SELECT nb_leads FROM secrets_odd_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30';
DO $$
DECLARE
  everything text;
BEGIN
  PERFORM * FROM secrets_odd_stats
   WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30';
EXCEPTION WHEN OTHERS THEN
  DECLARE
    msg text; det text; hnt text; ctx text;
  BEGIN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
    everything := concat_ws(' ', msg, det, hnt, ctx);
  END;
  RAISE NOTICE 'error read: %, key in it: %', everything <> '',
    (SELECT bool_or(position(key IN everything) > 0) FROM secrets_keys);
END
$$;
SELECT regexp_replace(line, ' \{.*$', '') AS line FROM mock('requests') AS line;
RESET auto_explain.log_min_duration;

--
-- lemlist, or a proxy or gateway in front of it, echoes the key: whatever
-- came from the network is printed with every key the backend has used
-- masked, as is, as Basic credentials and as JSON writes it, and cut at a
-- size (an HTTP body at 500 bytes, 4000 for a 400; an errors[] message at
-- 1000; a campaign ID at 200)
--
CREATE SERVER secrets_echo FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER secrets_echo OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE secrets_echo_stats (campaign_id text, start_date timestamptz,
                                         end_date timestamptz, nb_leads integer)
  SERVER secrets_echo OPTIONS (resource 'campaign_stats');
-- a gateway's 502 that quotes the request's headers
SELECT * FROM mock($$fault status route=stats status=502 echo=1 'body=upstream refused Authorization: {{authorization}} (key {{api_key}})'$$);
SELECT nb_leads FROM secrets_echo_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30';
-- a 400 whose JSON quotes the key
SELECT * FROM mock($$fault status route=stats status=400 echo=1 'body={"error":"key {{api_key}} may not ask for that"}'$$);
SELECT nb_leads FROM secrets_echo_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30';
-- an errors[] message (a NOTICE) and a campaignId (an ERROR) that echo it
SELECT * FROM mock($$fault mutate route=stats op=error_text echo=1 'text=not for key {{api_key}}'$$);
SELECT count(*) FROM secrets_echo_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00013') AND end_date <= '2025-06-30';
SELECT * FROM mock($$fault mutate route=stats op=result_id_text echo=1 'text={{api_key}}'$$);
SELECT count(*) FROM secrets_echo_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00013') AND end_date <= '2025-06-30';
-- the odd key, in a JSON body that escapes its quote and backslash
SELECT * FROM mock($$fault status route=stats status=500 echo=1 'body={"message":"bad key {{api_key}}"}'$$);
SELECT nb_leads FROM secrets_odd_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30';
-- a key that is part of ordinary words is masked inside them too
CREATE SERVER secrets_word FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER secrets_word OPTIONS (api_key 'the');
CREATE FOREIGN TABLE secrets_word_stats (campaign_id text, start_date timestamptz,
                                         end_date timestamptz, nb_leads integer)
  SERVER secrets_word OPTIONS (resource 'campaign_stats');
SELECT * FROM mock($$fault status route=stats status=503 echo=1 'body=the other gateway lost key {{api_key}}'$$);
SELECT nb_leads FROM secrets_word_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30';
-- and any other key this backend has used: the key "the", in an answer to a
-- request made with another key
SELECT * FROM mock($$fault status route=stats status=503 'body=the other gateway'$$);
SELECT nb_leads FROM secrets_echo_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30';
-- an errors[] message of 1 MiB: cut at 1000 bytes (here an ERROR, by
-- campaign_errors 'error', so that its DETAIL can be measured)
ALTER FOREIGN TABLE secrets_echo_stats OPTIONS (ADD campaign_errors 'error');
SELECT * FROM mock('fault mutate route=stats op=error_text text=x bytes=1048576');
DO $$
DECLARE
  det text;
BEGIN
  PERFORM * FROM secrets_echo_stats
   WHERE campaign_id IN ('cam_00001', 'cam_00013') AND end_date <= '2025-06-30';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'detail: % bytes, ends with "...": %', octet_length(det), det LIKE '%x...';
END
$$;
SELECT * FROM mock('reset');

--
-- The whole server log of the run so far: the keys are in no line of it,
-- neither as they are nor as Basic credentials; and it did record what
-- could have carried one (statements, DEBUG messages of lemlist_fdw, plans
-- with lemlist's lines, errors about a key)
--
SELECT current_setting('data_directory') || '/../postgres.log' AS log_file \gset
CREATE TEMP TABLE secrets_log AS SELECT pg_read_file(:'log_file') AS log;
SELECT name,
       position(key IN log) > 0 AS in_log,
       position(encode(convert_to(':' || key, 'UTF8'), 'base64') IN log) > 0 AS basic_in_log
  FROM secrets_keys, secrets_log ORDER BY name;
SELECT position('LOG:  statement: ' IN log) > 0 AS statements,
       position('DEBUG:  lemlist_fdw: POST /v2/campaigns/stats/batch' IN log) > 0 AS fdw_debug,
       position('lemlist Request: POST /v2/campaigns/stats/batch' IN log) > 0 AS plans,
       position('ERROR:  lemlist rejected the API key' IN log) > 0 AS key_errors
  FROM secrets_log;

-- clean up
DROP TABLE secrets_log, secrets_keys;
DROP SERVER secrets_odd, secrets_echo, secrets_word CASCADE;
SELECT * FROM mock('reset');
