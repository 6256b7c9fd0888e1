-- examples/01_rates_per_account.sql: reply and meeting rates per account
--
-- Every campaign of the CRM's deals, all time (no date condition: lemlist
-- counts from the beginning until now).  The plain join is a batched join:
-- it reads the deals first and sends one POST /v2/campaigns/stats/batch per
-- 100 distinct campaigns, whatever the number of CRM rows or of campaigns in
-- the team; deals without a campaign (NULL) ask for nothing.
-- Reply rate: leads who answered / leads reached; meeting rate: meetings
-- booked / leads reached.

SELECT a.name AS account,
       count(*) AS campaigns,
       sum(s.nb_leads_reached) AS reached,
       sum(s.nb_leads_answered) AS answered,
       round(100.0 * sum(s.nb_leads_answered) / nullif(sum(s.nb_leads_reached), 0), 1) AS reply_pct,
       sum(s.meeting_booked) AS meetings,
       round(100.0 * sum(s.meeting_booked) / nullif(sum(s.nb_leads_reached), 0), 1) AS meeting_pct
  FROM crm.accounts AS a
  JOIN crm.deals AS d USING (account_id)
  JOIN lemlist.campaign_stats AS s ON s.campaign_id = d.lemlist_campaign_id
 GROUP BY a.name
 ORDER BY reply_pct DESC, account;
