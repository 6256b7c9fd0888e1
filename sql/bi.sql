--
-- bi: what BI tools and SQL clients send.  A newest-first list of campaigns
-- is one request: ORDER BY created_at is sent as sortBy=createdAt and
-- sortOrder, and a LIMIT that reaches the scan as the page size.  A scan
-- under a LIMIT asks for no more pages or batches than the rows it wants,
-- and asks for more only when the executor pulls more: a table's preview
-- (SELECT * ... LIMIT n) costs a page and a batch.  Never a LIMIT sent that
-- changes the answer: each case where a local condition, WITH TIES or a
-- join above would change it is checked against the same query without
-- pushdown (a Sort over the whole team).
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
SET datestyle = ISO;
SELECT * FROM mock('config campaigns=2000');
-- method, path (query string included) and status of each logged request
CREATE TEMP VIEW sent AS
  SELECT split_part(line, ' ', 1) AS method, split_part(line, ' ', 2) AS path,
         split_part(line, ' ', 3) AS status
    FROM mock_requests;
-- the rows of a query on lemlist.campaigns AS c, then of the same query
-- with the order and the LIMIT kept away from the scan (an OFFSET 0
-- fence): how many of each, and whether they are the same, in order
-- what a query costs on a team of that many campaigns: the rows it
-- returns, and the requests it sent per method and route (notices of
-- campaigns without statistics hidden)
CREATE FUNCTION pg_temp.cost_of(q text, campaigns int DEFAULT 2000, OUT rows bigint,
                                OUT method text, OUT route text, OUT requests bigint)
RETURNS SETOF record
LANGUAGE plpgsql SET client_min_messages = warning AS $$
BEGIN
  PERFORM mock('reset');
  PERFORM mock(format('config campaigns=%s', campaigns));
  EXECUTE format('SELECT count(*) FROM (%s) AS q', q) INTO rows;
  RETURN QUERY SELECT rows, s.method, split_part(s.path, '?', 1), count(*)
                 FROM sent AS s GROUP BY 2, 3 ORDER BY 2;
