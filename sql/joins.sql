--
-- joins: a join of a lemlist stats table with any other input asks lemlist
-- for exactly the keys that input holds (the batched join).  The mock's
-- team has 2,000 campaigns, so that listing it would show.
--
CREATE FUNCTION team() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mock('reset');
  PERFORM mock('config campaigns=2000');
END $$;
-- what lemlist received: requests, list pages, and campaigns asked for
CREATE FUNCTION sent(OUT requests bigint, OUT list_pages bigint, OUT campaigns bigint)
LANGUAGE sql AS $$
  SELECT count(*), count(*) FILTER (WHERE line LIKE 'GET%'),
         coalesce(sum(json_array_length(substring(line FROM '\{.*\}$')::json -> 'campaignIds')), 0)
    FROM mock_requests $$;
SELECT team();
SET timezone = 'UTC';
-- the campaigns lemlist does not know come back as NOTICEs, in no set order
SET client_min_messages = warning;
SET datestyle = ISO;

-- a CRM: 1,000 deals over 300 campaigns, in 50 accounts
CREATE TEMP TABLE accounts (account_id int PRIMARY KEY, name text, tier text);
INSERT INTO accounts SELECT a, 'account ' || a, CASE WHEN a % 3 = 0 THEN 'gold' ELSE 'silver' END
  FROM generate_series(1, 50) a;
CREATE TEMP TABLE deals (deal_id int PRIMARY KEY, account_id int, cid text, amount numeric);
INSERT INTO deals SELECT d, 1 + d % 50, 'cam_' || lpad((1 + (d * 7) % 300)::text, 5, '0'), d * 10
  FROM generate_series(1, 1000) d;
ANALYZE accounts;
ANALYZE deals;

CREATE TEMP VIEW stats AS
SELECT * FROM lemlist.campaign_stats
 WHERE start_date = '2025-01-01' AND end_date = '2025-06-30 23:59:59.999';
-- the same question with constant lists, to compare with
CREATE TEMP TABLE wanted AS SELECT DISTINCT cid FROM deals;

--
-- The plain join: three batches of the 300 campaigns, no listing
--
-- (the join's own Filter, the key clause checked again, is left out: its
-- operands come in either order, depending on the major)
SELECT line FROM masked_explain($$
  SELECT d.deal_id, s.nb_leads FROM deals d JOIN stats s ON s.campaign_id = d.cid
$$, 'COSTS OFF') AS line WHERE line !~ '^\s+Filter: \(\w+ = \w+\)$';
SELECT team();
SELECT count(*), sum(s.nb_leads) FROM deals d JOIN stats s ON s.campaign_id = d.cid;
SELECT * FROM sent();
-- the same rows as the = ANY(ARRAY(SELECT ...)) idiom
SELECT count(*), sum(s.nb_leads) FROM deals d
  JOIN lemlist.campaign_stats s ON s.campaign_id = d.cid
 WHERE s.campaign_id = ANY(ARRAY(SELECT cid FROM wanted))
   AND s.start_date = '2025-01-01' AND s.end_date = '2025-06-30 23:59:59.999';
