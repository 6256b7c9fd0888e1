--
-- curl: the DETAIL of a transport failure is libcurl's own error text, and
-- its wording changes between libcurl versions.  This suite shows it, whole,
-- for each kind of failure; expected/curl.out holds libcurl 7.88's wording
-- (Debian 12) and expected/curl_N.out the others' (7.74 in Debian 11, 8.14
-- in Debian 13, 8.23 in sid).  The other suites check these failures by message,
-- SQLSTATE, hint and context, which are lemlist_fdw's own.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
\set tls_url `printf "%s" "$LEMLIST_MOCK_TLS_URL"`
\set tls_api_url :tls_url '/api'
\set wrong_ca_file `printf "%s" "$LEMLIST_TLS_WRONG_CA_FILE"`
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`

CREATE SERVER curl_refused FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url 'http://127.0.0.1:9/api', max_retries '0');
CREATE SERVER curl_mock FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
CREATE SERVER curl_tls FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'tls_api_url', ca_file :'wrong_ca_file', max_retries '0');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER curl_refused OPTIONS (api_key :'key_alpha');
CREATE USER MAPPING FOR CURRENT_USER SERVER curl_mock OPTIONS (api_key :'key_alpha');
CREATE USER MAPPING FOR CURRENT_USER SERVER curl_tls OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE curl_refused_stats (campaign_id text, start_date timestamptz,
                                         end_date timestamptz, nb_leads integer)
  SERVER curl_refused OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE curl_mock_stats (campaign_id text, start_date timestamptz,
                                      end_date timestamptz, nb_leads integer)
  SERVER curl_mock OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE curl_tls_stats (campaign_id text, start_date timestamptz,
                                     end_date timestamptz, nb_leads integer)
  SERVER curl_tls OPTIONS (resource 'campaign_stats');

-- the error q raises: SQLSTATE, message and curl's DETAIL (curl 7.88 and
-- later say how long a connection attempt took: masked)
CREATE FUNCTION curl_error(q text) RETURNS TABLE (state text, message text, detail text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT NULL::text, 'no error'::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL;
  RETURN QUERY SELECT state, message, regexp_replace(detail, ' after \d+ ms', ' after N ms');
END
$$;
\x on
-- connection refused: nothing listens on port 9
SELECT * FROM curl_error($$
SELECT nb_leads FROM curl_refused_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);

-- the connection closes in the middle of a 200's body
SELECT * FROM mock('fault truncate route=stats times=-1');
SELECT * FROM curl_error($$
SELECT nb_leads FROM curl_mock_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
SELECT * FROM mock('reset');

-- TLS: a CA that did not sign the server's certificate; no ca_file (the
-- system's CAs do not know the throw-away CA either); a ca_file that does
-- not exist
SELECT * FROM curl_error($$
SELECT nb_leads FROM curl_tls_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
ALTER SERVER curl_tls OPTIONS (DROP ca_file);
SELECT * FROM curl_error($$
SELECT nb_leads FROM curl_tls_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
ALTER SERVER curl_tls OPTIONS (ADD ca_file '/nonexistent/lemlist-regress-ca.pem');
SELECT * FROM curl_error($$
SELECT nb_leads FROM curl_tls_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);
\x off

-- clean up
DROP FUNCTION curl_error(text);
DROP FOREIGN TABLE curl_refused_stats, curl_mock_stats, curl_tls_stats;
DROP USER MAPPING FOR CURRENT_USER SERVER curl_refused;
DROP USER MAPPING FOR CURRENT_USER SERVER curl_mock;
DROP USER MAPPING FOR CURRENT_USER SERVER curl_tls;
DROP SERVER curl_refused, curl_mock, curl_tls;
SELECT * FROM mock('reset');
