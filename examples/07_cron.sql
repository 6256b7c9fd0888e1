-- examples/07_cron.sql: refresh the materialized view on a schedule
--
-- pg_cron (Debian: apt-get install postgresql-17-cron, for 17) runs SQL on a cron
-- schedule from inside PostgreSQL.  postgresql.conf needs, then a restart:
--     shared_preload_libraries = 'pg_cron'
--     cron.database_name = 'analytics'     -- the database of the view
-- A job connects to the server like a client, as the role that scheduled
-- it (cron.host, default localhost: pg_hba.conf must let it in, or
-- ~postgres/.pgpass give its password), or runs in a background worker
-- with cron.use_background_workers = on.  That role needs a user mapping
-- with its api_key for the lemlist server.

CREATE EXTENSION IF NOT EXISTS pg_cron;

-- every 30 minutes
SELECT cron.schedule('lemlist-campaign-totals', '*/30 * * * *',
                     'REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals') > 0
       AS scheduled;

SELECT jobname, schedule, command FROM cron.job ORDER BY jobid;

-- how did the last runs go?  (a failed refresh keeps the previous rows; its
-- ERROR is in return_message)
--     SELECT start_time, status, return_message
--       FROM cron.job_run_details ORDER BY start_time DESC LIMIT 5;
-- to stop it:
--     SELECT cron.unschedule('lemlist-campaign-totals');