-- EXPLAIN ANALYZE: where the keys come from, and what they cost
SELECT team();
SELECT line FROM masked_explain($$
  SELECT d.deal_id, s.nb_leads FROM deals d JOIN stats s ON s.campaign_id = d.cid
$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF') AS line
 WHERE line ~ 'lemlist|Scan';

-- LEFT JOIN: deals of campaigns lemlist does not know keep NULLs
INSERT INTO deals VALUES (1001, 1, 'cam_99999', 5), (1002, 1, NULL, 5);
ANALYZE deals;
SELECT team();
SELECT count(*) AS deals, count(s.campaign_id) AS with_stats
  FROM deals d LEFT JOIN stats s ON s.campaign_id = d.cid;
SELECT * FROM sent();
-- EXISTS and NOT EXISTS: a semi and an anti join, the same batches
EXPLAIN (COSTS OFF)
SELECT count(*) FROM deals d WHERE EXISTS (SELECT 1 FROM stats s WHERE s.campaign_id = d.cid);
SELECT team();
SELECT count(*) FROM deals d WHERE EXISTS (SELECT 1 FROM stats s WHERE s.campaign_id = d.cid);
SELECT * FROM sent();
SELECT team();
SELECT count(*) FROM deals d WHERE NOT EXISTS (SELECT 1 FROM stats s WHERE s.campaign_id = d.cid);
SELECT * FROM sent();
-- IN (SELECT ...): each campaign once
SELECT team();
SELECT count(*), count(DISTINCT campaign_id) FROM stats
 WHERE campaign_id IN (SELECT cid FROM deals WHERE amount > 5000);
SELECT * FROM sent();
SELECT count(*) FROM stats
 WHERE campaign_id = ANY(ARRAY(SELECT cid FROM deals WHERE amount > 5000));

-- three tables, filtered on the account, grouped
SELECT team();
SELECT a.tier, count(*) AS deals, sum(s.replied) AS replied
  FROM accounts a JOIN deals d USING (account_id) JOIN stats s ON s.campaign_id = d.cid
 WHERE a.tier = 'gold'
 GROUP BY a.tier;
SELECT * FROM sent();

-- lemlist.campaigns: one listing (of the paused ones), then their batches
SELECT team();
SELECT count(*) FROM lemlist.campaigns c JOIN stats s USING (campaign_id)
 WHERE c.status = 'paused';
SELECT * FROM sent();

-- a prepared join, executed twice: one batch each
PREPARE by_account(int) AS
  SELECT count(*) FROM deals d JOIN stats s ON s.campaign_id = d.cid WHERE d.account_id = $1;
SELECT team();
EXECUTE by_account(7);
EXECUTE by_account(8);
SELECT * FROM sent();
DEALLOCATE by_account;

--
-- Joins on the other filter columns
--
-- a LATERAL daily series: one request set per day, its IDs batched
SELECT team();
SELECT d::date AS day, count(*), sum(s.nb_leads) AS leads
  FROM generate_series('2025-03-01'::timestamptz, '2025-03-03', '1 day') d,
       LATERAL (SELECT * FROM lemlist.campaign_stats s
                 WHERE s.start_date = d AND s.end_date = d + interval '1 day' - interval '1 ms'
                   AND s.campaign_id IN ('cam_00001', 'cam_00002')) s
 GROUP BY 1 ORDER BY 1;
SELECT * FROM sent();
-- a calendar table
CREATE TEMP TABLE months (m_start timestamptz, m_end timestamptz);
INSERT INTO months VALUES ('2025-01-01', '2025-01-31 23:59:59.999'), ('2025-02-01', '2025-02-28 23:59:59.999');
SELECT team();
SELECT m.m_start, s.campaign_id, s.start_date, s.end_date
  FROM months m JOIN lemlist.campaign_stats s ON s.start_date = m.m_start AND s.end_date = m.m_end
 WHERE s.campaign_id = 'cam_00003'
 ORDER BY 1;
SELECT * FROM masked_requests();
-- the same rows as the question asked month by month with constants
SELECT differences(
  $$SELECT m.m_start, s.campaign_id, s.nb_leads, s.replied
      FROM months m JOIN lemlist.campaign_stats s ON s.start_date = m.m_start AND s.end_date = m.m_end
     WHERE s.campaign_id IN ('cam_00003', 'cam_00004')$$,
  $$SELECT start_date, campaign_id, nb_leads, replied FROM lemlist.campaign_stats
     WHERE campaign_id IN ('cam_00003', 'cam_00004')
       AND start_date = '2025-01-01' AND end_date = '2025-01-31 23:59:59.999'
    UNION ALL
    SELECT start_date, campaign_id, nb_leads, replied FROM lemlist.campaign_stats
     WHERE campaign_id IN ('cam_00003', 'cam_00004')
       AND start_date = '2025-02-01' AND end_date = '2025-02-28 23:59:59.999'$$) AS calendar;
-- sales reps joined on send_user
CREATE TEMP TABLE reps (rep text, send_user text);
INSERT INTO reps VALUES ('Alice', 'usr_alice|alice@example.com'), ('Bob', 'usr_bob|bob@example.com');
SELECT team();
SELECT r.rep, s.campaign_id, s.send_user FROM reps r
  JOIN lemlist.campaign_stats s ON s.send_user = r.send_user
 WHERE s.campaign_id = 'cam_00001' ORDER BY 1;
SELECT * FROM masked_requests();
-- a table of variants joined on ab_selected: one request set per variant
CREATE TEMP TABLE variants (v text, label text);
INSERT INTO variants VALUES ('A', 'control'), ('B', 'test');
ANALYZE variants;
SELECT team();
SELECT v.label, count(*), sum(s.replied) FROM variants v
  JOIN stats s ON s.ab_selected = v.v
 WHERE s.campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
 GROUP BY 1 ORDER BY 1;
SELECT * FROM masked_requests();
-- campaign_id and channel keys together (a channel join also asks its
-- domain of a plain scan: here the keys decide)
SELECT team();
SELECT v.cid, s.channel, s.nb_leads FROM (VALUES ('cam_00001', 'email'), ('cam_00002', 'linkedin')) v (cid, ch)
  JOIN stats s ON s.campaign_id = v.cid AND s.channel = v.ch ORDER BY 1;
SELECT * FROM masked_requests();
-- the deals' campaigns per rep: campaign_id and send_user keys together
CREATE TEMP TABLE rep_deals AS SELECT r.send_user, d.cid FROM reps r, deals d WHERE d.deal_id <= 3;
SELECT team();
SELECT count(*) FROM rep_deals x
  JOIN lemlist.campaign_stats s ON s.send_user = x.send_user AND s.campaign_id = x.cid;
SELECT * FROM sent();

-- keys from two tables not joined to each other: the months' dates are
-- sent, the team listed for the campaigns; the same rows as the months one
-- by one
SELECT team();
SELECT count(*), sum(s.replied) FROM months m, rep_deals x
  JOIN lemlist.campaign_stats s ON s.campaign_id = x.cid
 WHERE s.start_date = m.m_start AND s.end_date = m.m_end;
SELECT list_pages > 0 AS listed, requests - list_pages AS batches FROM sent();
SELECT count(*), sum(replied) FROM (
  SELECT s.replied FROM rep_deals x JOIN lemlist.campaign_stats s ON s.campaign_id = x.cid
   WHERE s.start_date = '2025-01-01' AND s.end_date = '2025-01-31 23:59:59.999'
  UNION ALL
  SELECT s.replied FROM rep_deals x JOIN lemlist.campaign_stats s ON s.campaign_id = x.cid
   WHERE s.start_date = '2025-02-01' AND s.end_date = '2025-02-28 23:59:59.999') m;
-- pairs of dates as a row IN list (an OR of ANDs on two filters) are not
-- sent: refused
SELECT count(*) FROM rep_deals x
  JOIN lemlist.campaign_stats s ON s.campaign_id = x.cid
 WHERE (s.start_date, s.end_date) IN (('2025-01-01', '2025-01-31 23:59:59.999'),
                                      ('2025-02-01', '2025-02-28 23:59:59.999'));
-- a FULL JOIN on a date cannot be sent: an ERROR naming the clause
SELECT count(*) FROM months m FULL JOIN lemlist.campaign_stats s ON s.start_date = m.m_start
 WHERE s.campaign_id = 'cam_00001' OR s.campaign_id IS NULL;
-- two lemlist tables joined on their echoes work as they always did
SELECT team();
SELECT count(*) FROM stats s
  JOIN lemlist.campaign_step_stats t USING (campaign_id, start_date, end_date)
 WHERE s.campaign_id IN ('cam_00001', 'cam_00002');

--
-- Rescans, cursors, cancellation
--
-- the join inside a nested loop: a rescan per outer row, one batch each
SELECT team();
SELECT a.account_id, x.n FROM accounts a,
       LATERAL (SELECT count(*) AS n FROM deals d JOIN stats s ON s.campaign_id = d.cid
                 WHERE d.account_id = a.account_id) x
 WHERE a.account_id <= 3 ORDER BY 1;
SELECT * FROM sent();
-- cancelled while the other side is read: nothing was sent
SELECT team();
SET statement_timeout = '200ms';
SELECT count(*) FROM (SELECT d.cid FROM deals d, LATERAL (SELECT pg_sleep(0.001) WHERE d.deal_id > 0) z) d
  JOIN stats s ON s.campaign_id = d.cid;
RESET statement_timeout;
SELECT * FROM sent();
-- a cursor
BEGIN;
DECLARE c CURSOR FOR SELECT d.deal_id, s.campaign_id FROM deals d JOIN stats s ON s.campaign_id = d.cid ORDER BY 1;
FETCH 2 FROM c;
FETCH 1 FROM c;
CLOSE c;
COMMIT;
-- off, the planner joins as before: the team is listed
SET lemlist_fdw.enable_batched_join = off;
SELECT team();
SELECT count(*) FROM deals d JOIN stats s ON s.campaign_id = d.cid;
SELECT list_pages > 0 AS listed FROM sent();
RESET lemlist_fdw.enable_batched_join;
