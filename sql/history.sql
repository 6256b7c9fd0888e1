--
-- history: examples/08_history.sql keeps each day's figures in a plain
-- table; with lemlist unreachable, a dump restores that table with its rows,
-- while the materialized view of examples/06_matview.sql is left
-- unpopulated.  A database of its own, whose user mapping has the mock's
-- default key (no secret: the dump carries it).
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
CREATE DATABASE regress_lemlist_history;
CREATE DATABASE regress_lemlist_restored;
SELECT setting AS bindir FROM pg_config WHERE name = 'BINDIR' \gset
SELECT split_part(current_setting('unix_socket_directories'), ',', 1) AS socket,
       current_setting('port') AS port \gset
\c regress_lemlist_history
SET timezone = 'UTC';
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
\i test/mock.sql
CREATE EXTENSION lemlist_fdw;
CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key 'test-key-alpha');
CREATE SCHEMA lemlist;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist;
\i examples/00_crm.sql
\i examples/06_matview.sql
\i examples/08_history.sql

-- March 1st, 2025: one listing of the team, then one batch per 100
-- campaigns for that day; recorded again, nothing changes
SELECT * FROM mock('reset');
CALL analytics.record_day('2025-03-01');
SELECT day, count(*) AS campaigns, sum(messages_sent) AS messages_sent, sum(replied) AS replied
  FROM analytics.campaign_daily GROUP BY day;
SELECT DISTINCT regexp_replace(line, '"campaignIds":\[[^]]*\],', '') AS request
  FROM mock('requests') AS line WHERE line ~ '^POST';
CALL analytics.record_day('2025-03-01');
CALL analytics.record_day('2025-03-02');
SELECT day, count(*) AS campaigns, sum(messages_sent) AS messages_sent, sum(replied) AS replied
  FROM analytics.campaign_daily GROUP BY day ORDER BY day;

-- lemlist unreachable (every request a 503): pg_dump | psql into a new
-- database; the REFRESH of the view is the restore's only error
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=503 times=-1');
SELECT * FROM mock('fault status route=campaigns status=503 times=-1');
CREATE TABLE restore_output (n serial, line text);
SELECT format('COPY restore_output (line) FROM PROGRAM %L',
              format('%1$s/pg_dump -h %2$s -p %3$s -d regress_lemlist_history | '
                     '%1$s/psql -X -q -h %2$s -p %3$s -d regress_lemlist_restored 2>&1',
                     :'bindir', :'socket', :'port')) AS restore \gset
:restore;
SELECT line FROM restore_output WHERE line ~ '(ERROR|FATAL)' ORDER BY n;
SELECT * FROM mock('reset');

\c regress_lemlist_restored
SELECT day, count(*) AS campaigns, sum(messages_sent) AS messages_sent, sum(replied) AS replied
  FROM analytics.campaign_daily GROUP BY day ORDER BY day;
SELECT relname, relispopulated FROM pg_class
 WHERE relname IN ('campaign_daily', 'campaign_totals') ORDER BY 1;
-- once lemlist answers, the view is computed again
REFRESH MATERIALIZED VIEW analytics.campaign_totals;
SELECT count(*) AS campaigns FROM analytics.campaign_totals;

\c contrib_regression
DROP DATABASE regress_lemlist_history;
DROP DATABASE regress_lemlist_restored;
