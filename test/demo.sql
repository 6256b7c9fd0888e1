-- test/demo.sql: example queries over the lemlist foreign tables
--
-- Run by test/demo.sh after CREATE EXTENSION, CREATE SERVER, CREATE USER
-- MAPPING and IMPORT FOREIGN SCHEMA lemlist ... INTO lemlist.  The campaigns
-- used come from the campaigns table itself, so the same queries work against
-- the mock and against a real lemlist team.

\set ON_ERROR_STOP on
\set QUIET on
\pset pager off
\pset format aligned
\pset null '(null)'
SET timezone = 'UTC';

-- pick the three newest campaigns that have sent something (not drafts nor
-- archived ones) for the examples below
SELECT count(*) > 0 AS have_campaigns,
       array_agg(campaign_id ORDER BY created_at DESC, campaign_id) AS demo_ids,
       (array_agg(campaign_id ORDER BY created_at DESC, campaign_id))[1] AS demo_id
  FROM (SELECT campaign_id, created_at
          FROM lemlist.campaigns
         WHERE status NOT IN ('draft', 'archived')
         ORDER BY created_at DESC, campaign_id
         LIMIT 3) AS c
\gset
\set QUIET off
\if :have_campaigns
\else
\echo 'This lemlist team has no active campaigns: nothing to show.'
\quit
\endif

\set ECHO queries

\echo
\echo '-- 1. The newest campaigns of the team (GET /campaigns?version=v2)'
SELECT campaign_id, name, status, labels, created_at::date AS created, has_error
  FROM lemlist.campaigns
 ORDER BY created_at DESC, campaign_id
 LIMIT 8;

\echo
\echo '-- 2. Three campaigns over the first half of 2025, named from the campaigns table (stats: one POST /v2/campaigns/stats/batch)'
SELECT c.name, s.nb_leads AS leads, s.nb_leads_reached AS reached,
       s.messages_sent AS sent, s.delivered, s.opened, s.clicked, s.replied,
       round(100.0 * s.replied / nullif(s.delivered, 0), 1) AS reply_pct,
       s.meeting_booked AS meetings
  FROM lemlist.campaign_stats AS s
  JOIN lemlist.campaigns AS c USING (campaign_id)
 WHERE s.campaign_id = ANY (:'demo_ids'::text[])
   AND s.start_date >= '2025-01-01 00:00:00+00'
   AND s.end_date <= '2025-06-30 23:59:59.999+00'
 ORDER BY c.name;

\echo
\echo '-- 3. A/B test, variant A next to variant B (ab_selected IN (...) fans out: one request per variant)'
SELECT campaign_id,
       max(messages_sent) FILTER (WHERE ab_selected = 'A') AS sent_a,
       max(messages_sent) FILTER (WHERE ab_selected = 'B') AS sent_b,
       max(opened) FILTER (WHERE ab_selected = 'A') AS opened_a,
       max(opened) FILTER (WHERE ab_selected = 'B') AS opened_b,
       max(replied) FILTER (WHERE ab_selected = 'A') AS replied_a,
       max(replied) FILTER (WHERE ab_selected = 'B') AS replied_b
  FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (:'demo_ids'::text[])
   AND ab_selected IN ('A', 'B')
 GROUP BY campaign_id
 ORDER BY campaign_id;

\echo
\echo '-- 4. Per-channel breakdown (channel IN (...): one request set per channel)'
SELECT campaign_id, channel, messages_sent AS sent, delivered, opened, replied,
       invitation_accepted
  FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (:'demo_ids'::text[])
   AND channel IN ('email', 'linkedin', 'others')
 ORDER BY campaign_id, channel;

\echo
\echo '-- 5. Step funnel of one campaign (campaign_step_stats: one row per step)'
SELECT step_index, sequence_step, task_type, ab_test, invited, sent, delivered,
       opened, clicked, replied, bounced, unsubscribed
  FROM lemlist.campaign_step_stats
 WHERE campaign_id = :'demo_id'
 ORDER BY step_index;

\echo
\echo '-- 6. What is sent to the API: EXPLAIN VERBOSE shows the route, batches, filters and the first request body'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id, ab_selected, messages_sent, replied
  FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (:'demo_ids'::text[])
   AND start_date >= '2025-01-01 00:00:00+00'
   AND end_date <= '2025-06-30 23:59:59.999+00'
   AND ab_selected IN ('A', 'B');
