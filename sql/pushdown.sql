--
-- pushdown: which WHERE clauses become request fields, and what lemlist
-- receives.  Every case shows the plan and/or the exact request bodies.
-- Pushed clauses stay local quals too, so the rows are right either way;
-- what is asserted here is what is sent.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
SET datestyle = ISO;

-- masked_requests(), masked_explain() and mock_bodies come from setup.
-- masked_requests() sorts the log: when several queries share one log, each
-- asks for another campaign so that the sorted log follows the queries' order.

--
-- campaign_id = x: campaignIds with that one ID
--
SELECT * FROM masked_explain($$
  SELECT campaign_id, nb_leads FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001'
$$);
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001';
SELECT * FROM masked_requests();

-- IN with duplicates and NULLs: de-duplicated (first occurrence kept), NULLs
-- dropped; cam_00013 comes back in errors[] (a NOTICE, no row)
SELECT * FROM masked_explain($$
  SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
   WHERE campaign_id IN ('cam_00003', 'cam_00002', NULL, 'cam_00003', 'cam_00013')
$$);
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00003', 'cam_00002', NULL, 'cam_00003', 'cam_00013')
 ORDER BY campaign_id;
-- = ANY(ARRAY[...]) is the same thing
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (ARRAY['cam_00005', 'cam_00004', 'cam_00005'])
 ORDER BY campaign_id;
-- two conditions on campaign_id: their intersection
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00006', 'cam_00007', 'cam_00008')
   AND campaign_id = ANY ('{cam_00008,cam_00007,cam_00099}')
 ORDER BY campaign_id;
-- IDs are JSON strings, escaped as needed (unknown IDs come back in errors[])
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_"quoted"', 'cam_back\slash', 'cam_é');
SELECT * FROM masked_requests();

--
-- An empty set sends nothing and returns no rows
--
-- IN of only NULLs
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM lemlist.campaign_stats WHERE campaign_id IN (NULL, NULL);
-- = ANY of an empty array
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM lemlist.campaign_stats WHERE campaign_id = ANY ('{}');
-- disjoint sets
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002') AND campaign_id IN ('cam_00003', 'cam_00004');
-- = 'a' AND = 'b': the planner itself sees the contradiction (from 17 on it
-- also leaves the scan out of the plan)
SELECT bool_or(line = 'Result') AS result_node,
       bool_or(line ~ '^ +One-Time Filter: false$') AS planner_sees_contradiction
  FROM masked_explain($$SELECT campaign_id FROM lemlist.campaign_stats
                        WHERE campaign_id = 'a' AND campaign_id = 'b'$$, 'COSTS OFF') AS line;
SELECT * FROM mock('reset');
SELECT campaign_id FROM lemlist.campaign_stats WHERE campaign_id IN (NULL, NULL);
SELECT campaign_id FROM lemlist.campaign_stats WHERE campaign_id = ANY ('{}');
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002') AND campaign_id IN ('cam_00003', 'cam_00004');
SELECT campaign_id FROM lemlist.campaign_stats WHERE campaign_id = 'a' AND campaign_id = 'b';
SELECT count(*) AS requests FROM mock_requests;

--
-- Prepared statements, generic plans: every EXECUTE sends its own values
--
SET plan_cache_mode = force_generic_plan;
PREPARE by_id(text) AS
  SELECT campaign_id, nb_leads FROM lemlist.campaign_stats WHERE campaign_id = $1;
PREPARE by_ids(text[]) AS
  SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
   WHERE campaign_id = ANY ($1::text[]) ORDER BY campaign_id;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_id('cam_00001');
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_ids('{cam_00001}');
SELECT * FROM mock('reset');
EXECUTE by_id('cam_00001');
EXECUTE by_id('cam_00002');
EXECUTE by_id(NULL);
EXECUTE by_ids('{cam_00004,cam_00003,cam_00004,NULL}');
EXECUTE by_ids('{cam_00005}');
EXECUTE by_ids('{}');
EXECUTE by_ids(NULL);
SELECT * FROM masked_requests();
-- EXPLAIN ANALYZE VERBOSE shows the values of this execution
SELECT * FROM masked_explain($$ EXECUTE by_id('cam_00002') $$,
                             'ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF');

