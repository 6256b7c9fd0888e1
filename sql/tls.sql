--
-- tls: the mock served over https (test/lib.sh start_tls_mock), with a
-- certificate for 127.0.0.1 signed by a throw-away CA made with openssl for
-- this run, and a second, unrelated CA.  ca_file naming the right CA makes
-- every route work; the wrong CA, the system CAs or a missing file are an
-- ERROR that says so (SQLSTATE HV00N, like any failure to connect); verify_tls false works
-- without any CA, and only a superuser can set either option.  The URL and
-- the paths change with every run: they come from the environment, never shown.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
\set tls_url `printf "%s" "$LEMLIST_MOCK_TLS_URL"`
\set tls_api_url :tls_url '/api'
\set ca_file `printf "%s" "$LEMLIST_TLS_CA_FILE"`
\set wrong_ca_file `printf "%s" "$LEMLIST_TLS_WRONG_CA_FILE"`
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`

CREATE SERVER lemlist_tls FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'tls_api_url', ca_file :'ca_file', max_retries '2');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist_tls OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE SCHEMA lemlist_tls;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist_tls INTO lemlist_tls;
-- the same query on the https server as on the http one
CREATE FUNCTION tls_stats(OUT campaign_id text, OUT nb_leads int, OUT replied int)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT campaign_id, nb_leads, replied FROM lemlist_tls.campaign_stats
   WHERE campaign_id IN ('cam_00001', 'cam_00002')
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
   ORDER BY 1
$$;
-- the error tls_stats() raises: SQLSTATE, message, hint and where, and
-- whether it has a DETAIL (curl's own wording, which suite curl shows)
CREATE FUNCTION tls_error(OUT state text, OUT message text, OUT curl_detail boolean,
                          OUT hint text, OUT context text)
LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  PERFORM * FROM tls_stats();
  message := 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT,
                          context = PG_EXCEPTION_CONTEXT;
  curl_detail := detail <> '';
  context := split_part(context, E'\n', 1);
END
$$;

--
-- ca_file names the throw-away CA: every route works, and the answers are
-- those of the http mock
--
SELECT * FROM tls_stats();
SELECT step_index, task_type, sent FROM lemlist_tls.campaign_step_stats
 WHERE campaign_id = 'cam_00002'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
 ORDER BY 1;
SELECT count(*) FROM lemlist_tls.campaigns;
SELECT (SELECT array_agg(s ORDER BY s) FROM tls_stats() AS s) =
       (SELECT array_agg(s ORDER BY s)
          FROM (SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats
                 WHERE campaign_id IN ('cam_00001', 'cam_00002')
                   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30') AS s)
       AS same_as_http;
-- the whole team: 3 pages of the list, then 3 batches (cam_00013 is in errors[])
SELECT count(*) FROM lemlist_tls.campaign_stats
 WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30';

--
-- the wrong CA: an ERROR naming the certificate problem (in its DETAIL)
--
ALTER SERVER lemlist_tls OPTIONS (SET ca_file :'wrong_ca_file');
SELECT * FROM tls_error();
-- no ca_file: the system CAs do not know the throw-away CA either
ALTER SERVER lemlist_tls OPTIONS (DROP ca_file);
SELECT * FROM tls_error();
-- a ca_file that does not exist
ALTER SERVER lemlist_tls OPTIONS (ADD ca_file '/nonexistent/lemlist-regress-ca.pem');
SELECT * FROM tls_error();
-- a relative path is refused when the option is set
ALTER SERVER lemlist_tls OPTIONS (SET ca_file 'ca.pem');
-- back to the right CA: the session works
ALTER SERVER lemlist_tls OPTIONS (SET ca_file :'ca_file');
SELECT * FROM tls_stats();

--
-- verify_tls false: no CA needed, the certificate is not checked
--
ALTER SERVER lemlist_tls OPTIONS (DROP ca_file, ADD verify_tls 'false');
SELECT * FROM tls_stats();
-- verify_tls true again, without a CA: the check is back
ALTER SERVER lemlist_tls OPTIONS (SET verify_tls 'true');
SELECT * FROM tls_error();

--
-- only a superuser sets ca_file or verify_tls, on a server of one's own
-- too; a non-superuser can use a server a superuser configured
--
CREATE ROLE regress_tls_user;
GRANT USAGE ON FOREIGN DATA WRAPPER lemlist_fdw TO regress_tls_user;
SET ROLE regress_tls_user;
CREATE SERVER regress_tls_own FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (verify_tls 'false');
CREATE SERVER regress_tls_own FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (ca_file :'wrong_ca_file');
CREATE SERVER regress_tls_own FOREIGN DATA WRAPPER lemlist_fdw;
ALTER SERVER regress_tls_own OPTIONS (ADD verify_tls 'false');
ALTER SERVER regress_tls_own OPTIONS (ADD ca_file :'ca_file');
RESET ROLE;
ALTER SERVER lemlist_tls OPTIONS (ADD ca_file :'ca_file');
GRANT USAGE ON FOREIGN SERVER lemlist_tls TO regress_tls_user;
GRANT USAGE ON SCHEMA lemlist_tls TO regress_tls_user;
GRANT SELECT ON lemlist_tls.campaign_stats TO regress_tls_user;
SET log_statement = 'none';
CREATE USER MAPPING FOR regress_tls_user SERVER lemlist_tls OPTIONS (api_key :'key_alpha');
RESET log_statement;
SET ROLE regress_tls_user;
SELECT * FROM tls_stats();
-- (and only its owner may alter that server)
ALTER SERVER lemlist_tls OPTIONS (SET verify_tls 'false');
RESET ROLE;

-- clean up
DROP SCHEMA lemlist_tls CASCADE;
DROP FUNCTION tls_stats(), tls_error();
DROP SERVER lemlist_tls CASCADE;
DROP OWNED BY regress_tls_user;
DROP ROLE regress_tls_user;
SELECT * FROM mock('reset');
