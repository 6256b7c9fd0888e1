--
-- fanout: several values of send_user, ab_selected or channel become one
-- request set per value (per combination of values), and each row echoes
-- the values its numbers were computed under.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
SET datestyle = ISO;

-- masked_requests(), masked_explain() and mock_bodies come from setup

--
-- ab_selected IN ('A', 'B'): one request set per value, and for each
-- campaign a row for A and a row for B; the other echo columns are NULL
-- (not filtered)
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id, ab_selected, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002') AND ab_selected IN ('A', 'B')
   AND start_date = '2025-01-01 00:00:00+00' AND end_date = '2025-06-30 23:59:59.999+00';
SELECT * FROM mock('reset');
SELECT campaign_id, ab_selected, send_user, channel, nb_leads, messages_sent
  FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002') AND ab_selected IN ('A', 'B')
   AND start_date = '2025-01-01 00:00:00+00' AND end_date = '2025-06-30 23:59:59.999+00'
 ORDER BY campaign_id, ab_selected;
SELECT * FROM masked_requests();

-- the same query unfiltered: one request, ab_selected NULL ("both variants")
SELECT * FROM mock('reset');
SELECT campaign_id, ab_selected, send_user, channel, nb_leads, messages_sent
  FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date = '2025-01-01 00:00:00+00' AND end_date = '2025-06-30 23:59:59.999+00'
 ORDER BY campaign_id;
SELECT * FROM masked_requests();

-- "ab_selected IS NULL" asks for exactly those unfiltered rows: not pushed
SELECT * FROM mock('reset');
SELECT campaign_id, ab_selected, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND ab_selected IS NULL;
SELECT * FROM masked_requests();

-- step stats: each variant's request set drops the other variant's step
SELECT * FROM mock('reset');
SELECT campaign_id, ab_selected, step_index, ab_test, task_type, sent
  FROM lemlist.campaign_step_stats
 WHERE campaign_id = 'cam_00001' AND ab_selected IN ('B', 'A')
 ORDER BY ab_selected, step_index;
SELECT * FROM masked_requests();

--
-- channel IN ('email', 'linkedin'): channels: ["email"], then ["linkedin"]
--
EXPLAIN (COSTS OFF)
SELECT campaign_id, channel FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel IN ('email', 'linkedin');
SELECT * FROM mock('reset');
SELECT campaign_id, channel, ab_selected, send_user, nb_leads_reached, messages_sent
  FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel IN ('email', 'linkedin')
 ORDER BY channel;
SELECT * FROM masked_requests();

--
-- send_user IN two senders: one request set per sender
--
EXPLAIN (COSTS OFF)
SELECT campaign_id, send_user FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00002'
   AND send_user IN ('usr_bob|bob@example.com', 'usr_alice|alice@example.com');
SELECT * FROM mock('reset');
SELECT campaign_id, send_user, ab_selected, channel, nb_leads
  FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00002'
   AND send_user IN ('usr_bob|bob@example.com', 'usr_alice|alice@example.com')
 ORDER BY send_user;
SELECT * FROM masked_requests();

--
-- Several conditions on one filter: their intersection; duplicates and
-- NULLs dropped; an empty set sends nothing
--
SELECT * FROM mock('reset');
SELECT campaign_id, ab_selected, channel FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND ab_selected IN ('A', 'B') AND ab_selected = 'B'
   AND channel IN ('email', 'others', NULL, 'email') AND channel IN ('others', 'linkedin');
SELECT campaign_id, ab_selected FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND ab_selected IN ('A', 'A', NULL);
SELECT campaign_id, ab_selected FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND ab_selected = ANY ('{}');
SELECT campaign_id, send_user FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND send_user IN ('usr_bob|bob@example.com') AND send_user IN ('usr_carol|carol@example.com');
SELECT * FROM masked_requests();

--
-- 2 senders x 2 variants x 2 channels = 8 request sets; with 150 campaigns,
-- 2 chunks each: 16 requests, all with the same dates and the same chunks
--
SELECT array_agg(format('cam_%s', lpad(i::text, 5, '0')) ORDER BY i) AS ids150
  FROM generate_series(101, 250) AS i \gset
