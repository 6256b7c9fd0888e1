--
-- options: every lemlist_fdw option is checked at CREATE and ALTER time on
-- the object it belongs to, and the merged server/table options take effect
-- at query time.
--
SELECT * FROM mock('reset');
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`
\set key_spare `printf "%s" "$LEMLIST_TEST_KEY_SPARE"`
\set url_with_key 'https://:' :key_spare '@api.lemlist.com/api'
\set url_with_user_key 'https://me:' :key_spare '@api.lemlist.com/api'
SET timezone = 'UTC';

--
-- The foreign-data wrapper itself takes no option
--
ALTER FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (ADD api_url 'https://api.lemlist.com/api');
ALTER FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (ADD timeout '1000');

--
-- Server: every server option with a good value is accepted
--
CREATE SERVER regress_opt_all FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (
  api_url 'https://api.lemlist.com/api',
  connect_timeout_ms '1000', timeout_ms '2000', max_retries '0',
  max_parallel '8', rate_limit '10', rate_window_ms '1000',
  campaign_errors 'warning', default_start_date '2025-01-01T00:00:00Z',
  ca_file '/etc/ssl/certs/ca-certificates.crt', verify_tls 'false');
SELECT unnest(srvoptions) AS option FROM pg_foreign_server
 WHERE srvname = 'regress_opt_all' ORDER BY 1;
-- no option at all is fine too
CREATE SERVER regress_opt_bare FOREIGN DATA WRAPPER lemlist_fdw;
-- bounds of the integer options are inclusive; surrounding blanks are allowed
ALTER SERVER regress_opt_bare OPTIONS (ADD connect_timeout_ms '1', ADD timeout_ms '3600000',
  ADD max_retries '20', ADD max_parallel '64', ADD rate_limit ' 1 ', ADD rate_window_ms '1');
-- other spellings of a Boolean, scheme in capitals, plain http
ALTER SERVER regress_opt_bare OPTIONS (ADD verify_tls 'on', ADD api_url 'HTTP://127.0.0.1:1/api/');
ALTER SERVER regress_opt_bare OPTIONS (SET verify_tls 'yes');
ALTER SERVER regress_opt_bare OPTIONS (SET verify_tls '0');
SELECT unnest(srvoptions) AS option FROM pg_foreign_server
 WHERE srvname = 'regress_opt_bare' ORDER BY 1;

--
-- Server: unknown names get the "Perhaps you meant" hint, or the list of
-- valid options when nothing is close
--
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout '1000');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_uri 'https://x.example/api');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (max_retry '1');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (campaign_error 'error');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (xyz '1');

--
-- Server: options that belong elsewhere
--
SET log_statement = 'none';
SET log_min_error_statement = panic;
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_key :'key_spare');
RESET log_min_error_statement;
RESET log_statement;
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (resource 'campaign_stats');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (key 'nbLeads');

--
-- Server: integer values, their syntax and their ranges
--
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms 'abc');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms '10ms');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms '1.5');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms '0x10');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms '');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms '0');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms '3600001');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (timeout_ms '99999999999999999999');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (connect_timeout_ms '0');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (connect_timeout_ms '600001');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (max_retries '-1');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (max_retries '21');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (max_parallel '0');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (max_parallel '65');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (rate_limit '0');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (rate_window_ms '-2000');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (max_response_bytes '100');

--
-- Server: enumerations, Booleans, file names and dates
--
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (campaign_errors 'ignore');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (campaign_errors '');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (verify_tls 'maybe');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (verify_tls '');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (ca_file 'certs/ca.pem');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (default_start_date 'yesterday-ish');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (default_start_date '2025-13-01');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (default_start_date 'infinity');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (default_start_date '');
-- dates lemlist can never take (years outside 1 to 9999 in UTC) are bad
-- values too (each in its own transaction, so that nothing outlives it)
BEGIN;
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (default_start_date '20000-01-01T00:00:00Z');
ROLLBACK;
BEGIN;
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (default_start_date '0001-06-01T00:00:00Z BC');
ROLLBACK;

--
-- Server: api_url takes only http(s) URLs naming a host, without
-- credentials (which are never echoed), query string or fragment
--
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'ftp://api.lemlist.com/api');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'file:///etc/passwd');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'api.lemlist.com/api');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'https:///api');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'https://:443/api');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'https://api.lemlist.com/api?x=1');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'https://api.lemlist.com/api#top');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url 'https://api.lemlist.com/my api');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url '');
SET log_statement = 'none';
SET log_min_error_statement = panic;
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url :'url_with_key');
CREATE SERVER regress_opt_bad FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url :'url_with_user_key');
RESET log_min_error_statement;
RESET log_statement;
-- nothing was created by the failed commands
SELECT srvname FROM pg_foreign_server WHERE srvname LIKE 'regress_opt%' ORDER BY 1;

--
-- ALTER SERVER: SET, ADD and DROP go through the same checks
--
ALTER SERVER regress_opt_all OPTIONS (SET timeout_ms '-5');
ALTER SERVER regress_opt_all OPTIONS (SET campaign_errors 'fatal');
SET log_statement = 'none';
SET log_min_error_statement = panic;
ALTER SERVER regress_opt_all OPTIONS (ADD api_key :'key_spare');
RESET log_min_error_statement;
RESET log_statement;
ALTER SERVER regress_opt_all OPTIONS (ADD max_response_bytes 'lots');
ALTER SERVER regress_opt_all OPTIONS (ADD timeout_ms '100');   -- already set
ALTER SERVER regress_opt_all OPTIONS (DROP rate_limt);         -- not set
ALTER SERVER regress_opt_all OPTIONS (SET timeout_ms '2500', SET campaign_errors 'error',
  DROP ca_file, DROP verify_tls, ADD max_response_bytes '1048576');
SELECT unnest(srvoptions) AS option FROM pg_foreign_server
 WHERE srvname = 'regress_opt_all' ORDER BY 1;

--
-- User mapping: api_key only, never empty, never echoed
--
SET log_statement = 'none';
SET log_min_error_statement = panic;
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (apikey :'key_spare');
RESET log_min_error_statement;
RESET log_statement;
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (api_key '');
SET log_statement = 'none';
SET log_min_error_statement = panic;
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (api_key :'key_spare', timeout_ms '100');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (api_key :'key_spare', campaign_errors 'error');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (api_key :'key_spare', api_url 'https://x.example/api');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (api_key :'key_spare', key 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (api_key :'key_spare');
RESET log_min_error_statement;
RESET log_statement;
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (SET api_key '');
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (ADD resource 'campaigns');
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (DROP api_key);
SET log_statement = 'none';
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_opt_all OPTIONS (ADD api_key :'key_spare');
RESET log_statement;
DROP USER MAPPING FOR CURRENT_USER SERVER regress_opt_all;

--
-- Foreign table: resource is required and must name a resource
--
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all;
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (timeout_ms '100');
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign');
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'Campaign_Stats');
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource '');
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resourse 'campaign_stats');
-- options of other objects
SET log_statement = 'none';
SET log_min_error_statement = panic;
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats', api_key :'key_spare');
RESET log_min_error_statement;
RESET log_statement;
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats', key 'campaignId');
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats', api_url 'https://x.example/api');
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats', max_retries '1');
-- bad values of the table-level options
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats', campaign_errors 'Warning');
CREATE FOREIGN TABLE regress_opt_t (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats', default_start_date '2025-02-30');
-- every resource, with the two table-level options
CREATE FOREIGN TABLE regress_opt_t1 (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats', campaign_errors 'notice',
           default_start_date '2025-01-01 00:00:00+00');
CREATE FOREIGN TABLE regress_opt_t2 (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaign_step_stats');
CREATE FOREIGN TABLE regress_opt_t3 (campaign_id text) SERVER regress_opt_all
  OPTIONS (resource 'campaigns');

--
-- ALTER FOREIGN TABLE: resource cannot be dropped or made invalid
--
ALTER FOREIGN TABLE regress_opt_t1 OPTIONS (DROP resource);
ALTER FOREIGN TABLE regress_opt_t1 OPTIONS (SET resource 'stats');
ALTER FOREIGN TABLE regress_opt_t1 OPTIONS (SET campaign_errors 'loud');
SET log_statement = 'none';
SET log_min_error_statement = panic;
ALTER FOREIGN TABLE regress_opt_t1 OPTIONS (ADD api_key :'key_spare');
RESET log_min_error_statement;
RESET log_statement;
ALTER FOREIGN TABLE regress_opt_t1 OPTIONS (SET resource 'campaign_step_stats',
  SET campaign_errors 'error', DROP default_start_date);
SELECT relname, unnest(ftoptions) AS option
  FROM pg_foreign_table JOIN pg_class ON oid = ftrelid
 WHERE relname LIKE 'regress_opt_t%' ORDER BY 1, 2;

--
-- Column: key only, never empty
--
CREATE FOREIGN TABLE regress_opt_c (leads integer OPTIONS (key '')) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE regress_opt_c (leads integer OPTIONS (keys 'nbLeads')) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE regress_opt_c (leads integer OPTIONS (resource 'campaigns')) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats');
SET log_statement = 'none';
SET log_min_error_statement = panic;
CREATE FOREIGN TABLE regress_opt_c (leads integer OPTIONS (api_key :'key_spare')) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats');
RESET log_min_error_statement;
RESET log_statement;
CREATE FOREIGN TABLE regress_opt_c (leads integer OPTIONS (campaign_errors 'error')) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE regress_opt_c (leads integer OPTIONS (key 'nbLeads')) SERVER regress_opt_all
  OPTIONS (resource 'campaign_stats');
ALTER FOREIGN TABLE regress_opt_c ALTER COLUMN leads OPTIONS (SET key '');
ALTER FOREIGN TABLE regress_opt_c ALTER COLUMN leads OPTIONS (ADD timeout_ms '5');
ALTER FOREIGN TABLE regress_opt_c ALTER COLUMN leads OPTIONS (SET key 'nbLeadsLaunched');
SELECT attname, attfdwoptions FROM pg_attribute
 WHERE attrelid = 'regress_opt_c'::regclass AND attnum > 0 ORDER BY attnum;
DROP SERVER regress_opt_all CASCADE;
DROP SERVER regress_opt_bare;

--
-- Effects at query time, on a server pointing at the mock
--
CREATE SERVER regress_opt_mock FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_opt_mock
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE regress_opt_stats (
  campaign_id text, start_date timestamptz, end_date timestamptz,
  nb_leads integer, leads bigint OPTIONS (key 'nbLeads'))
  SERVER regress_opt_mock OPTIONS (resource 'campaign_stats');

-- campaign_errors: the default (notice) ...
SELECT campaign_id, nb_leads = leads AS key_option_works FROM regress_opt_stats
 WHERE campaign_id IN ('cam_00012', 'cam_00013') AND end_date <= '2025-06-30T23:59:59.999Z'
 ORDER BY 1;
-- ... a table-level 'warning' ...
ALTER FOREIGN TABLE regress_opt_stats OPTIONS (ADD campaign_errors 'warning');
SELECT campaign_id FROM regress_opt_stats
 WHERE campaign_id IN ('cam_00012', 'cam_00013') AND end_date <= '2025-06-30T23:59:59.999Z'
 ORDER BY 1;
-- ... a server-level 'error' loses to the table's 'warning' ...
ALTER SERVER regress_opt_mock OPTIONS (ADD campaign_errors 'error');
SELECT campaign_id FROM regress_opt_stats
 WHERE campaign_id IN ('cam_00012', 'cam_00013') AND end_date <= '2025-06-30T23:59:59.999Z'
 ORDER BY 1;
-- ... and applies once the table's option is dropped
ALTER FOREIGN TABLE regress_opt_stats OPTIONS (DROP campaign_errors);
SELECT campaign_id FROM regress_opt_stats
 WHERE campaign_id IN ('cam_00012', 'cam_00013') AND end_date <= '2025-06-30T23:59:59.999Z'
 ORDER BY 1;
ALTER SERVER regress_opt_mock OPTIONS (DROP campaign_errors);

-- default_start_date: the built-in default is the epoch ...
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
SELECT * FROM mock_requests;
-- ... a server-level value replaces it ...
ALTER SERVER regress_opt_mock OPTIONS (ADD default_start_date '2024-06-01T00:00:00Z');
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
SELECT * FROM mock_requests;
-- ... a table-level value (here with an offset) wins over the server's ...
ALTER FOREIGN TABLE regress_opt_stats OPTIONS (ADD default_start_date '2025-02-01T02:00:00+02:00');
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
SELECT * FROM mock_requests;
EXPLAIN (VERBOSE, COSTS OFF) SELECT campaign_id FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
-- ... and a start_date condition of the query wins over both
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-03-01T00:00:00Z'
   AND end_date <= '2025-06-30T23:59:59.999Z';
SELECT * FROM mock_requests;
ALTER FOREIGN TABLE regress_opt_stats OPTIONS (DROP default_start_date);
ALTER SERVER regress_opt_mock OPTIONS (DROP default_start_date);

-- api_url: a trailing slash is not doubled in the request path
ALTER SERVER regress_opt_mock OPTIONS (SET api_url :'api_url');
SELECT :'api_url' || '/' AS api_url_slash \gset
ALTER SERVER regress_opt_mock OPTIONS (SET api_url :'api_url_slash');
SELECT * FROM mock('reset');
SELECT count(*) FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
SELECT * FROM mock_requests;
ALTER SERVER regress_opt_mock OPTIONS (SET api_url :'api_url');

-- max_retries: 1 retry after a 500, so two requests, then the error
ALTER SERVER regress_opt_mock OPTIONS (SET max_retries '1');
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status status=500 route=stats times=5');
SELECT count(*) FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
SELECT * FROM mock_requests;
ALTER SERVER regress_opt_mock OPTIONS (SET max_retries '0');

-- max_response_bytes: a response over the limit is an error
ALTER SERVER regress_opt_mock OPTIONS (ADD max_response_bytes '1024');
SELECT * FROM mock('reset');
SELECT count(*) FROM regress_opt_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003', 'cam_00004', 'cam_00005',
                       'cam_00006', 'cam_00007', 'cam_00008', 'cam_00009', 'cam_00010')
   AND end_date <= '2025-06-30T23:59:59.999Z';
ALTER SERVER regress_opt_mock OPTIONS (DROP max_response_bytes);

-- rate_limit and rate_window_ms: one request per 400 ms, so the four
-- requests (ab_selected A and B times channel email and linkedin) take at
-- least 1200 ms
ALTER SERVER regress_opt_mock OPTIONS (ADD rate_limit '1', ADD rate_window_ms '400');
CREATE FOREIGN TABLE regress_opt_ab (campaign_id text, end_date timestamptz,
  ab_selected text, channel text)
  SERVER regress_opt_mock OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT clock_timestamp() AS t0 \gset
SELECT campaign_id, ab_selected, channel FROM regress_opt_ab
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z'
   AND ab_selected IN ('A', 'B') AND channel IN ('email', 'linkedin')
 ORDER BY 2, 3;
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '1200 ms' AS paced,
       clock_timestamp() - :'t0'::timestamptz < interval '10 s' AS not_stuck;
SELECT count(*) FROM mock_requests;
ALTER SERVER regress_opt_mock OPTIONS (DROP rate_limit, DROP rate_window_ms);

-- max_parallel: with 300 ms of latency per answer, the same four requests
-- take at least 1200 ms one at a time, and much less four at a time
SELECT * FROM mock('config latency_ms=300');
ALTER SERVER regress_opt_mock OPTIONS (ADD max_parallel '1');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM regress_opt_ab
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z'
   AND ab_selected IN ('A', 'B') AND channel IN ('email', 'linkedin');
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '1200 ms' AS one_at_a_time;
ALTER SERVER regress_opt_mock OPTIONS (SET max_parallel '4');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM regress_opt_ab
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z'
   AND ab_selected IN ('A', 'B') AND channel IN ('email', 'linkedin');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1200 ms' AS in_parallel;
ALTER SERVER regress_opt_mock OPTIONS (DROP max_parallel);
SELECT * FROM mock('reset');

-- timeout_ms: a response slower than the limit is a timeout error
ALTER SERVER regress_opt_mock OPTIONS (ADD timeout_ms '200');
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency ms=2000 route=stats');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1500 ms' AS timed_out_early;
SELECT regexp_replace(line, '^(\S+ \S+) \S+', '\1') AS request FROM mock_requests;
ALTER SERVER regress_opt_mock OPTIONS (DROP timeout_ms);

-- api_url pointing at a closed port: a connection error (curl's detail
-- names the port and timing, so it is hidden)
ALTER SERVER regress_opt_mock OPTIONS (SET api_url 'http://127.0.0.1:1/api');
\set VERBOSITY terse
SELECT count(*) FROM regress_opt_stats
 WHERE campaign_id = 'cam_00001' AND end_date <= '2025-06-30T23:59:59.999Z';
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE

-- clean up
DROP SERVER regress_opt_mock CASCADE;
SELECT * FROM mock('reset');
