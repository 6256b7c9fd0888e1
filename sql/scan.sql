--
-- scan: reading the three foreign tables: values against the mock, the
-- campaign list and its pages, the batches of a scan without campaign_id,
-- errors[], JSON nulls, joins, a materialized view, a prepared statement
-- and a cursor.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';

-- the requests of the mock, split: arrival order, method, path, status, body
-- (as text, exactly as received, and as jsonb)
CREATE TEMP VIEW reqs AS
SELECT n, split_part(line, ' ', 1) AS method, split_part(line, ' ', 2) AS path,
       split_part(line, ' ', 3) AS status,
       nullif(substring(line FROM '^\S+ \S+ \S+ (?:fault=\S+ )?(.*)$'), '') AS body,
       nullif(substring(line FROM '^\S+ \S+ \S+ (?:fault=\S+ )?(.*)$'), '')::jsonb AS jbody
  FROM mock('requests') WITH ORDINALITY AS r(line, n);

--
-- campaign_stats
--

-- three campaigns over their whole activity: the mock's numbers, one request
SELECT * FROM mock('reset');
SELECT * FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY campaign_id;
SELECT * FROM mock_requests;

-- a narrower date range: the numbers scale with the overlap (cam_00003 had
-- no activity then: zeros, not missing)
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date, nb_leads, nb_leads_launched,
       nb_leads_reached, messages_sent, delivered, opened, replied,
       invitation_accepted
  FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00003', 'cam_00002', 'cam_00001')
   AND start_date >= '2025-01-01' AND end_date <= '2025-03-31 23:59:59.999'
 ORDER BY campaign_id;
SELECT * FROM mock_requests;

-- without dates: startDate 1970-01-01 and endDate the statement's start
SELECT clock_timestamp() AS t0 \gset
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, nb_leads, end_date >= date_trunc('milliseconds', :'t0'::timestamptz) AS end_is_now
  FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00002';
SELECT method, path, status, jbody->'campaignIds' AS ids,
       jbody->>'startDate' AS start_date,
       jbody->>'endDate' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$' AS end_format_ok,
       (jbody->>'endDate')::timestamptz BETWEEN date_trunc('milliseconds', :'t0'::timestamptz)
                                            AND clock_timestamp() AS end_is_statement_start,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(jbody) k) AS fields
  FROM reqs ORDER BY n;

-- EXPLAIN shows what is pushed down
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';

--
-- campaign_step_stats: one row per element of steps[]
--
SELECT * FROM mock('reset');
SELECT campaign_id, count(*) AS steps, array_agg(task_type ORDER BY step_index) AS task_types
  FROM lemlist.campaign_step_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003', 'cam_00013', 'cam_00014')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 GROUP BY campaign_id ORDER BY campaign_id;
SELECT * FROM mock_requests;

-- every column of the steps of two campaigns (an A/B test, a conditional step)
SELECT * FROM mock('reset');
SELECT * FROM lemlist.campaign_step_stats
 WHERE campaign_id IN ('cam_00002', 'cam_00014')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY campaign_id, step_index;
SELECT * FROM mock_requests;

-- a whole-row reference converts every column; a count converts none and
-- still counts one row per step
SELECT * FROM mock('reset');
SELECT s FROM lemlist.campaign_step_stats s
 WHERE campaign_id = 'cam_00003'
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY step_index;
SELECT count(*) FROM lemlist.campaign_step_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';
SELECT * FROM mock_requests;

-- a WHERE clause on a step column is applied locally, not sent
SELECT * FROM mock('reset');
SELECT campaign_id, step_index, task_type, sent, delivered
  FROM lemlist.campaign_step_stats
 WHERE campaign_id = 'cam_00014' AND task_type <> 'email' AND sent > 0
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY step_index;
SELECT * FROM mock_requests;

--
-- campaigns: the team's campaigns, listed page by page
--

