-- examples/04_step_funnel.sql: the step funnel of one deal's sequence
--
-- campaign_step_stats has one row per step of the sequence.  The campaign
-- is looked up in the CRM by deal name: a scalar sub-select is evaluated
-- before the scan, and its value is sent to lemlist.  pct_of_first
-- compares each step's volume (sent, or invited for LinkedIn invitations)
-- with the first step's.

SELECT step_index AS step, task_type, ab_test,
       invited + sent AS volume, delivered, opened, clicked, replied,
       round(100.0 * (invited + sent)
             / nullif(first_value(invited + sent) OVER (ORDER BY step_index), 0)) AS pct_of_first,
       round(100.0 * replied / nullif(delivered, 0), 1) AS reply_pct
  FROM lemlist.campaign_step_stats
 WHERE campaign_id = (SELECT lemlist_campaign_id FROM crm.deals
                       WHERE name = 'Acme - platform rollout')
 ORDER BY step_index;
