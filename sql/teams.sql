--
-- teams: an agency's client teams in one table.  One server per team, each
-- with its own API key (the mock's regress-team-NNN keys, no secret), and a
-- table partitioned by team over their foreign tables: every row says its
-- team, filled from its partition's bound (lemlist does not return it), and
-- WHERE team = ... prunes the other teams before any request.  A standalone
-- table names its server in a column with the option server_name.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
SET datestyle = ISO;
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- method, route and status of each logged request
CREATE TEMP VIEW reqs AS
  SELECT split_part(line, ' ', 1) AS method,
         split_part(split_part(line, ' ', 2), '?', 1) AS route,
         split_part(line, ' ', 3) AS status
    FROM mock_requests;

CREATE SERVER team_acme FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
CREATE SERVER team_globex FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER team_acme OPTIONS (api_key 'regress-team-001');
CREATE USER MAPPING FOR CURRENT_USER SERVER team_globex OPTIONS (api_key 'regress-team-002');

CREATE SCHEMA agency;
CREATE TABLE agency.campaign_stats (team text NOT NULL, campaign_id text, start_date timestamptz,
                                    end_date timestamptz, nb_leads bigint, replied bigint)
  PARTITION BY LIST (team);
CREATE FOREIGN TABLE agency.campaign_stats_acme PARTITION OF agency.campaign_stats
  FOR VALUES IN ('acme') SERVER team_acme OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE agency.campaign_stats_globex PARTITION OF agency.campaign_stats
  FOR VALUES IN ('globex') SERVER team_globex OPTIONS (resource 'campaign_stats');

-- every team, each row with its team: one batch per team
SELECT team, campaign_id, nb_leads, replied
  FROM agency.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
 ORDER BY team, campaign_id;
SELECT method, route, status, count(*) AS requests FROM reqs GROUP BY 1, 2, 3;
-- the same rows as each team's table read alone, with its team
SELECT count(*) AS differences
  FROM ((SELECT team, campaign_id, nb_leads, replied FROM agency.campaign_stats
          WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30'
            AND campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
         EXCEPT ALL
         (SELECT 'acme', campaign_id, nb_leads, replied FROM agency.campaign_stats_acme
           WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30'
             AND campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
          UNION ALL
          SELECT 'globex', campaign_id, nb_leads, replied FROM agency.campaign_stats_globex
           WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30'
             AND campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')))) AS d;

-- the teams' scans run at once under the Append (PostgreSQL 14 and later;
-- expected/teams_1.out has 13's plain Foreign Scans, one after the other):
-- two teams of 4 batches each, one request at a time per team, 250 ms of
-- latency, take the time of one team
EXPLAIN (COSTS OFF)
SELECT team, campaign_id, replied FROM agency.campaign_stats
 WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30';
ALTER SERVER team_acme OPTIONS (ADD max_parallel '1');
ALTER SERVER team_globex OPTIONS (ADD max_parallel '1');
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=400 latency_ms=250');
SELECT clock_timestamp() AS t0 \gset
SELECT team, count(*) AS campaigns, sum(replied) AS replied FROM agency.campaign_stats
 WHERE campaign_id = ANY (ARRAY(SELECT format('cam_%s', lpad(i::text, 5, '0'))
                                  FROM generate_series(1, 400) AS i))
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
 GROUP BY team ORDER BY team;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.8 s' AS at_once
  FROM pg_settings WHERE name = 'server_version_num' AND setting::int >= 140000
UNION ALL
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '2 s'
  FROM pg_settings WHERE name = 'server_version_num' AND setting::int < 140000;
SELECT method, route, status, count(*) AS requests FROM reqs GROUP BY 1, 2, 3;
-- EXPLAIN ANALYZE keeps each scan's own counters
SELECT * FROM mock('reset');
CREATE FUNCTION pg_temp.analyze(q text) RETURNS SETOF text
LANGUAGE sql AS $$
  SELECT regexp_replace(ln, ' \(actual rows=.*$', '')
    FROM masked_explain(q, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF') AS ln
   WHERE ln ~ '(Foreign Scan|Append|batched join|lemlist (Batches|Requests Sent|Tables Asked|Distinct Keys))'
$$;
SELECT * FROM pg_temp.analyze($$
  SELECT campaign_id FROM agency.campaign_stats_acme
   WHERE campaign_id = ANY (ARRAY(SELECT format('cam_%s', lpad(i::text, 5, '0'))
                                    FROM generate_series(1, 150) AS i))
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
  UNION ALL
  SELECT campaign_id FROM agency.campaign_stats_globex
   WHERE campaign_id = ANY (ARRAY(SELECT format('cam_%s', lpad(i::text, 5, '0'))
                                    FROM generate_series(1, 50) AS i))
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'$$);

-- async_capable 'false' (server or table): one after the other
ALTER FOREIGN TABLE agency.campaign_stats_globex OPTIONS (ADD async_capable 'false');
EXPLAIN (COSTS OFF)
SELECT team, campaign_id, replied FROM agency.campaign_stats
 WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30';
ALTER FOREIGN TABLE agency.campaign_stats_globex OPTIONS (DROP async_capable);
ALTER SERVER team_acme OPTIONS (DROP max_parallel);
ALTER SERVER team_globex OPTIONS (DROP max_parallel);

-- lemlist_fdw.max_transfers bounds the transfers of all the backend's
-- scans together: at 1, the two teams' 4 batches go one after the other
SHOW lemlist_fdw.max_transfers;
SET lemlist_fdw.max_transfers = 1;
SELECT * FROM mock('reset');
SELECT * FROM mock('config campaigns=400 latency_ms=250');
SELECT clock_timestamp() AS t0 \gset
SELECT team, count(*) AS campaigns FROM agency.campaign_stats
 WHERE campaign_id = ANY (ARRAY(SELECT format('cam_%s', lpad(i::text, 5, '0'))
                                  FROM generate_series(1, 200) AS i))
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
 GROUP BY team ORDER BY team;
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '1 s' AS one_at_a_time;
RESET lemlist_fdw.max_transfers;

-- a team that fails ends the statement with the ERROR naming its server
SELECT * FROM mock('reset');
ALTER USER MAPPING FOR CURRENT_USER SERVER team_globex OPTIONS (SET api_key 'regress-revoked');
SELECT team, count(*) FROM agency.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
 GROUP BY team;
ALTER USER MAPPING FOR CURRENT_USER SERVER team_globex OPTIONS (SET api_key 'regress-team-002');

-- a cancel (here statement_timeout) stops both teams' waits at once
SELECT * FROM mock('reset');
SELECT * FROM mock('config latency_ms=3000');
SET statement_timeout = '400ms';
SELECT clock_timestamp() AS t0 \gset
SELECT team, count(*) FROM agency.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
 GROUP BY team;
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '600 ms' AS cancelled_within_200ms;
SELECT * FROM mock('reset');

-- one team: the other is pruned, at plan time and at run time
SELECT * FROM mock('reset');
EXPLAIN (COSTS OFF)
SELECT team, campaign_id, replied FROM agency.campaign_stats
 WHERE team = 'globex' AND campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT team, campaign_id, replied FROM agency.campaign_stats
 WHERE team = 'globex' AND campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT method, route, status, count(*) AS requests FROM reqs GROUP BY 1, 2, 3;
PREPARE one_team(text) AS
  SELECT team, count(*) AS campaigns FROM agency.campaign_stats
   WHERE team = $1 AND campaign_id IN ('cam_00001', 'cam_00002')
     AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'
   GROUP BY team;
SET plan_cache_mode = force_generic_plan;
SELECT * FROM mock('reset');
EXECUTE one_team('acme');
SELECT method, route, status, count(*) AS requests FROM reqs GROUP BY 1, 2, 3;
EXECUTE one_team('initech');
RESET plan_cache_mode;
DEALLOCATE one_team;

-- a team no partition holds: no request at all
SELECT * FROM mock('reset');
SELECT count(*) FROM agency.campaign_stats
 WHERE team = 'initech' AND start_date >= '2025-01-01';
SELECT count(*) AS requests FROM reqs;

-- a condition on the team column reaches the scan as a local filter on
-- the filled value: never a request filter, never an ERROR
EXPLAIN (VERBOSE, COSTS OFF)
SELECT campaign_id FROM agency.campaign_stats_acme
 WHERE team <> 'globex' AND campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
SELECT campaign_id, team FROM agency.campaign_stats_acme
 WHERE team <> 'globex' AND campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';

-- a standalone table names its server in a column (option server_name)
CREATE FOREIGN TABLE agency.standalone (server text OPTIONS (server_name 'true'),
                                        campaign_id text, replied bigint)
  SERVER team_globex OPTIONS (resource 'campaign_stats');
SELECT server, campaign_id FROM agency.standalone WHERE campaign_id = 'cam_00001';
ALTER FOREIGN TABLE agency.standalone ALTER COLUMN server OPTIONS (SET server_name 'maybe');
ALTER FOREIGN TABLE agency.standalone ALTER COLUMN server OPTIONS (SET server_name 'false');
SELECT server, campaign_id FROM agency.standalone WHERE campaign_id = 'cam_00001';

-- Joins across teams.  The mock now gives each key a team of its own
-- (key_teams: regress-team-001 is team 1, campaigns cam_100001 ...), and
-- logs the team of each request.  A CRM table of deals carrying (team,
-- campaign_id) joined with the agency's table: each team is asked for its
-- own deals' campaigns, ceil(distinct / 100) batches, nobody lists, the
-- teams at once; a team without deals (initech) costs nothing.
CREATE SERVER team_initech FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER team_initech OPTIONS (api_key 'regress-team-003');
CREATE FOREIGN TABLE agency.campaign_stats_initech PARTITION OF agency.campaign_stats
  FOR VALUES IN ('initech') SERVER team_initech OPTIONS (resource 'campaign_stats');
-- team 1 (acme): 149 campaigns, 298 deals; team 2 (globex): 79 campaigns,
-- 158 deals (none on an archived campaign N00013); a deal of a team no
-- partition holds, and one without a team
CREATE TABLE agency.deals (deal_id int, team text, campaign_id text, amount int);
INSERT INTO agency.deals
  SELECT i, 'acme', format('cam_%s', 100001 + i % 150), i FROM generate_series(1, 300) AS i
  UNION ALL
  SELECT 1000 + i, 'globex', format('cam_%s', 200001 + i % 80), i FROM generate_series(1, 160) AS i
  UNION ALL VALUES (2001, 'umbrella', 'cam_100002', 1), (2002, NULL, 'cam_100003', 1);
DELETE FROM agency.deals WHERE campaign_id LIKE '%00013';
ANALYZE agency.deals;
CREATE TEMP VIEW team_reqs AS
  SELECT split_part(line, ' ', 1) AS method,
         split_part(split_part(line, ' ', 2), '?', 1) AS route,
         split_part(line, ' ', 4) AS team
    FROM mock_requests;
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
-- each partition answers with its own key's team: asked for a campaign of
-- each team, acme has only its own (the other is "not found", a notice)
SET client_min_messages = warning;
SELECT team, campaign_id FROM agency.campaign_stats
 WHERE campaign_id IN ('cam_100001', 'cam_200001', 'cam_300001') AND start_date >= '2025-01-01'
 ORDER BY team;
RESET client_min_messages;
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
-- (the join's own Filter, its clauses in an order that differs between
-- majors, is left out)
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text
LANGUAGE sql AS $$
  SELECT ln FROM masked_explain(q) AS ln WHERE ln !~ '^  Filter: '
$$;
SELECT * FROM pg_temp.plan($$
SELECT d.deal_id, s.team, s.replied
  FROM agency.deals d JOIN agency.campaign_stats s
    ON s.team = d.team AND s.campaign_id = d.campaign_id
 WHERE s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30'$$);
SELECT s.team, count(*) AS deals, count(DISTINCT s.campaign_id) AS campaigns, sum(s.replied) AS replied
  FROM agency.deals d JOIN agency.campaign_stats s
    ON s.team = d.team AND s.campaign_id = d.campaign_id
 WHERE s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30'
 GROUP BY s.team ORDER BY s.team;
SELECT method, route, team, count(*) AS requests FROM team_reqs GROUP BY 1, 2, 3 ORDER BY 3;
-- each team's batches, in EXPLAIN ANALYZE; initech never runs
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
SELECT * FROM pg_temp.analyze($$
  SELECT d.deal_id, s.replied
    FROM agency.deals d JOIN agency.campaign_stats s
      ON s.team = d.team AND s.campaign_id = d.campaign_id
   WHERE s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30'$$);

-- the same rows as the plain join (which lists every team), for an inner,
-- a left, a semi and an anti join, and IN (SELECT team, campaign_id ...);
-- the listings send many requests, so the servers may retry a 429 here
ALTER SERVER team_acme OPTIONS (SET max_retries '3');
ALTER SERVER team_globex OPTIONS (SET max_retries '3');
ALTER SERVER team_initech OPTIONS (SET max_retries '3');
CREATE FUNCTION pg_temp.batched_vs_plain(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  batched bigint;
  plain bigint;
  n bigint;
BEGIN
  EXECUTE 'CREATE TEMP TABLE batched_rows AS ' || q;
  SET LOCAL lemlist_fdw.enable_batched_join = off;
  EXECUTE 'CREATE TEMP TABLE plain_rows AS ' || q;
  SELECT count(*) INTO batched FROM batched_rows;
  SELECT count(*) INTO plain FROM plain_rows;
  n := differences('TABLE batched_rows', 'TABLE plain_rows');
  DROP TABLE batched_rows, plain_rows;
  RETURN format('%s rows, %s rows plainly, %s differences', batched, plain, n);
END
$$;
SET client_min_messages = warning;
SELECT pg_temp.batched_vs_plain($$
  SELECT d.deal_id, s.team, s.campaign_id, s.replied FROM agency.deals d
    JOIN agency.campaign_stats s ON s.team = d.team AND s.campaign_id = d.campaign_id
   WHERE s.start_date >= '2025-01-01'$$) AS inner_join;
SELECT pg_temp.batched_vs_plain($$
  SELECT d.deal_id, s.team, s.replied FROM agency.deals d
    LEFT JOIN agency.campaign_stats s ON s.team = d.team AND s.campaign_id = d.campaign_id
                                     AND s.start_date >= '2025-01-01'$$) AS left_join;
SELECT pg_temp.batched_vs_plain($$
  SELECT d.deal_id FROM agency.deals d
   WHERE EXISTS (SELECT FROM agency.campaign_stats s
                  WHERE s.team = d.team AND s.campaign_id = d.campaign_id
                    AND s.start_date >= '2025-01-01')$$) AS semi_join;
SELECT pg_temp.batched_vs_plain($$
  SELECT d.deal_id FROM agency.deals d
   WHERE NOT EXISTS (SELECT FROM agency.campaign_stats s
                      WHERE s.team = d.team AND s.campaign_id = d.campaign_id
                        AND s.start_date >= '2025-01-01')$$) AS anti_join;
SELECT pg_temp.batched_vs_plain($$
  SELECT s.team, s.campaign_id, s.replied FROM agency.campaign_stats s
   WHERE (s.team, s.campaign_id) IN (SELECT team, campaign_id FROM agency.deals)
     AND s.start_date >= '2025-01-01'$$) AS in_select;
RESET client_min_messages;
ALTER SERVER team_acme OPTIONS (SET max_retries '0');
ALTER SERVER team_globex OPTIONS (SET max_retries '0');
ALTER SERVER team_initech OPTIONS (SET max_retries '0');
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
-- (the join's lines only: PostgreSQL 19 makes the other side unique below it)
SELECT ln FROM pg_temp.plan($$
SELECT s.team, s.campaign_id FROM agency.campaign_stats s
 WHERE (s.team, s.campaign_id) IN (SELECT team, campaign_id FROM agency.deals)
   AND s.start_date >= '2025-01-01'$$) AS ln
 WHERE ln ~ '(batched join|lemlist Join)';
SELECT count(*) FROM agency.campaign_stats s
 WHERE (s.team, s.campaign_id) IN (SELECT team, campaign_id FROM agency.deals)
   AND s.start_date >= '2025-01-01';
SELECT method, route, team, count(*) AS requests FROM team_reqs GROUP BY 1, 2, 3 ORDER BY 3;

-- the teams at once: 3 batches each, one request at a time per team, 250
-- ms of latency: the time of one team, also on 13 (the join polls them)
ALTER SERVER team_acme OPTIONS (ADD max_parallel '1');
ALTER SERVER team_globex OPTIONS (ADD max_parallel '1');
CREATE TABLE agency.big_deals AS
  SELECT t.team, format('cam_%s', t.n * 100000 + i) AS campaign_id
    FROM (VALUES ('acme', 1), ('globex', 2)) AS t (team, n), generate_series(1, 300) AS i
   WHERE i <> 13;
ANALYZE agency.big_deals;
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300 latency_ms=250');
SELECT clock_timestamp() AS t0 \gset
SELECT s.team, count(*) FROM agency.big_deals d JOIN agency.campaign_stats s
    ON s.team = d.team AND s.campaign_id = d.campaign_id
 WHERE s.start_date >= '2025-01-01'
 GROUP BY 1 ORDER BY 1;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.4 s' AS at_once;
SELECT method, route, team, count(*) AS requests FROM team_reqs GROUP BY 1, 2, 3 ORDER BY 3;
ALTER SERVER team_acme OPTIONS (DROP max_parallel);
ALTER SERVER team_globex OPTIONS (DROP max_parallel);

-- a team that fails ends the join with the ERROR naming its server; a
-- cancel stops the join's wait on both teams at once
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
ALTER USER MAPPING FOR CURRENT_USER SERVER team_globex OPTIONS (SET api_key 'regress-revoked');
SELECT s.team, count(*) FROM agency.deals d JOIN agency.campaign_stats s
    ON s.team = d.team AND s.campaign_id = d.campaign_id
 GROUP BY 1;
ALTER USER MAPPING FOR CURRENT_USER SERVER team_globex OPTIONS (SET api_key 'regress-team-002');
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300 latency_ms=3000');
SET statement_timeout = '400ms';
SELECT clock_timestamp() AS t0 \gset
SELECT s.team, count(*) FROM agency.deals d JOIN agency.campaign_stats s
    ON s.team = d.team AND s.campaign_id = d.campaign_id
 GROUP BY 1;
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '600 ms' AS cancelled_within_200ms;

-- a generic plan for one team: the others, pruned by the parameter at run
-- time, are not asked
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
PREPARE team_deals(text) AS
  SELECT s.team, count(*) FROM agency.deals d JOIN agency.campaign_stats s
      ON s.team = d.team AND s.campaign_id = d.campaign_id
   WHERE d.team = $1 AND s.start_date >= '2025-01-01'
   GROUP BY 1;
SET plan_cache_mode = force_generic_plan;
EXECUTE team_deals('globex');
RESET plan_cache_mode;
DEALLOCATE team_deals;
SELECT method, route, team, count(*) AS requests FROM team_reqs GROUP BY 1, 2, 3 ORDER BY 3;

-- a UNION ALL view naming each team with a constant routes the same way
CREATE VIEW agency.stats_by_view AS
  SELECT 'acme' AS team, campaign_id, start_date, replied FROM agency.campaign_stats_acme
  UNION ALL
  SELECT 'globex', campaign_id, start_date, replied FROM agency.campaign_stats_globex
  UNION ALL
  SELECT 'initech', campaign_id, start_date, replied FROM agency.campaign_stats_initech;
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
SELECT v.team, count(*) FROM agency.deals d JOIN agency.stats_by_view v
    ON v.team = d.team AND v.campaign_id = d.campaign_id
 WHERE v.start_date >= '2025-01-01'
 GROUP BY 1 ORDER BY 1;
SELECT method, route, team, count(*) AS requests FROM team_reqs GROUP BY 1, 2, 3 ORDER BY 3;

-- a standalone table's server_name column routes too: only the globex
-- deals' campaigns are asked of team_globex
SELECT * FROM mock('reset');
SELECT * FROM mock('config key_teams=1 campaigns=300');
ALTER FOREIGN TABLE agency.standalone ALTER COLUMN server OPTIONS (SET server_name 'true');
SELECT s.server, count(*) FROM agency.deals d JOIN agency.standalone s
    ON s.server = 'team_' || d.team AND s.campaign_id = d.campaign_id
 GROUP BY 1;
SELECT method, route, team, count(*) AS requests FROM team_reqs GROUP BY 1, 2, 3 ORDER BY 3;
SELECT * FROM mock('reset');

DROP SCHEMA agency CASCADE;
DROP SERVER team_acme CASCADE;
DROP SERVER team_globex CASCADE;
DROP SERVER team_initech CASCADE;
