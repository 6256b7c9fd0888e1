-- examples/06_matview.sql: a materialized view of every campaign's totals
--
-- Dashboards read this table instead of calling lemlist: one refresh asks
-- lemlist for every campaign of the team (GET /campaigns?version=v2 pages,
-- then one POST /v2/campaigns/stats/batch per 100 campaigns), all time.
-- The unique index is what REFRESH ... CONCURRENTLY needs: readers keep
-- reading the previous rows during a refresh, and only the rows that
-- changed are rewritten.  A refresh either gets every row or fails with an
-- ERROR that leaves the previous rows in place (a campaign lemlist cannot
-- report on, in the response's errors[], is a NOTICE and has no row).

CREATE SCHEMA analytics;

CREATE MATERIALIZED VIEW analytics.campaign_totals AS
SELECT campaign_id, nb_leads, nb_leads_reached, nb_leads_answered,
       nb_leads_interested, messages_sent, delivered, opened, clicked,
       replied, invitation_accepted, meeting_booked
  FROM lemlist.campaign_stats;

CREATE UNIQUE INDEX campaign_totals_campaign_id
    ON analytics.campaign_totals (campaign_id);

-- later, as often as needed (pg_cron can do it: examples/07_cron.sql)
REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.campaign_totals;

-- the CRM joins a local table now: no request to lemlist
SELECT a.name AS account, sum(t.replied) AS replied, sum(t.meeting_booked) AS meetings
  FROM analytics.campaign_totals AS t
  JOIN crm.deals AS d ON d.lemlist_campaign_id = t.campaign_id
  JOIN crm.accounts AS a USING (account_id)
 GROUP BY a.name
 ORDER BY a.name;