-- all 250 campaigns in three pages of 100 (offsets 0, 100, 200)
SELECT * FROM mock('reset');
CREATE TEMP TABLE campaigns_array AS SELECT * FROM lemlist.campaigns;
SELECT * FROM mock_requests;
SELECT count(*) AS campaigns, count(DISTINCT campaign_id) AS ids,
       min(campaign_id), max(campaign_id)
  FROM campaigns_array;

-- the columns: labels text[], created_at timestamptz, has_error boolean
SELECT * FROM campaigns_array
 WHERE campaign_id IN ('cam_00001', 'cam_00004', 'cam_00013', 'cam_00018')
 ORDER BY campaign_id;
SELECT DISTINCT pg_typeof(labels) AS labels, pg_typeof(created_at) AS created_at,
       pg_typeof(has_error) AS has_error
  FROM campaigns_array;
SELECT count(*) FILTER (WHERE 'hot' = ANY (labels)) AS hot,
       count(*) FILTER (WHERE cardinality(labels) = 0) AS no_labels,
       count(*) FILTER (WHERE has_error) AS has_error,
       count(*) FILTER (WHERE status = 'errors') AS status_errors,
       min(created_at), max(created_at)
  FROM campaigns_array;
SELECT status, count(*) FROM campaigns_array GROUP BY status ORDER BY status;

-- the {"campaigns": [...], "pagination": {...}} shape: the same rows, the
-- same three requests
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns_shape=paginated');
CREATE TEMP TABLE campaigns_paginated AS SELECT * FROM lemlist.campaigns;
SELECT * FROM mock_requests;
SELECT (SELECT count(*) FROM campaigns_paginated) AS paginated_rows,
       (SELECT count(*) FROM (TABLE campaigns_array EXCEPT ALL TABLE campaigns_paginated) d) AS only_array,
       (SELECT count(*) FROM (TABLE campaigns_paginated EXCEPT ALL TABLE campaigns_array) d) AS only_paginated;

-- paging ends with exactly 200 campaigns: on the empty page (array shape),
-- on nextPage = currentPage (paginated shape)
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=200');
SELECT count(*), max(campaign_id) FROM lemlist.campaigns;
SELECT * FROM mock_requests;
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=200 campaigns_shape=paginated');
SELECT count(*), max(campaign_id) FROM lemlist.campaigns;
SELECT * FROM mock_requests;
-- only a short (or empty) page proves the end, or a full one that
-- totalRecords confirms: a full first page whose pagination claims it is the
-- last (nextPage null, totalPage 1) while totalRecords says 250 is not
-- believed, and the team comes back whole, for the campaigns table and for
-- a stats table that lists the team first
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns_shape=paginated');
SELECT * FROM mock('fault mutate route=campaigns op=pagination_claims_end');
SELECT count(*), max(campaign_id) FROM lemlist.campaigns;
SELECT * FROM mock_requests;
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns_shape=paginated');
SELECT * FROM mock('fault mutate route=campaigns op=pagination_claims_end times=-1');
SELECT count(DISTINCT campaign_id) FROM lemlist.campaign_stats
 WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT count(*) FILTER (WHERE line ~ '^GET') AS list_pages,
       count(*) FILTER (WHERE line ~ '^POST') AS batches
  FROM mock_requests;
-- a listing that ends with more campaigns than totalRecords announced, or
-- fewer, is an ERROR, never a short (or long) answer
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns_shape=paginated');
SELECT * FROM mock('fault mutate route=campaigns op=total_records_more times=-1');
SELECT count(*) FROM lemlist.campaigns;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns_shape=paginated');
SELECT * FROM mock('fault mutate route=campaigns op=total_records_fewer times=-1');
SELECT count(DISTINCT campaign_id) FROM lemlist.campaign_stats
 WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns_shape=paginated');

-- and a team without campaigns: one request, no rows, in both shapes
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=0');
SELECT count(*) FROM lemlist.campaigns;
SELECT * FROM mock('config campaigns_shape=paginated');
SELECT count(*) FROM lemlist.campaign_stats;
SELECT * FROM mock_requests;