SELECT line FROM masked_explain($$
  SELECT count(*) FROM lemlist.campaign_stats
   WHERE campaign_id = ANY ($$ || quote_literal(:'ids150') || $$::text[])
     AND send_user IN ('usr_alice|alice@example.com', 'usr_carol|carol@example.com')
     AND ab_selected IN ('A', 'B') AND channel IN ('linkedin', 'email')
$$) AS line WHERE line ~ 'lemlist (Request|Campaigns|Batches|Filters)';
SELECT * FROM mock('reset');
SELECT send_user, ab_selected, channel, count(*) AS campaigns,
       count(DISTINCT end_date) AS end_dates
  FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (:'ids150'::text[])
   AND send_user IN ('usr_alice|alice@example.com', 'usr_carol|carol@example.com')
   AND ab_selected IN ('A', 'B') AND channel IN ('linkedin', 'email')
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- per request set: its filters and its chunks
SELECT b->>'sendUser' AS send_user, b->>'ABSelected' AS ab, b->>'channels' AS channels,
       count(*) AS requests,
       string_agg(jsonb_array_length(b->'campaignIds')::text, ', '
                  ORDER BY b->'campaignIds'->>0) AS chunk_sizes
  FROM mock_bodies GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- across all 16: one startDate, one endDate (the statement's start), two
-- distinct chunks that together hold the 150 IDs in order
SELECT count(*) AS requests,
       count(DISTINCT b->>'startDate') AS start_dates,
       min(b->>'startDate') AS start_date,
       count(DISTINCT b->>'endDate') AS end_dates,
       mask_now('endDate=' || min(b->>'endDate')) AS end_date,
       count(DISTINCT b->'campaignIds') AS distinct_chunks
  FROM mock_bodies;
SELECT array_agg(id ORDER BY first_id, n) = :'ids150'::text[] AS chunks_cover_all_ids
  FROM (SELECT DISTINCT b->'campaignIds'->>0 AS first_id, id, n
          FROM mock_bodies, jsonb_array_elements_text(b->'campaignIds') WITH ORDINALITY AS e(id, n)) s;
-- EXPLAIN ANALYZE counts them
SELECT line FROM masked_explain($$
  SELECT count(*) FROM lemlist.campaign_stats
   WHERE campaign_id = ANY ($$ || quote_literal(:'ids150') || $$::text[])
     AND send_user IN ('usr_alice|alice@example.com', 'usr_carol|carol@example.com')
     AND ab_selected IN ('A', 'B') AND channel IN ('linkedin', 'email')
$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF') AS line
 WHERE line ~ 'lemlist (Batches|Requests Sent|Retries|Rate Limited)';

--
-- The cap: at most 32 combinations.  32 is fine (plain EXPLAIN sends
-- nothing); 33 is an ERROR at plan time, before any request
--
SELECT array_agg(format('usr_u%s|u%s@example.com', i, i)) AS senders16,
       array_agg(format('usr_u%s|u%s@example.com', i, i)) FILTER (WHERE i <= 11) AS senders11
  FROM generate_series(1, 16) AS i \gset
SELECT line FROM masked_explain($$
  SELECT campaign_id FROM lemlist.campaign_stats
   WHERE campaign_id = 'cam_00001' AND ab_selected IN ('A', 'B')
     AND send_user = ANY ($$ || quote_literal(:'senders16') || $$::text[])
$$) AS line WHERE line ~ 'lemlist (Campaigns|Batches)';
SELECT * FROM mock('reset');
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel IN ('email', 'linkedin', 'others')
   AND send_user = ANY (:'senders11'::text[]);
\echo :LAST_ERROR_SQLSTATE
EXPLAIN (COSTS OFF)
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel IN ('email', 'linkedin', 'others')
   AND ab_selected IN ('A', 'B')
   AND send_user IN ('usr_alice|alice@example.com', 'usr_bob|bob@example.com',
                     'usr_carol|carol@example.com', 'usr_dave|dave@example.com',
                     'usr_erin|erin@example.com', 'usr_frank|frank@example.com');
\echo :LAST_ERROR_SQLSTATE
-- the same through a parameter: an ERROR at run time, still before any request
SET plan_cache_mode = force_generic_plan;
PREPARE by_senders(text[]) AS
  SELECT campaign_id FROM lemlist.campaign_stats
   WHERE campaign_id = 'cam_00001' AND channel IN ('email', 'linkedin', 'others')
     AND send_user = ANY ($1);
EXECUTE by_senders(:'senders11');
\echo :LAST_ERROR_SQLSTATE
DEALLOCATE by_senders;
RESET plan_cache_mode;
SELECT count(*) AS requests FROM mock_requests;

--
-- A send_user of the right form whose email is not the id's: no local
-- error, lemlist's 400 text verbatim as DETAIL; no rows
--
SELECT * FROM mock('reset');
SELECT campaign_id, send_user, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND send_user = 'usr_alice|bob@example.com';
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM masked_requests();
-- one bad sender among good ones fails the whole query: no partial answer
SELECT * FROM mock('reset');
SELECT campaign_id, send_user, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND send_user IN ('usr_alice|alice@example.com', 'usr_carol|alice@example.com');
SELECT mask_now(line) AS rejected FROM mock_requests WHERE line ~ ' 400 ';

-- clean up
RESET timezone;
RESET datestyle;
SELECT * FROM mock('reset');
