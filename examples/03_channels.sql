-- examples/03_channels.sql: what each channel brings
--
-- channel IN (...) fans out: one request set per channel, and each row says
-- which channel its numbers were counted under (email; linkedin: visits,
-- invitations and messages; others: phone calls, manual and conditional
-- steps).  Over the campaigns of the CRM's deals, all time; "campaigns"
-- counts those that reached someone on the channel.

SELECT s.channel,
       count(*) FILTER (WHERE s.nb_leads_reached > 0) AS campaigns,
       sum(s.messages_sent) AS sent,
       sum(s.delivered) AS delivered,
       sum(s.opened) AS opened,
       sum(s.replied) AS replied,
       sum(s.invitation_accepted) AS invites_accepted,
       round(100.0 * sum(s.replied) / nullif(sum(s.delivered), 0), 1) AS reply_pct,
       round(100.0 * sum(s.replied) / sum(sum(s.replied)) OVER (), 1) AS share_of_replies_pct
  FROM lemlist.campaign_stats AS s
 WHERE s.campaign_id IN (SELECT lemlist_campaign_id FROM crm.deals)
   AND s.channel IN ('email', 'linkedin', 'others')
 GROUP BY s.channel
 ORDER BY s.channel;
