--
-- cron: pg_cron refreshes the materialized view of examples/06_matview.sql
-- on a schedule (examples/07_cron.sql).  test/lib.sh starts the cluster
-- with shared_preload_libraries = 'pg_cron' and cron.database_name set to
-- this database.  The job's run is waited for, with a bound: pg_cron 1.5
-- and later take a '1 seconds' schedule; Debian 12's 1.4 only minutes, so
-- the wait is then up to a minute.
--
SELECT * FROM mock('reset');

\i examples/00_crm.sql
\i examples/06_matview.sql
\i examples/07_cron.sql
SELECT cron.unschedule('lemlist-campaign-totals');

-- the team shrinks to 240 campaigns: the view still has 249 rows (250
-- campaigns but the archived cam_00013) until the next refresh
SELECT * FROM mock('config campaigns=240');
SELECT count(*) AS campaigns FROM analytics.campaign_totals;

-- schedule the refresh as soon as pg_cron can
DO $$
BEGIN
  BEGIN
    PERFORM cron.schedule('refresh-campaign-totals', '1 seconds',
                          'REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals');
  EXCEPTION WHEN OTHERS THEN
    -- pg_cron before 1.5: "invalid schedule: 1 seconds"
    PERFORM cron.schedule('refresh-campaign-totals', '* * * * *',
                          'REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals');
  END;
END
$$;

-- wait for the first run to finish, 75 seconds at most
DO $$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '75 seconds';
BEGIN
  WHILE NOT EXISTS (SELECT FROM cron.job_run_details AS r
                      JOIN cron.job AS j USING (jobid)
                     WHERE j.jobname = 'refresh-campaign-totals'
                       AND r.status IN ('succeeded', 'failed')) LOOP
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'pg_cron did not run the job within 75 seconds';
    END IF;
    PERFORM pg_sleep(0.2);
  END LOOP;
END
$$;

-- the scheduled run succeeded, and the view now has the 240-campaign team
SELECT r.status, r.return_message, r.database, r.username, r.command
  FROM cron.job_run_details AS r
  JOIN cron.job AS j USING (jobid)
 WHERE j.jobname = 'refresh-campaign-totals'
 ORDER BY r.runid
 LIMIT 1;
SELECT count(*) AS campaigns, max(campaign_id) FROM analytics.campaign_totals;

-- stop the job and wait for a run still in flight (10 seconds at most), so
-- that nothing reaches the mock after this suite
SELECT cron.unschedule('refresh-campaign-totals');
DO $$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '10 seconds';
BEGIN
  WHILE EXISTS (SELECT FROM pg_stat_activity
                 WHERE query LIKE 'REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.%'
                   AND state = 'active' AND pid <> pg_backend_pid()) LOOP
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'a scheduled refresh still runs after 10 seconds';
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
END
$$;
SELECT count(*) AS jobs FROM cron.job;

SELECT * FROM mock('reset');
DROP SCHEMA analytics CASCADE;
DROP SCHEMA crm CASCADE;
DROP EXTENSION pg_cron;