-- a date parameter (date + integer is a date); a cached plan converts date
-- and timestamp literals when it runs, in the time zone of that moment
PREPARE one_day(text, date) AS
  SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
   WHERE campaign_id = $1 AND start_date >= $2 AND end_date < $2 + 1;
PREPARE march_1st(text) AS
  SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
   WHERE campaign_id = $1
     AND start_date >= date '2025-03-01' AND end_date < timestamp '2025-03-02 00:00';
SELECT * FROM mock('reset');
EXECUTE one_day('cam_00001', '2025-03-01');
EXECUTE one_day('cam_00002', '2025-03-02');
SET timezone = 'Asia/Tokyo';
EXECUTE march_1st('cam_00003');
SET timezone = 'UTC';
EXECUTE march_1st('cam_00004');
SELECT * FROM masked_requests();
DEALLOCATE by_id;
DEALLOCATE by_ids;
DEALLOCATE one_day;
DEALLOCATE march_1st;
RESET plan_cache_mode;

--
-- = ANY(ARRAY(SELECT ...)): the sub-select's output, evaluated at run time
--
CREATE TABLE wanted (id text);
INSERT INTO wanted VALUES ('cam_00004'), ('cam_00003'), (NULL), ('cam_00004');
SELECT * FROM masked_explain($$
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (ARRAY(SELECT id FROM wanted))$$);
SELECT * FROM mock('reset');
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (ARRAY(SELECT id FROM wanted))
 ORDER BY campaign_id;
-- an empty sub-select sends nothing
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = ANY (ARRAY(SELECT id FROM wanted WHERE false));
SELECT * FROM masked_requests();

-- a lateral reference is a parameter too: each rescan sends its own value
-- (the NULL sends nothing, and a value the statement fetched already is
-- answered by the memo)
-- PostgreSQL's own cache of rescans (from 14 on; 13 has none)
DO $$ BEGIN PERFORM set_config(name, 'off', false) FROM pg_settings WHERE name = 'enable_memoize'; END $$;
SELECT * FROM mock('reset');
SELECT w.id, s.campaign_id, s.nb_leads
  FROM wanted w,
       LATERAL (SELECT * FROM lemlist.campaign_stats
                 WHERE campaign_id = w.id OFFSET 0) s
 ORDER BY 1, 2;
SELECT * FROM masked_requests();
DO $$ BEGIN PERFORM set_config(name, reset_val, false) FROM pg_settings WHERE name = 'enable_memoize'; END $$;

-- a join clause becomes campaignIds through a parameterized path: the team's
-- campaigns are not listed, only the joined ID is requested
CREATE TEMP TABLE one_id (id text);
INSERT INTO one_id VALUES ('cam_00003');
ANALYZE one_id;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=12');
SELECT o.id, s.nb_leads
  FROM one_id o JOIN lemlist.campaign_stats s ON s.campaign_id = o.id;
SELECT count(*) FILTER (WHERE b IS NULL) AS list_requests,
       count(DISTINCT id) AS ids_requested, min(id) AS min_id, max(id) AS max_id
  FROM mock_bodies LEFT JOIN LATERAL jsonb_array_elements_text(b->'campaignIds') AS id ON true;
RESET enable_hashjoin;
RESET enable_mergejoin;

--
-- 250 explicit IDs: 3 batches of at most 100, identical but for the IDs
--
SELECT array_agg(format('cam_%s', lpad(i::text, 5, '0')) ORDER BY i) AS ids250
  FROM generate_series(1, 250) AS i \gset
