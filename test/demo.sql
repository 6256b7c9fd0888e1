-- test/demo.sql: the analysts' examples of examples/, run and printed
--
-- Run by test/demo.sh after CREATE EXTENSION, CREATE SERVER, CREATE USER
-- MAPPING and IMPORT FOREIGN SCHEMA lemlist ... INTO lemlist, from the
-- repository's root (the examples are read with \i examples/...), with
-- -v mock=on against the bundled mock or -v mock=off against a real team.
-- Against a real team, the CRM's deals are pointed at the team's newest
-- campaigns, so that the same queries show real numbers.

\set ON_ERROR_STOP on
\set QUIET on
\pset pager off
\pset format aligned
\pset null ''
SET timezone = 'UTC';
SET client_min_messages = warning;	-- errors[] of archived campaigns: see the README

\echo
\echo '== The team''s newest campaigns (GET /campaigns?version=v2)'
\echo
SELECT campaign_id, name, status, labels, to_char(created_at, 'YYYY-MM-DD') AS created
  FROM lemlist.campaigns
 ORDER BY created_at DESC, campaign_id
 LIMIT 5;

\echo
\echo '== A small CRM: accounts, and deals that carry lemlist campaign IDs (examples/00_crm.sql)'
\echo
\i examples/00_crm.sql
\if :mock
\else
-- a real team has other campaign IDs: give each deal one of the team's
-- newest campaigns that have sent something (none left: no campaign)
WITH team AS (
    SELECT campaign_id, row_number() OVER (ORDER BY created_at DESC, campaign_id) AS n
      FROM lemlist.campaigns
     WHERE status NOT IN ('draft', 'archived')),
deal AS (
    SELECT deal_id, row_number() OVER (ORDER BY deal_id) AS n
      FROM crm.deals
     WHERE lemlist_campaign_id IS NOT NULL)
UPDATE crm.deals AS d
   SET lemlist_campaign_id = team.campaign_id
  FROM deal LEFT JOIN team USING (n)
 WHERE d.deal_id = deal.deal_id;
\endif
SELECT a.name AS account, a.industry, d.name AS deal, d.stage, d.amount, d.lemlist_campaign_id
  FROM crm.accounts AS a JOIN crm.deals AS d USING (account_id)
 ORDER BY d.deal_id;

\set ECHO queries
\echo
\echo '== 1. Reply and meeting rates per account (examples/01_rates_per_account.sql)'
\i examples/01_rates_per_account.sql

\echo
\echo '== 2. A/B tests: variant A next to variant B (examples/02_ab_test.sql)'
\i examples/02_ab_test.sql

\echo
\echo '== 3. Per-channel breakdown (examples/03_channels.sql)'
\i examples/03_channels.sql

\echo
\echo '== 4. The step funnel of the Acme deal''s sequence (examples/04_step_funnel.sql)'
\i examples/04_step_funnel.sql

\echo
\echo '== 5. Last month against the month before: June 2025 vs May 2025 (examples/05_month_over_month.sql)'
\i examples/05_month_over_month.sql

\set ECHO none
\echo
\echo '== 6. What is sent: EXPLAIN VERBOSE shows the route, the batches, the filters, the first body'
\echo
SELECT array_agg(lemlist_campaign_id ORDER BY deal_id) AS acme_ids
  FROM crm.deals WHERE account_id = 1
\gset
\set ECHO queries
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id, ab_selected, delivered, replied
  FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (:'acme_ids'::text[])
   AND start_date >= '2025-06-01 00:00:00+00' AND end_date < '2025-07-01 00:00:00+00'
   AND ab_selected IN ('A', 'B');
\set ECHO none

\set ECHO queries
\echo
\echo '== 7. A materialized view of every campaign''s totals, refreshed CONCURRENTLY (examples/06_matview.sql)'
\i examples/06_matview.sql
SELECT count(*) AS campaigns, sum(messages_sent) AS sent, sum(replied) AS replied,
       sum(meeting_booked) AS meetings
  FROM analytics.campaign_totals;

\echo
\echo '== 8. pg_cron refreshes it on a schedule (examples/07_cron.sql)'
\i examples/07_cron.sql

\set ECHO none
-- show one scheduled run: a job every minute (pg_cron 1.4 counts in
-- minutes), waited for, then removed
\echo
\echo '-- a one-off job at the next minute; waiting for its run (a minute at most)...'
SELECT cron.schedule('demo-refresh-now', '* * * * *',
                     'REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals') > 0
       AS scheduled
\gset
DO $$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '75 seconds';
BEGIN
  WHILE NOT EXISTS (SELECT FROM cron.job_run_details AS r
                      JOIN cron.job AS j USING (jobid)
                     WHERE j.jobname = 'demo-refresh-now'
                       AND r.status IN ('succeeded', 'failed')) LOOP
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'pg_cron did not run the job within 75 seconds';
    END IF;
    PERFORM pg_sleep(0.5);
  END LOOP;
END
$$;
SELECT j.jobname, to_char(r.start_time, 'HH24:MI:SS') AS started, r.end_time - r.start_time AS took,
       r.status, r.return_message
  FROM cron.job_run_details AS r
  JOIN cron.job AS j USING (jobid)
 WHERE j.jobname = 'demo-refresh-now';
SELECT cron.unschedule('demo-refresh-now') AS unscheduled
\gset