-- status and created_by are sent as query parameters
SELECT * FROM mock('reset');
SELECT count(*) FROM lemlist.campaigns WHERE status = 'running';
SELECT count(*) FROM lemlist.campaigns WHERE created_by = 'usr_bob';
SELECT count(*), min(campaign_id) FROM lemlist.campaigns
 WHERE status = 'running' AND created_by = 'usr_bob';
SELECT * FROM mock_requests;
-- several values of one are filtered locally; values are percent-encoded
SELECT * FROM mock('reset');
SELECT count(*) FROM lemlist.campaigns WHERE status IN ('running', 'paused');
SELECT count(*) FROM lemlist.campaigns WHERE created_by = 'usr_x|a b&c=d';
SELECT * FROM mock_requests;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM lemlist.campaigns WHERE status = 'running' AND created_by = 'usr_bob';

--
-- campaign_stats without campaign_id: the campaigns are listed first, then
-- sent in batches of at most 100 IDs, every ID exactly once; cam_00013 comes
-- back in errors[] (a NOTICE)
--
SELECT * FROM mock('reset');
SELECT count(*) AS rows, count(DISTINCT campaign_id) AS campaigns,
       sum(nb_leads) AS nb_leads, sum(messages_sent) AS messages_sent
  FROM lemlist.campaign_stats
 WHERE start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';
SELECT method, path, status,
       jsonb_array_length(jbody->'campaignIds') AS ids,
       jbody->'campaignIds'->>0 AS first_id, jbody->'campaignIds'->>-1 AS last_id,
       jbody - 'campaignIds' AS filters
  FROM reqs ORDER BY method, path, first_id;
-- each batch is exactly the sorted IDs of its range, with the same filters
SELECT r.body = '{"campaignIds":[' ||
         (SELECT string_agg(format('"cam_%s"', lpad(i::text, 5, '0')), ',' ORDER BY i)
            FROM generate_series(b.lo, b.hi) i) ||
         '],"startDate":"2024-01-01T00:00:00.000Z","endDate":"2025-06-30T23:59:59.999Z"}'
         AS exact_body, b.lo, b.hi
  FROM reqs r
  JOIN (VALUES (1, 100), (101, 200), (201, 250)) b(lo, hi)
    ON r.jbody->'campaignIds'->>0 = format('cam_%s', lpad(b.lo::text, 5, '0'))
 WHERE r.method = 'POST' ORDER BY b.lo;
SELECT count(*) AS ids_sent, count(DISTINCT id) AS distinct_ids
  FROM reqs, jsonb_array_elements_text(jbody->'campaignIds') id
 WHERE method = 'POST';
SELECT max(n) FILTER (WHERE method = 'GET') < min(n) FILTER (WHERE method = 'POST')
       AS listed_before_batches
  FROM reqs;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';

-- the same for campaign_step_stats: one row per step of 249 campaigns
SELECT * FROM mock('reset');
SELECT count(*) AS rows, count(DISTINCT campaign_id) AS campaigns
  FROM lemlist.campaign_step_stats
 WHERE start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';
SELECT method, count(*) FROM reqs GROUP BY method ORDER BY method;

--
-- errors[]: a NOTICE per campaign with lemlist's text; the other rows come
--
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_99999', 'cam_00013', 'nope')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY campaign_id;
SELECT * FROM mock_requests;
-- only unknown campaigns: notices and no rows
SELECT campaign_id, step_index FROM lemlist.campaign_step_stats
 WHERE campaign_id = 'cam_00013'
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';