SELECT line FROM masked_explain($$
  SELECT count(*) FROM lemlist.campaign_stats WHERE campaign_id = ANY ($$ || quote_literal(:'ids250') || $$::text[])
$$) AS line WHERE line ~ 'lemlist (Request|Campaigns|Batches)';
SELECT * FROM mock('reset');
SELECT count(*) AS rows, count(DISTINCT campaign_id) AS campaigns
  FROM lemlist.campaign_stats WHERE campaign_id = ANY (:'ids250'::text[]);
SELECT jsonb_array_length(b->'campaignIds') AS ids,
       b->'campaignIds'->>0 AS first_id, b->'campaignIds'->>-1 AS last_id,
       mask_now((b - 'campaignIds')::text) AS other_fields
  FROM mock_bodies ORDER BY first_id;
SELECT count(DISTINCT b - 'campaignIds') AS distinct_other_fields FROM mock_bodies;
-- all 250, each once, in the order given
SELECT array_agg(id ORDER BY first_id, n) = :'ids250'::text[] AS all_ids_once
  FROM (SELECT b->'campaignIds'->>0 AS first_id, id, n
          FROM mock_bodies, jsonb_array_elements_text(b->'campaignIds') WITH ORDINALITY AS e(id, n)) s;
-- EXPLAIN ANALYZE counts the requests
SELECT line FROM masked_explain($$
  SELECT count(*) FROM lemlist.campaign_stats WHERE campaign_id = ANY ($$ || quote_literal(:'ids250') || $$::text[])
$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF') AS line
 WHERE line ~ 'lemlist (Batches|Requests Sent|Retries|Rate Limited)';

--
-- Dates: startDate and endDate in UTC, YYYY-MM-DDTHH:MM:SS.sssZ
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01 00:00:00+02' AND end_date <= '2025-03-31 12:00:00-05';
SELECT * FROM mock('reset');
-- timestamptz literals: = on both
SELECT campaign_id, start_date, end_date, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date = '2025-01-01 00:00:00+00' AND end_date = '2025-03-31 23:59:59.999+00';
-- >= and <= with UTC offsets (converted to UTC)
SELECT campaign_id, start_date, end_date, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00002'
   AND start_date >= '2025-01-01 00:00:00+02' AND end_date <= '2025-03-31 12:00:00-05';
-- > is the next millisecond, < the previous one
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00003'
   AND start_date > '2025-01-01 00:00:00+00' AND end_date < '2025-04-01 00:00:00+00';
-- the comparand on the left works the same
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00004'
   AND '2025-01-01 00:00:00+00' < start_date AND '2025-04-01 00:00:00+00' >= end_date;
-- several bounds: the tightest wins
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00005'
   AND start_date >= '2025-01-01 00:00:00+00' AND start_date > '2025-02-01 00:00:00+00'
   AND end_date <= '2025-05-01 00:00:00+00' AND end_date < '2025-04-01 00:00:00+00';
SELECT * FROM masked_requests();

-- date and timestamp (without time zone) literals: in the session time zone
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date >= date '2025-01-01' AND end_date < date '2025-04-01';
SET timezone = 'Europe/Paris';
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00002'
   AND start_date >= date '2025-01-01' AND end_date < date '2025-04-01';
SET timezone = 'America/New_York';
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00003'
   AND start_date = timestamp '2025-01-01 08:00' AND end_date <= timestamp '2025-03-31 20:00';
SET timezone = 'UTC';
SELECT * FROM masked_requests();

-- sub-millisecond bounds are rounded inwards, so that the value sent (and
-- echoed) still passes every clause
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01 00:00:00.0004+00' AND end_date <= '2025-03-31 23:59:59.9996+00';
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00002'
   AND start_date > '2025-01-01 00:00:00.0004+00' AND end_date < '2025-03-31 23:59:59.9996+00';
-- no whole millisecond satisfies these: nothing is sent
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00003' AND start_date = '2025-01-01 00:00:00.0005+00';
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00003'
   AND start_date = '2025-01-01 00:00:00+00' AND start_date > '2025-01-01 00:00:00+00';
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00003' AND end_date = 'infinity';
SELECT * FROM masked_requests();

-- bounds from the other side (start_date <= t, end_date >= t) select no
-- one date to send: an ERROR naming the condition, before any request
SELECT * FROM masked_explain($$
  SELECT campaign_id FROM lemlist.campaign_stats
   WHERE campaign_id = 'cam_00001'
     AND start_date <= '2025-01-01 00:00:00+00' AND end_date >= '2025-01-01 00:00:00+00'
$$);
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date <= '2025-01-01 00:00:00+00' AND end_date >= '2025-01-01 00:00:00+00';
SELECT * FROM masked_requests();

-- current_date style expressions are computed at run time
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE start_date >= current_date - 7 AND end_date < current_date - 1;
BEGIN;	-- current_date and now() stay put in a transaction
SELECT * FROM mock('reset');
SELECT campaign_id, start_date = current_date - 7 AS start_ok,
       end_date = current_date - 1 - interval '1 millisecond' AS end_ok
  FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date >= current_date - 7 AND end_date < current_date - 1;
-- now() - interval: microseconds, rounded up to the next millisecond
SELECT campaign_id,
       start_date = date_trunc('milliseconds', now() - interval '30 days' + interval '999 microseconds') AS start_ok
  FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00002' AND start_date >= now() - interval '30 days';
SELECT b->'campaignIds' AS campaign_ids,
       b->>'startDate' = CASE b->>'campaignIds'
         WHEN '["cam_00001"]' THEN to_char(current_date - 7, 'YYYY-MM-DD"T"00:00:00.000"Z"')
         ELSE to_char(date_trunc('milliseconds', now() - interval '30 days' + interval '999 microseconds'),
                      'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END AS start_sent,
       CASE b->>'campaignIds'
         WHEN '["cam_00001"]' THEN b->>'endDate' = to_char(current_date - 2, 'YYYY-MM-DD"T"23:59:59.999"Z"')
         ELSE mask_now('endDate=' || (b->>'endDate')) = 'endDate=<statement start>' END AS end_sent
  FROM mock_bodies ORDER BY 1;
COMMIT;

-- no date condition: startDate 1970-01-01T00:00:00.000Z and endDate the
-- statement's start (echoed in end_date)
SELECT * FROM mock('reset');
SELECT campaign_id, start_date,
       end_date = date_trunc('milliseconds', statement_timestamp() + interval '999 microseconds') AS end_is_statement_start
  FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001';
SELECT line ~ '^POST /api/v2/campaigns/stats/batch 200 \{"campaignIds":\["cam_00001"\],"startDate":"1970-01-01T00:00:00\.000Z","endDate":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}$' AS body_ok
  FROM mock_requests;

--
-- Clauses on campaign_id: an OR of equalities is the IN list it means; the
-- others, which no request carries, narrow the listed IDs: each of those
-- queries lists the team's campaigns (a team of 12 here) and asks only for
-- the campaigns the clause holds for
--
SELECT * FROM masked_explain($$
  SELECT campaign_id FROM lemlist.campaign_stats
   WHERE campaign_id = 'cam_00001' OR campaign_id = 'cam_00002'
$$);
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=12');
-- OR
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' OR campaign_id = 'cam_00002'
 ORDER BY campaign_id;
-- a function of the column
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE lower(campaign_id) = 'cam_00003';
-- LIKE
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id LIKE '%2'
 ORDER BY campaign_id;
-- NOT IN (<> ALL) leaves an open-ended set
SELECT count(*) FROM lemlist.campaign_stats
 WHERE campaign_id NOT IN ('cam_00001', 'cam_00002');
SELECT * FROM masked_requests();
-- EXPLAIN ANALYZE: one batch, no listing
SELECT line FROM masked_explain($$
  SELECT campaign_id FROM lemlist.campaign_stats
   WHERE campaign_id = 'cam_00001' OR campaign_id = 'cam_00002'
$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF') AS line WHERE line ~ 'lemlist';

--
-- Literals that can never be valid: SQLSTATE 22023 naming the valid values,
-- before any request
--
SELECT * FROM mock('reset');
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel = 'Email';
\echo :LAST_ERROR_SQLSTATE
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND ab_selected = 'C';
\echo :LAST_ERROR_SQLSTATE
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND send_user = 'bob';
\echo :LAST_ERROR_SQLSTATE
-- without campaign_id (nothing listed either)
SELECT campaign_id FROM lemlist.campaign_stats WHERE ab_selected = 'a';
\echo :LAST_ERROR_SQLSTATE
-- even in an IN list, and even when another clause makes the scan empty
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = ANY ('{}') AND channel IN ('email', 'sms');
\echo :LAST_ERROR_SQLSTATE
-- and as parameters, at run time
SET plan_cache_mode = force_generic_plan;
PREPARE by_channel(text) AS
  SELECT campaign_id FROM lemlist.campaign_stats
   WHERE campaign_id = 'cam_00001' AND channel = $1;
EXECUTE by_channel('LinkedIn');
\echo :LAST_ERROR_SQLSTATE
DEALLOCATE by_channel;
RESET plan_cache_mode;
SELECT count(*) AS requests FROM mock_requests;

--
-- lemlist.campaigns: status and created_by become query parameters; the
-- route takes one value, so an IN list is filtered locally, while an
-- intersection of one value is sent; values are percent-encoded
--
SELECT * FROM masked_explain($$
  SELECT campaign_id FROM lemlist.campaigns WHERE status = 'paused' AND created_by = 'usr_bob'
$$);
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=30');
SELECT campaign_id, status, created_by FROM lemlist.campaigns
 WHERE status = 'paused' AND created_by = 'usr_bob'
 ORDER BY campaign_id;
SELECT campaign_id, status, created_by FROM lemlist.campaigns
 WHERE status IN ('ended', 'errors') AND created_by = 'usr_carol'
 ORDER BY campaign_id;
SELECT campaign_id, status, created_by FROM lemlist.campaigns
 WHERE status IN ('ended', 'errors') AND status IN ('errors', 'draft')
 ORDER BY campaign_id;
SELECT campaign_id FROM lemlist.campaigns WHERE created_by = 'usr_bob&status=paused';
SELECT * FROM masked_requests();

--
-- A nondeterministic collation: equality may hold for other strings, so
-- nothing is pushed (and nothing is validated).  Needs ICU; without it
-- expected/pushdown_1.out applies.
--
SELECT count(*) > 0 AS have_icu FROM pg_collation WHERE collprovider = 'i' \gset
\if :have_icu
CREATE COLLATION regress_pushdown_ci
  (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FOREIGN TABLE regress_pushdown_ci_stats (
  campaign_id text COLLATE regress_pushdown_ci,
  nb_leads integer
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT * FROM masked_explain($$
  SELECT campaign_id FROM lemlist.campaign_stats
   WHERE campaign_id = 'CAM_00002' COLLATE regress_pushdown_ci
$$);
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=3');
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'CAM_00002' COLLATE regress_pushdown_ci;
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id COLLATE regress_pushdown_ci IN ('CAM_00001', 'cam_00003')
 ORDER BY campaign_id;
-- a column declared with that collation: same
SELECT campaign_id, nb_leads FROM regress_pushdown_ci_stats WHERE campaign_id = 'CAM_00003';
-- 'EMAIL' under a case-insensitive collation is decided for each channel:
-- it holds for email, whose rows come back
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel = 'EMAIL' COLLATE regress_pushdown_ci;
SELECT * FROM masked_requests();
DROP FOREIGN TABLE regress_pushdown_ci_stats;
DROP COLLATION regress_pushdown_ci;
\else
\echo 'ICU is not available: nondeterministic collations not tested'
\endif

-- clean up
DROP TABLE wanted, one_id;
RESET timezone;
RESET datestyle;
SELECT * FROM mock('reset');
