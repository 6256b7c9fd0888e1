-- examples/08_history.sql: keep each day's figures in a plain table
--
-- A materialized view over lemlist tables is computed again by every
-- refresh, and by pg_restore too, which then needs the API: with lemlist
-- unreachable the restored view is left unpopulated.  A plain table keeps
-- what it was given, and dumps and restores with its rows.  Here one row per
-- campaign and day, added once a day for the day before; recording a day
-- again adds nothing.

CREATE TABLE analytics.campaign_daily (
  day            date NOT NULL,
  campaign_id    text NOT NULL,
  messages_sent  integer,
  replied        integer,
  meeting_booked integer,
  PRIMARY KEY (day, campaign_id)
);

-- the figures of one day (its dates are sent to lemlist as constants)
CREATE PROCEDURE analytics.record_day(day date)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    INSERT INTO analytics.campaign_daily
    SELECT %1$L, campaign_id, messages_sent, replied, meeting_booked
      FROM lemlist.campaign_stats
     WHERE start_date >= %1$L::date AND end_date < %2$L::date
    ON CONFLICT (day, campaign_id) DO NOTHING$q$, day, day + 1);
END
$$;

-- once a day, for yesterday (pg_cron, as in examples/07_cron.sql):
--     SELECT cron.schedule('lemlist-daily', '15 0 * * *',
--                          $$CALL analytics.record_day(current_date - 1)$$);