--
-- JSON null and missing fields are SQL NULL (hand-written valid answers)
--
SELECT * FROM mock('reset');
SELECT * FROM mock($$fault body route=stats 'body={"results":[{"campaignId":"cam_00001","nbLeads":null,"nbLeadsLaunched":7,"steps":[{"index":1,"sequenceId":null,"taskType":"email","sent":3},{"index":2,"abTest":null}]},{"campaignId":"cam_00002","steps":null}],"errors":[]}'$$);
SELECT campaign_id, nb_leads, nb_leads_launched, nb_leads_reached, messages_sent,
       meeting_booked
  FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY campaign_id;
SELECT * FROM mock($$fault body route=stats 'body={"results":[{"campaignId":"cam_00001","nbLeads":null,"nbLeadsLaunched":7,"steps":[{"index":1,"sequenceId":null,"taskType":"email","sent":3},{"index":2,"abTest":null}]},{"campaignId":"cam_00002","steps":null}],"errors":[]}'$$);
SELECT campaign_id, step_index, sequence_id, sequence_step, ab_test, task_type,
       condition_label, sent, delivered, step_index IS NULL AS index_null
  FROM lemlist.campaign_step_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY campaign_id, step_index;
SELECT * FROM mock($$fault body route=campaigns 'body=[{"_id":"cam_00001","name":null,"labels":[null,"x"],"createdAt":null,"hasError":null,"status":"running"},{"_id":"cam_00002"},{"_id":"cam_00003","labels":[]}]'$$);
SELECT campaign_id, name, status, labels, labels IS NULL AS labels_null,
       labels[1] IS NULL AS first_label_null,
       created_at, created_by, sequence_id, team_id, has_error
  FROM lemlist.campaigns ORDER BY campaign_id;
SELECT method, path, status FROM reqs ORDER BY n;

--
-- joins with a local table
--
CREATE TABLE crm (account text, campaign_id text);
INSERT INTO crm VALUES ('Acme', 'cam_00002'), ('Globex', 'cam_00007'),
  ('Initech', 'cam_00002'), ('Umbrella', NULL), ('Hooli', 'cam_00001');
ANALYZE crm;

-- = ANY(ARRAY(SELECT ...)): one request, IDs de-duplicated, NULL dropped
SELECT * FROM mock('reset');
SELECT s.campaign_id, s.nb_leads, s.replied
  FROM lemlist.campaign_stats s
 WHERE s.campaign_id = ANY (ARRAY(SELECT campaign_id FROM crm))
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'
 ORDER BY s.campaign_id;
