--
-- encoding: a database that is not UTF-8.  lemlist answers in UTF-8: strings
-- are converted to the database encoding, and a character it lacks is an
-- ERROR whose CONTEXT names the field; JSON text (the raw object, a json
-- column) escapes every character beyond ASCII, so it is valid in any
-- encoding and loses nothing.  Request bodies go out as ASCII too.
--
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- the API key: from the environment (see setup), kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`
SELECT * FROM mock('reset');
-- the answers the LATIN1 database gets (the mock serves any database)
SELECT * FROM mock($$fault body route=campaigns times=3 'body=[{"_id":"cam_x1","name":"Caf\u00e9","labels":["\u00e9t\u00e9",null],"extra":{"k":"\u00fc \u2615 ü"}},{"_id":"cam_x2","name":"Caf\u00e9 \u2615"}]'$$);
CREATE DATABASE regress_lemlist_latin1 ENCODING 'LATIN1' TEMPLATE template0
  LC_COLLATE 'C' LC_CTYPE 'C';
\c regress_lemlist_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION lemlist_fdw;
CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url :'api_url');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE FOREIGN TABLE campaigns_json (campaign_id text, labels text[], extra json, raw json)
  SERVER lemlist OPTIONS (resource 'campaigns');
CREATE FOREIGN TABLE campaigns_name (campaign_id text, name text)
  SERVER lemlist OPTIONS (resource 'campaigns');
-- JSON text is ASCII: U+00FC and U+2615 become \u escapes, valid json in
-- LATIN1 (this part of the file names them so: U+2615 is not in LATIN1; and
-- PostgreSQL's own json operators decode such escapes, so they would fail)
SELECT campaign_id, labels, extra FROM campaigns_json ORDER BY 1;
SELECT raw FROM campaigns_json WHERE campaign_id = 'cam_x1';
-- U+00E9 exists in LATIN1, U+2615 (in the name of cam_x2) does not: an ERROR
-- whose CONTEXT names the field
SELECT campaign_id, name FROM campaigns_name WHERE campaign_id = 'cam_x1';
\c contrib_regression
SELECT * FROM mock('reset');
DROP DATABASE regress_lemlist_latin1;
