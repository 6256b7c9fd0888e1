-- examples/02_ab_test.sql: variant A next to variant B
--
-- ab_selected IN ('A', 'B') fans out: lemlist is asked once per variant and
-- each campaign comes back as two rows, which FILTER puts side by side.
-- Only the campaigns whose sequence has an A/B test are kept: the step
-- stats of the deals' campaigns find them (a batched join, one more
-- request).  Reply rate here is per message: replies / messages delivered.

SELECT d.name AS deal, s.campaign_id,
       max(s.delivered) FILTER (WHERE s.ab_selected = 'A') AS delivered_a,
       max(s.replied) FILTER (WHERE s.ab_selected = 'A') AS replied_a,
       max(s.delivered) FILTER (WHERE s.ab_selected = 'B') AS delivered_b,
       max(s.replied) FILTER (WHERE s.ab_selected = 'B') AS replied_b,
       round(100.0 * max(s.replied) FILTER (WHERE s.ab_selected = 'A')
             / nullif(max(s.delivered) FILTER (WHERE s.ab_selected = 'A'), 0), 1) AS reply_pct_a,
       round(100.0 * max(s.replied) FILTER (WHERE s.ab_selected = 'B')
             / nullif(max(s.delivered) FILTER (WHERE s.ab_selected = 'B'), 0), 1) AS reply_pct_b
  FROM lemlist.campaign_stats AS s
  JOIN crm.deals AS d ON d.lemlist_campaign_id = s.campaign_id
 WHERE s.campaign_id IN (SELECT t.campaign_id
                           FROM crm.deals AS td
                           JOIN lemlist.campaign_step_stats AS t
                             ON t.campaign_id = td.lemlist_campaign_id
                          WHERE t.ab_test IS NOT NULL)
   AND s.ab_selected IN ('A', 'B')
 GROUP BY d.name, s.campaign_id
 ORDER BY d.name;
