--
-- matview: the materialized view of examples/06_matview.sql over
-- campaign_stats; plain and CONCURRENTLY refreshes; a refresh that meets
-- an API failure is an ERROR and leaves the previous rows intact
--
SELECT * FROM mock('reset');
\set VERBOSITY default

\i examples/00_crm.sql
\i examples/06_matview.sql

-- what one refresh costs: the team's campaign list (3 pages of 100) and
-- one batch per 100 campaigns
SELECT * FROM mock('reset');
REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals;
SELECT regexp_replace(line, '"campaignIds":\[[^]]*\],.*', '...') AS request
  FROM mock_requests ORDER BY 1;
SELECT count(*) AS campaigns, sum(replied) AS replied, sum(meeting_booked) AS meetings
  FROM analytics.campaign_totals;

CREATE TEMP TABLE totals_250 AS SELECT * FROM analytics.campaign_totals;
-- totals_equal(snapshot): whether the view holds exactly the snapshot's rows
CREATE FUNCTION pg_temp.totals_equal(snapshot regclass) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  same boolean;
BEGIN
  EXECUTE format('SELECT NOT EXISTS (SELECT * FROM analytics.campaign_totals EXCEPT SELECT * FROM %1$s)
                     AND NOT EXISTS (SELECT * FROM %1$s EXCEPT SELECT * FROM analytics.campaign_totals)',
                 snapshot) INTO same;
  RETURN same;
END
$$;

-- the team shrinks to 240 campaigns: a concurrent refresh deletes the ten
-- rows that went and leaves the others as they were
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=240');
REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals;
SELECT count(*) AS campaigns, min(campaign_id), max(campaign_id)
  FROM analytics.campaign_totals;
SELECT campaign_id FROM totals_250
EXCEPT SELECT campaign_id FROM analytics.campaign_totals
ORDER BY 1;
SELECT count(*) AS rows_that_changed
  FROM (SELECT * FROM analytics.campaign_totals
        EXCEPT SELECT * FROM totals_250) AS changed;

CREATE TEMP TABLE totals_240 AS SELECT * FROM analytics.campaign_totals;

-- the team is back to 250 campaigns, but every stats request fails (HTTP
-- 500, retried max_retries times): the concurrent refresh is an ERROR and
-- the view still holds the 240-campaign rows
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=stats status=500 times=-1');
REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals;
SELECT count(*) AS campaigns FROM analytics.campaign_totals;
SELECT pg_temp.totals_equal('totals_240') AS previous_rows_intact;

-- the first batch to arrive is answered, the two others fail: still an
-- ERROR, and the rows of the answered batch are not kept either
SELECT * FROM mock('reset');
SELECT * FROM mock('fault latency route=stats ms=0');
SELECT * FROM mock('fault status route=stats status=503 times=-1');
SET client_min_messages = warning;	-- cam_00013's NOTICE comes only with its batch
REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals;
RESET client_min_messages;
SELECT split_part(line, ' ', 3) AS status, split_part(line, ' ', 4) AS fault,
       count(*) > 0 AS seen
  FROM mock('requests --route stats') AS line
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS campaigns FROM analytics.campaign_totals;
SELECT pg_temp.totals_equal('totals_240') AS previous_rows_intact;

-- a plain REFRESH (not CONCURRENTLY) whose campaign list fails: an ERROR,
-- and the rows are still there
SELECT * FROM mock('reset');
SELECT * FROM mock('fault status route=campaigns status=502 times=-1');
REFRESH MATERIALIZED VIEW analytics.campaign_totals;
SELECT pg_temp.totals_equal('totals_240') AS previous_rows_intact;

-- a refresh inside a transaction that fails later is rolled back with it
SELECT * FROM mock('reset');
BEGIN;
REFRESH MATERIALIZED VIEW analytics.campaign_totals;
SELECT count(*) AS campaigns_inside FROM analytics.campaign_totals;
ROLLBACK;
SELECT count(*) AS campaigns_after_rollback FROM analytics.campaign_totals;

-- the API is healthy again: the next refresh brings back the full team,
-- the same rows as before the team shrank
REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals;
SELECT pg_temp.totals_equal('totals_250') AS same_as_before;

-- CONCURRENTLY needs the unique index
DROP INDEX analytics.campaign_totals_campaign_id;
REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals;

SELECT * FROM mock('reset');
DROP SCHEMA analytics CASCADE;
DROP SCHEMA crm CASCADE;