SELECT * FROM mock_requests;
SELECT * FROM masked_explain($$
SELECT s.campaign_id, s.nb_leads FROM lemlist.campaign_stats s
 WHERE s.campaign_id = ANY (ARRAY(SELECT campaign_id FROM crm))
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999'$$);

-- a LATERAL sub-select: the outer row's campaign_id is a parameter; one
-- request per distinct ID (Memoize), none for the NULL one
SELECT * FROM mock('reset');
SELECT c.account, s.campaign_id, s.nb_leads, s.replied
  FROM crm c,
       LATERAL (SELECT * FROM lemlist.campaign_stats s
                 WHERE s.campaign_id = c.campaign_id
                   AND s.start_date >= '2024-01-01'
                   AND s.end_date <= '2025-06-30 23:59:59.999' OFFSET 0) s
 ORDER BY c.account;
SELECT * FROM mock_requests;

-- a plain join: the right rows; the join clause is pushed down (through a
-- parameterized path), so only the CRM's campaigns are requested: no list of
-- the team's campaigns, nothing about campaigns nobody asked for
SELECT * FROM mock('reset');
SELECT c.account, s.campaign_id, s.nb_leads, s.replied
  FROM crm c JOIN lemlist.campaign_stats s ON s.campaign_id = c.campaign_id
 WHERE s.start_date >= '2024-01-01' AND s.end_date <= '2025-06-30 23:59:59.999'
 ORDER BY c.account;
SELECT count(*) FILTER (WHERE method = 'GET') AS list_requests,
       count(DISTINCT id) AS ids_requested,
       count(DISTINCT id) FILTER (WHERE id NOT IN (SELECT campaign_id FROM crm
                                                   WHERE campaign_id IS NOT NULL))
         AS ids_not_in_crm
  FROM reqs LEFT JOIN LATERAL jsonb_array_elements_text(jbody->'campaignIds') id ON true;

--
-- a materialized view over campaign_stats, and its refresh
--
SELECT * FROM mock('reset');
CREATE MATERIALIZED VIEW stats_mv AS
SELECT campaign_id, nb_leads, messages_sent, replied
  FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';
SELECT * FROM stats_mv ORDER BY campaign_id;
SELECT * FROM mock_requests;
-- REFRESH asks again and stores what lemlist answers now
SELECT * FROM mock('reset');
SELECT * FROM mock($$fault body route=stats 'body={"results":[{"campaignId":"cam_00002","nbLeads":200,"messagesSent":300,"replied":40},{"campaignId":"cam_00001","nbLeads":70,"messagesSent":120,"replied":9}],"errors":[]}'$$);
REFRESH MATERIALIZED VIEW stats_mv;
SELECT * FROM stats_mv ORDER BY campaign_id;
SELECT * FROM mock_requests;
-- CONCURRENTLY too, back to the mock's numbers
CREATE UNIQUE INDEX ON stats_mv (campaign_id);
SELECT * FROM mock('reset');
REFRESH MATERIALIZED VIEW CONCURRENTLY stats_mv;
SELECT * FROM stats_mv ORDER BY campaign_id;
SELECT * FROM mock_requests;
DROP MATERIALIZED VIEW stats_mv;

--
-- a prepared statement, run twice with other parameters, then generic
--
PREPARE stats_of(text[], timestamptz) AS
SELECT campaign_id, end_date, nb_leads, messages_sent
  FROM lemlist.campaign_stats
 WHERE campaign_id = ANY ($1) AND start_date >= '2024-01-01' AND end_date <= $2
 ORDER BY campaign_id;
SELECT * FROM mock('reset');
EXECUTE stats_of('{cam_00001,cam_00002}', '2025-06-30 23:59:59.999');
SELECT * FROM mock_requests;
SELECT * FROM mock('reset');
EXECUTE stats_of('{cam_00002}', '2025-03-31 23:59:59.999');
SELECT * FROM mock_requests;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE stats_of('{cam_00003}', '2025-06-30 23:59:59.999');
SELECT * FROM mock('reset');
EXECUTE stats_of('{cam_00003}', '2025-06-30 23:59:59.999');
EXECUTE stats_of('{cam_00001,cam_00003}', '2025-03-31 23:59:59.999');
SELECT * FROM mock_requests;
RESET plan_cache_mode;
DEALLOCATE stats_of;

--
-- cursors: fetch part of the rows, then close (requests may be in flight)
--
SELECT * FROM mock('reset');
BEGIN;
DECLARE c1 CURSOR FOR
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003', 'cam_00004')
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';
FETCH 2 FROM c1;
FETCH 1 FROM c1;
CLOSE c1;
-- a cursor over all campaigns: the next list pages or batches are in flight
DECLARE c2 CURSOR FOR SELECT campaign_id FROM lemlist.campaigns;
FETCH 3 FROM c2;
CLOSE c2;
SET LOCAL client_min_messages = warning;	-- cam_00013's notice depends on timing
DECLARE c3 CURSOR FOR
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';
MOVE 10 IN c3;
CLOSE c3;
COMMIT;
-- the session goes on
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00004'
   AND start_date >= '2024-01-01' AND end_date <= '2025-06-30 23:59:59.999';
-- a cursor abandoned by a ROLLBACK
BEGIN;
DECLARE c4 CURSOR FOR SELECT campaign_id FROM lemlist.campaigns;
FETCH 1 FROM c4;
ROLLBACK;
SELECT count(*) FROM lemlist.campaigns WHERE status = 'draft';

DROP TABLE crm, campaigns_array, campaigns_paginated;
DROP VIEW reqs;
RESET timezone;
