-- examples/05_month_over_month.sql: last month against the month before
--
-- One scan per month (each sends its own startDate/endDate), labelled and
-- put side by side per account.  The mock's activity stops at the end of
-- June 2025, so its "last month" is fixed here: June 2025 against May 2025.
-- Against the real API, use the months around now instead:
--     start_date >= date_trunc('month', now()) - interval '1 month'
--     AND end_date < date_trunc('month', now())
-- (and '2 month' / '1 month' for the month before).

SELECT a.name AS account,
       sum(m.delivered) FILTER (WHERE m.month = '2025-05') AS delivered_may,
       sum(m.replied) FILTER (WHERE m.month = '2025-05') AS replied_may,
       sum(m.delivered) FILTER (WHERE m.month = '2025-06') AS delivered_june,
       sum(m.replied) FILTER (WHERE m.month = '2025-06') AS replied_june,
       sum(m.replied) FILTER (WHERE m.month = '2025-06')
         - sum(m.replied) FILTER (WHERE m.month = '2025-05') AS replied_change,
       sum(m.meeting_booked) FILTER (WHERE m.month = '2025-05') AS meetings_may,
       sum(m.meeting_booked) FILTER (WHERE m.month = '2025-06') AS meetings_june
  FROM (SELECT '2025-05' AS month, campaign_id, delivered, replied, meeting_booked
          FROM lemlist.campaign_stats
         WHERE campaign_id IN (SELECT lemlist_campaign_id FROM crm.deals)
           AND start_date >= '2025-05-01 00:00:00+00' AND end_date < '2025-06-01 00:00:00+00'
        UNION ALL
        SELECT '2025-06', campaign_id, delivered, replied, meeting_booked
          FROM lemlist.campaign_stats
         WHERE campaign_id IN (SELECT lemlist_campaign_id FROM crm.deals)
           AND start_date >= '2025-06-01 00:00:00+00' AND end_date < '2025-07-01 00:00:00+00'
       ) AS m
  JOIN crm.deals AS d ON d.lemlist_campaign_id = m.campaign_id
  JOIN crm.accounts AS a USING (account_id)
 GROUP BY a.name
 ORDER BY a.name;