END
$$;
CREATE FUNCTION pg_temp.same_answer(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  pushed text[];
  plain text[];
BEGIN
  IF position('lemlist.campaigns AS c' IN q) = 0 THEN
    RAISE EXCEPTION 'same_answer needs lemlist.campaigns AS c';
  END IF;
  EXECUTE format('SELECT array_agg(r::text) FROM (%s) AS r', q) INTO pushed;
  EXECUTE format('SELECT array_agg(r::text) FROM (%s) AS r',
                 replace(q, 'lemlist.campaigns AS c', '(SELECT * FROM lemlist.campaigns OFFSET 0) AS c'))
    INTO plain;
  RETURN format('%s rows, %s rows unpushed, %s', cardinality(pushed), cardinality(plain),
                CASE WHEN pushed IS NOT DISTINCT FROM plain THEN 'same rows in the same order'
                     ELSE 'DIFFERENT' END);
END
$$;

-- the five newest campaigns: one request of five
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id, name, created_at FROM lemlist.campaigns ORDER BY created_at DESC LIMIT 5;
SELECT campaign_id, name, created_at FROM lemlist.campaigns ORDER BY created_at DESC LIMIT 5;
SELECT * FROM sent;
-- the oldest, with an OFFSET: the OFFSET is sent as offset=, and the Limit
-- above keeps the LIMIT alone
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=2000');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id, created_at FROM lemlist.campaigns ORDER BY created_at LIMIT 3 OFFSET 2;
SELECT campaign_id, created_at FROM lemlist.campaigns ORDER BY created_at LIMIT 3 OFFSET 2;
SELECT * FROM sent;
-- with the status sent too
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=2000');
SELECT campaign_id, status FROM lemlist.campaigns WHERE status = 'running'
 ORDER BY created_at DESC LIMIT 4;
SELECT * FROM sent;
-- a table's first rows, without ORDER BY: one page of that size
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=2000');
SELECT count(*) FROM (SELECT * FROM lemlist.campaigns LIMIT 10) AS preview;
SELECT * FROM sent;

-- a LIMIT that a condition kept local would change is not sent: ordered
-- pages of 100, and no page more than the rows wanted need
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=2000');
EXPLAIN (COSTS OFF)
SELECT campaign_id FROM lemlist.campaigns WHERE name LIKE '%Webinar%'
 ORDER BY created_at DESC LIMIT 30;
SELECT count(*) FROM (SELECT campaign_id FROM lemlist.campaigns WHERE name LIKE '%Webinar%'
                       ORDER BY created_at DESC LIMIT 30) AS newest;
SELECT * FROM sent;
SELECT pg_temp.same_answer($$
  SELECT campaign_id FROM lemlist.campaigns AS c WHERE name LIKE '%Webinar%'
   ORDER BY created_at DESC LIMIT 30$$) AS local_condition;
-- WITH TIES may want more rows than its count: no page size, no budget
EXPLAIN (COSTS OFF)
SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at DESC FETCH FIRST 3 ROWS WITH TIES;
SELECT pg_temp.same_answer($$
  SELECT campaign_id, created_at FROM lemlist.campaigns AS c
   ORDER BY created_at DESC FETCH FIRST 3 ROWS WITH TIES$$) AS with_ties;
-- a join above the LIMIT's table: the LIMIT is the join's
CREATE TEMP TABLE owners (created_by text, owner text);
INSERT INTO owners VALUES ('usr_alice', 'Alice'), ('usr_bob', 'Bob');
EXPLAIN (COSTS OFF)
SELECT c.campaign_id, o.owner FROM lemlist.campaigns c JOIN owners o USING (created_by)
 ORDER BY c.created_at DESC LIMIT 5;
SELECT pg_temp.same_answer($$
  SELECT c.campaign_id, o.owner FROM lemlist.campaigns AS c JOIN owners o USING (created_by)
   ORDER BY c.created_at DESC LIMIT 5$$) AS join_above;
-- several statuses are not sent (a listing takes one): a local condition,
-- the listing ordered, its pages of 100
EXPLAIN (COSTS OFF)
SELECT campaign_id FROM lemlist.campaigns WHERE status IN ('running', 'paused')
 ORDER BY created_at DESC LIMIT 5;
SELECT pg_temp.same_answer($$
  SELECT campaign_id FROM lemlist.campaigns AS c WHERE status IN ('running', 'paused')
   ORDER BY created_at DESC LIMIT 5$$) AS two_statuses;
-- the order and the LIMIT, ascending and descending, against a local Sort
SELECT pg_temp.same_answer($$
  SELECT campaign_id, created_at FROM lemlist.campaigns AS c ORDER BY created_at DESC LIMIT 150$$) AS desc_150;
SELECT pg_temp.same_answer($$
  SELECT campaign_id, created_at FROM lemlist.campaigns AS c ORDER BY created_at LIMIT 20 OFFSET 95$$) AS asc_offset;
SELECT pg_temp.same_answer($$
  SELECT campaign_id, created_at FROM lemlist.campaigns AS c ORDER BY created_at DESC$$) AS whole_team;

-- an OFFSET deep in the team is one request, with or without ORDER BY, a
-- LIMIT or the status; past the end, one empty page
SELECT pg_temp.same_answer($$
  SELECT campaign_id, created_at FROM lemlist.campaigns AS c ORDER BY created_at DESC
   LIMIT 5 OFFSET 1000$$) AS desc_offset_1000;
SELECT * FROM pg_temp.cost_of($$
  SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at DESC LIMIT 5 OFFSET 1000$$);
SELECT path FROM sent;
SELECT * FROM pg_temp.cost_of($$
  SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at OFFSET 1990$$);
SELECT path FROM sent;
SELECT * FROM pg_temp.cost_of($$
  SELECT campaign_id FROM lemlist.campaigns LIMIT 10 OFFSET 30$$);
SELECT path FROM sent;
SELECT * FROM pg_temp.cost_of($$
  SELECT campaign_id FROM lemlist.campaigns WHERE status = 'paused'
   ORDER BY created_at DESC LIMIT 2 OFFSET 40$$);
SELECT path FROM sent;
SELECT pg_temp.same_answer($$
  SELECT campaign_id, status FROM lemlist.campaigns AS c WHERE status = 'paused'
   ORDER BY created_at DESC LIMIT 2 OFFSET 40$$) AS status_offset;
SELECT * FROM pg_temp.cost_of($$
  SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at LIMIT 5 OFFSET 5000$$);
SELECT path FROM sent;
-- an OFFSET that a local condition, a join or WITH TIES would change stays
-- in the Limit
EXPLAIN (COSTS OFF)
SELECT campaign_id FROM lemlist.campaigns WHERE name LIKE '%Webinar%'
 ORDER BY created_at DESC LIMIT 3 OFFSET 10;
SELECT pg_temp.same_answer($$
  SELECT campaign_id FROM lemlist.campaigns AS c WHERE name LIKE '%Webinar%'
   ORDER BY created_at DESC LIMIT 3 OFFSET 10$$) AS local_condition_offset;
SELECT pg_temp.same_answer($$
  SELECT c.campaign_id, o.owner FROM lemlist.campaigns AS c JOIN owners o USING (created_by)
   ORDER BY c.created_at DESC LIMIT 5 OFFSET 10$$) AS join_above_offset;
SELECT pg_temp.same_answer($$
  SELECT campaign_id, created_at FROM lemlist.campaigns AS c
   ORDER BY created_at DESC OFFSET 10 ROWS FETCH FIRST 3 ROWS WITH TIES$$) AS with_ties_offset;
-- an OFFSET given as a parameter, in a generic plan: not sent, the same rows
PREPARE newest_page(bigint) AS
  SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at DESC LIMIT 4 OFFSET $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE newest_page(20);
CREATE TEMP TABLE generic_page AS EXECUTE newest_page(20);
RESET plan_cache_mode;
SELECT (SELECT array_agg(campaign_id) FROM generic_page) =
       (SELECT array_agg(campaign_id) FROM
         (SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at DESC LIMIT 4 OFFSET 20) AS l)
       AS same_rows;
DEALLOCATE newest_page;

-- lemlist out of order is an ERROR, never a wrong answer under a LIMIT
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=2000');
SELECT * FROM mock('fault mutate route=campaigns op=campaigns_reverse');
SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at DESC LIMIT 3;

-- the stats of the 20 newest campaigns: a page of 20 and a batch
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=2000');
SELECT count(*), sum(s.replied) IS NOT NULL AS summed
  FROM (SELECT campaign_id FROM lemlist.campaigns ORDER BY created_at DESC LIMIT 20) AS newest
  JOIN lemlist.campaign_stats s USING (campaign_id)
 WHERE s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30';
SELECT method, split_part(path, '?', 1) AS route, count(*) AS requests FROM sent GROUP BY 1, 2 ORDER BY 1;

-- a preview of the stats tables (what a GUI sends when a table is opened):
-- a page and a batch
EXPLAIN (COSTS OFF) SELECT * FROM lemlist.campaign_stats LIMIT 10;
SELECT * FROM pg_temp.cost_of($$SELECT * FROM lemlist.campaign_stats LIMIT 10$$);
SELECT * FROM pg_temp.cost_of($$SELECT * FROM lemlist.campaign_step_stats LIMIT 10$$);
-- 150 rows: two pages and two batches
SELECT * FROM pg_temp.cost_of($$SELECT * FROM lemlist.campaign_stats LIMIT 150$$);
-- a local condition rejects rows: the scan asks for more as they are pulled
SELECT rows, method, route, requests < 20 AS fewer_than_the_team
  FROM pg_temp.cost_of($$SELECT * FROM lemlist.campaign_stats WHERE replied > 60 LIMIT 40$$);
-- explicit campaigns: the first batch only
SELECT * FROM pg_temp.cost_of($$
  SELECT * FROM lemlist.campaign_stats
   WHERE campaign_id = ANY (ARRAY(SELECT format('cam_%s', lpad(i::text, 5, '0'))
                                    FROM generate_series(1001, 2000) AS i))
   LIMIT 10$$);
-- without a LIMIT, everything, as before
SELECT * FROM pg_temp.cost_of($$SELECT * FROM lemlist.campaign_stats$$);

-- a cursor (what psycopg's or SQLAlchemy's server-side cursors declare):
-- its first rows cost a page and a batch, and it asks for more as it is
-- fetched, to the whole team
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=2000');
EXPLAIN (COSTS OFF) DECLARE stats_cursor CURSOR FOR SELECT * FROM lemlist.campaign_stats;
BEGIN;
SET LOCAL client_min_messages = warning;
DECLARE stats_cursor CURSOR FOR SELECT campaign_id, replied FROM lemlist.campaign_stats;
MOVE 20 IN stats_cursor;
SELECT method, split_part(path, '?', 1) AS route, count(*) AS requests FROM sent GROUP BY 1, 2 ORDER BY 1;
MOVE ALL IN stats_cursor;
SELECT method, split_part(path, '?', 1) AS route, count(*) AS requests FROM sent GROUP BY 1, 2 ORDER BY 1;
COMMIT;

-- semi-joins on the finite filters ask for the values the other side
-- holds: a channel IN (SELECT ...) next to a campaign, from a table without
-- statistics, is one request set, not the domain's four
SELECT * FROM mock('reset');
CREATE TEMP TABLE wanted (ch text);
INSERT INTO wanted VALUES ('email');
-- (the join's own lines: PostgreSQL 19 makes the other side unique below it)
SELECT ln FROM masked_explain($$
SELECT campaign_id, channel, replied FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel IN (SELECT ch FROM wanted)
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$, 'COSTS OFF') AS ln
 WHERE ln ~ '(batched join|lemlist Join|Keys From)';
SELECT campaign_id, channel, replied FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel IN (SELECT ch FROM wanted)
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT * FROM masked_requests();
-- a join on ab_selected next to campaign_id IN (SELECT ...): A and B only
-- (the totals, ab_selected NULL, never join); a left join keeps them
SELECT * FROM mock('reset');
CREATE TEMP TABLE variants (v text);
INSERT INTO variants VALUES ('A'), ('B');
SELECT s.campaign_id, s.ab_selected, s.replied
  FROM lemlist.campaign_stats s JOIN variants ON s.ab_selected = variants.v
 WHERE s.campaign_id IN (SELECT format('cam_%s', lpad(i::text, 5, '0')) FROM generate_series(1, 3) AS i)
   AND s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30'
 ORDER BY 1, 2;
-- (the IDs' order in a body follows the other side's, which differs
-- between majors)
SELECT b->>'ABSelected' AS ab_selected, jsonb_array_length(b->'campaignIds') AS campaigns
  FROM mock_bodies ORDER BY 1;
SELECT * FROM mock('reset');
SELECT s.campaign_id, s.ab_selected, variants.v
  FROM lemlist.campaign_stats s LEFT JOIN variants ON s.ab_selected = variants.v
 WHERE s.campaign_id = 'cam_00001'
   AND s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30'
 ORDER BY 1, 2;
SELECT count(*) AS requests FROM mock_requests;
-- NOT EXISTS keeps the totals too: they have no variant to match
SELECT * FROM mock('reset');
SELECT s.campaign_id, s.ab_selected
  FROM lemlist.campaign_stats s
 WHERE NOT EXISTS (SELECT FROM variants WHERE variants.v = s.ab_selected)
   AND s.campaign_id = 'cam_00001'
   AND s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30';
SELECT count(*) AS requests FROM mock_requests;

-- The SQL that BI tools write, with the bodies it sends.
-- Metabase: quoted names, timestamp with time zone literals, end_date <
SELECT * FROM mock('reset');
SELECT "lemlist"."campaign_stats"."campaign_id" AS "campaign_id",
       sum("lemlist"."campaign_stats"."replied") AS "sum"
  FROM "lemlist"."campaign_stats"
 WHERE "lemlist"."campaign_stats"."start_date" >= timestamp with time zone '2025-01-01 00:00:00.000Z'
   AND "lemlist"."campaign_stats"."end_date" < timestamp with time zone '2025-07-01 00:00:00.000Z'
   AND "lemlist"."campaign_stats"."campaign_id" IN ('cam_00001', 'cam_00002')
 GROUP BY "lemlist"."campaign_stats"."campaign_id"
 ORDER BY "lemlist"."campaign_stats"."campaign_id" ASC
 LIMIT 2000;
SELECT * FROM masked_requests();
-- Tableau: timestamp literals (the session's time zone, here UTC) and a
-- BETWEEN on the start
SELECT * FROM mock('reset');
SELECT "campaign_stats"."campaign_id" AS "campaign_id", SUM("campaign_stats"."opened") AS "sum:opened:ok"
  FROM "lemlist"."campaign_stats" "campaign_stats"
 WHERE ("campaign_stats"."start_date" BETWEEN (TIMESTAMP '2025-03-01 00:00:00.000') AND (TIMESTAMP '2025-03-31 00:00:00.000'))
   AND ("campaign_stats"."end_date" <= (TIMESTAMP '2025-03-31 23:59:59.999'))
   AND ("campaign_stats"."campaign_id" = 'cam_00003')
 GROUP BY 1;
SELECT * FROM masked_requests();
-- Power BI and Looker: CAST(... AS date) on both dates
SELECT * FROM mock('reset');
SELECT campaign_id, replied FROM lemlist.campaign_stats
 WHERE CAST(start_date AS date) >= DATE '2025-01-01' AND CAST(end_date AS date) <= DATE '2025-06-30'
   AND campaign_id = 'cam_00001';
SELECT * FROM masked_requests();
-- Superset: the chart's query wraps the dataset as virtual_table, with a
-- row limit; grouped, so the LIMIT does not reach the scan
EXPLAIN (COSTS OFF)
SELECT campaign_id AS campaign_id, sum(replied) AS "SUM(replied)"
  FROM (SELECT campaign_id, replied FROM lemlist.campaign_stats
         WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30') AS virtual_table
 GROUP BY campaign_id ORDER BY "SUM(replied)" DESC LIMIT 1000;
SELECT * FROM pg_temp.cost_of($$
  SELECT campaign_id AS campaign_id, sum(replied) AS "SUM(replied)"
    FROM (SELECT campaign_id, replied FROM lemlist.campaign_stats
           WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30') AS virtual_table
   GROUP BY campaign_id ORDER BY "SUM(replied)" DESC LIMIT 1000$$, 300);
-- its table preview: SELECT * FROM (dataset) AS virtual_table LIMIT n, a
-- page and a batch
SELECT * FROM pg_temp.cost_of($$
  SELECT * FROM (SELECT * FROM lemlist.campaign_stats
                  WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30') AS virtual_table
   LIMIT 50$$, 300);
-- date_trunc groupings over a calendar: one request set per month
SELECT * FROM mock('reset');
SELECT date_trunc('month', s.start_date) AS month, s.campaign_id, sum(s.replied) AS replied
  FROM generate_series(timestamptz '2025-01-01', timestamptz '2025-03-01', interval '1 month') AS m
  JOIN lemlist.campaign_stats s
    ON s.start_date = m AND s.end_date = m + interval '1 month' - interval '1 millisecond'
 WHERE s.campaign_id = 'cam_00001'
 GROUP BY 1, 2 ORDER BY 1;
SELECT * FROM masked_requests();
SELECT * FROM mock('reset');
