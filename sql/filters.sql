--
-- filters: every condition on a filter column means what it says.  A scan's
-- rows are the filter combinations its WHERE clause selects: ab_selected
-- and channel have finite domains, so any condition on them alone is
-- decided for each value (NULL, "not filtered", included); a condition on
-- campaign_id that no request carries narrows the IDs before they are
-- batched; a condition on the other filter columns that no request can
-- carry is an ERROR, never an empty answer.
--
SELECT * FROM mock('reset');
SET timezone = 'UTC';
SET datestyle = ISO;

-- the same rows as the constant IN list, and the same requests
CREATE TEMP VIEW ab AS
SELECT campaign_id, ab_selected, channel, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id IN ('cam_00001', 'cam_00002')
   AND start_date = '2025-01-01 00:00:00+00' AND end_date = '2025-06-30 23:59:59.999+00';

-- OR of equalities on ab_selected: A and B
EXPLAIN (COSTS OFF)
SELECT * FROM ab WHERE ab_selected = 'A' OR ab_selected = 'B';
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE ab_selected = 'A' OR ab_selected = 'B' ORDER BY 1, 2;
SELECT * FROM masked_requests();
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE ab_selected IN ('A', 'B') ORDER BY 1, 2;
SELECT * FROM masked_requests();

-- ab_selected IS NOT NULL: A and B; <> 'A': B only (NULL <> 'A' is NULL)
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE ab_selected IS NOT NULL ORDER BY 1, 2;
SELECT count(*) AS requests FROM masked_requests();
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE ab_selected <> 'A' ORDER BY 1, 2;
SELECT * FROM masked_requests();

-- channel <> 'others': email and linkedin
EXPLAIN (COSTS OFF)
SELECT * FROM ab WHERE channel <> 'others';
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE channel <> 'others' ORDER BY 1, 3;
SELECT * FROM masked_requests();

-- channel IN (...) OR channel IS NULL: three channels and the total
EXPLAIN (COSTS OFF)
SELECT * FROM ab WHERE channel IN ('email', 'linkedin', 'others') OR channel IS NULL;
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE channel IN ('email', 'linkedin', 'others') OR channel IS NULL
 ORDER BY 1, 3 NULLS FIRST;
SELECT count(*) AS requests FROM masked_requests();

-- NOT IN, CASE and a function of the column
SELECT * FROM mock('reset');
SELECT DISTINCT channel FROM ab WHERE channel NOT IN ('email') ORDER BY 1;
SELECT DISTINCT channel FROM ab
 WHERE CASE WHEN channel IS NULL THEN 'all' ELSE upper(channel) END IN ('LINKEDIN', 'all')
 ORDER BY 1 NULLS FIRST;
SELECT DISTINCT channel FROM ab WHERE length(channel) = 5 ORDER BY 1;

-- both finite columns in one clause: the combinations it holds for
EXPLAIN (COSTS OFF)
SELECT * FROM ab WHERE (ab_selected = 'A' AND channel = 'email') OR (ab_selected = 'B' AND channel IS NULL);
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE (ab_selected = 'A' AND channel = 'email') OR (ab_selected = 'B' AND channel IS NULL)
 ORDER BY 1, 2;
SELECT * FROM masked_requests();

-- a contradiction sends nothing
SELECT * FROM mock('reset');
SELECT * FROM ab WHERE ab_selected IS NOT NULL AND ab_selected NOT IN ('A', 'B');
SELECT count(*) AS requests FROM masked_requests();

-- parameters: decided at run time, with custom and generic plans
PREPARE p_ch(text) AS SELECT DISTINCT channel FROM ab WHERE channel <> $1 ORDER BY 1;
SET plan_cache_mode = force_custom_plan;
SELECT * FROM mock('reset');
EXECUTE p_ch('email');
SELECT count(*) AS requests FROM masked_requests();
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE p_ch('linkedin');
SELECT * FROM mock('reset');
EXECUTE p_ch('linkedin');
SELECT count(*) AS requests FROM masked_requests();
RESET plan_cache_mode;
DEALLOCATE p_ch;

-- campaign_id conditions no request carries narrow the listed IDs first
SELECT * FROM mock('reset');
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id LIKE 'cam_0000%' AND campaign_id <> 'cam_00003' ORDER BY 1;
SELECT * FROM masked_requests() r WHERE r LIKE '%stats%';

-- each shape gives exactly the rows of its constant IN list (no difference
-- either way)
SELECT differences($$SELECT * FROM ab WHERE ab_selected = 'A' OR ab_selected = 'B'$$,
                   $$SELECT * FROM ab WHERE ab_selected IN ('A', 'B')$$) AS or_ab,
       differences($$SELECT * FROM ab WHERE ab_selected IS NOT NULL$$,
                   $$SELECT * FROM ab WHERE ab_selected IN ('A', 'B')$$) AS not_null_ab,
       differences($$SELECT * FROM ab WHERE channel <> 'others'$$,
                   $$SELECT * FROM ab WHERE channel IN ('email', 'linkedin')$$) AS ne_channel,
       differences($$SELECT * FROM ab WHERE channel NOT IN ('email')$$,
                   $$SELECT * FROM ab WHERE channel IN ('linkedin', 'others')$$) AS not_in_channel,
       differences($$SELECT * FROM ab WHERE channel IN ('email', 'linkedin', 'others') OR channel IS NULL$$,
                   $$SELECT * FROM ab WHERE channel IN ('email', 'linkedin', 'others')
                     UNION ALL SELECT * FROM ab$$) AS with_total;

-- combinations: both finite filters decided, and two start dates: 2 x 2 x 2
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, ab_selected, channel FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND ab_selected IS NOT NULL AND channel <> 'others'
   AND channel IS NOT NULL AND start_date IN ('2025-01-01', '2025-02-01') AND end_date = '2025-03-01'
 ORDER BY 2, 3, 4;
SELECT * FROM masked_requests();

-- the fan-out cap counts the combinations the tests leave: 3 senders x
-- (A, B) x (email, linkedin, others) is 18, though 3 x 3 x 4 are tested
SELECT * FROM mock('reset');
SELECT count(*) AS rows, count(DISTINCT (send_user, ab_selected, channel)) AS combinations
  FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND ab_selected IS NOT NULL AND channel IS NOT NULL
   AND send_user IN ('usr_alice|alice@example.com', 'usr_bob|bob@example.com', 'usr_carol|carol@example.com');
SELECT count(*) AS requests FROM masked_requests();
-- and what is left beyond it is still refused, before any request
SELECT * FROM mock('reset');
SELECT count(*) FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND channel IS NOT NULL
   AND send_user IN ('usr_alice|alice@example.com', 'usr_bob|bob@example.com', 'usr_carol|carol@example.com')
   AND start_date IN ('2025-01-01', '2025-02-01', '2025-03-01', '2025-04-01');
SELECT count(*) AS requests FROM masked_requests();

-- a join (or a semi-join) on a finite filter asks for the values the other
-- side holds (the batched join), or for each value of the domain but the
-- totals, which never join; the join keeps those it matches
CREATE TEMP TABLE wanted_channels (ch text);
INSERT INTO wanted_channels VALUES ('email'), ('others');
SELECT * FROM mock('reset');
SELECT campaign_id, channel, nb_leads FROM ab
 WHERE channel IN (SELECT ch FROM wanted_channels) ORDER BY 1, 2;
SELECT count(*) AS requests FROM masked_requests();
SELECT campaign_id, channel, nb_leads FROM ab
 WHERE channel = ANY(ARRAY(SELECT ch FROM wanted_channels)) ORDER BY 1, 2;
CREATE TEMP TABLE variants (v text, label text);
INSERT INTO variants VALUES ('A', 'control'), ('B', 'test');
SELECT * FROM mock('reset');
SELECT v.label, s.campaign_id, s.nb_leads FROM ab s JOIN variants v ON s.ab_selected = v.v
 ORDER BY 1, 2;
SELECT count(*) AS requests FROM masked_requests();
-- a restriction narrows it: only B
SELECT * FROM mock('reset');
SELECT v.label, s.campaign_id FROM ab s JOIN variants v ON s.ab_selected = v.v
 WHERE s.ab_selected <> 'A' ORDER BY 1, 2;
SELECT count(*) AS requests FROM masked_requests();

-- campaign_id: an OR of equalities is its IN list (no listing); IS NULL
-- holds for no campaign: nothing is sent
SELECT * FROM mock('reset');
SELECT campaign_id FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00002' OR campaign_id = 'cam_00001' OR campaign_id IN ('cam_00003')
 ORDER BY 1;
SELECT * FROM masked_requests();
SELECT * FROM mock('reset');
SELECT campaign_id FROM lemlist.campaign_stats WHERE campaign_id IS NULL;
SELECT count(*) AS requests FROM masked_requests();

-- send_user: an OR of equalities, one request set per sender
SELECT * FROM mock('reset');
SELECT campaign_id, send_user FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND (send_user = 'usr_alice|alice@example.com' OR send_user = 'usr_bob|bob@example.com')
 ORDER BY 2;
SELECT * FROM masked_requests();

--
-- Dates: IN lists and ORs of equalities fan out, one request set per
-- start/end pair; a cast of the column to date or timestamp is sent as the
-- bound it means in the session's time zone (and tested as written)
--
EXPLAIN (COSTS OFF)
SELECT campaign_id, start_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date IN ('2025-01-01', '2025-02-01')
   AND end_date = '2025-03-01';
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date IN ('2025-01-01', '2025-02-01')
   AND end_date = '2025-03-01'
 ORDER BY 2;
SELECT * FROM masked_requests();
-- the same with ORs, and two end dates: four request sets
SELECT * FROM mock('reset');
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND (start_date = '2025-01-01' OR start_date = '2025-02-01')
   AND (end_date = '2025-03-01' OR end_date = '2025-04-01')
 ORDER BY 2, 3;
SELECT count(*) AS requests FROM masked_requests();
-- a value that is no whole millisecond cannot be echoed: not sent
SELECT * FROM mock('reset');
SELECT campaign_id, start_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date IN ('2025-01-01', '2025-02-01 00:00:00.0005');
SELECT * FROM masked_requests();
-- IN with a bound: the values the bound lets through
SELECT * FROM mock('reset');
SELECT start_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date IN ('2025-01-01', '2025-02-01')
   AND start_date > '2025-01-15';
SELECT count(*) AS requests FROM masked_requests();
-- casts: start_date::date >= D is the day's first millisecond, end_date::date
-- <= D its last, in the session's time zone
SELECT * FROM mock('reset');
SET timezone = 'Europe/Paris';
SELECT campaign_id, start_date, end_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date::date >= '2025-01-01'
   AND end_date::date <= '2025-01-31';
SELECT * FROM masked_requests();
SELECT * FROM mock('reset');
SELECT campaign_id, start_date FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND start_date::timestamp >= '2025-01-01 08:00'
   AND end_date::date < '2025-02-01';
SELECT * FROM masked_requests();
SET timezone = 'UTC';

-- a prepared IN list of dates, custom and generic plans
PREPARE p_d(timestamptz[]) AS
  SELECT start_date FROM lemlist.campaign_stats
   WHERE campaign_id = 'cam_00001' AND start_date = ANY($1) AND end_date = '2025-06-30'
   ORDER BY 1;
SET plan_cache_mode = force_custom_plan;
SELECT * FROM mock('reset');
EXECUTE p_d('{2025-01-01,2025-03-01}');
SELECT count(*) AS requests FROM masked_requests();
SET plan_cache_mode = force_generic_plan;
SELECT * FROM mock('reset');
EXECUTE p_d('{2025-01-01,2025-03-01,2025-05-01}');
SELECT count(*) AS requests FROM masked_requests();
RESET plan_cache_mode;
DEALLOCATE p_d;

--
-- Column types a user would reach for: date and timestamp dates (a UTC day,
-- a UTC wall time), varchar, char(n) and name for the others, and the key
-- option naming a filter's field under any column name
--
CREATE FOREIGN TABLE regress_typed_stats (
  cid text OPTIONS (key 'campaignId'),
  start_date date,
  end_date date,
  send_user varchar(200),
  ab_selected char(1),
  channel name,
  nb_leads integer
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT cid, start_date, end_date, ab_selected, channel, nb_leads FROM regress_typed_stats
 WHERE cid = 'cam_00001' AND start_date = '2025-01-01' AND end_date = '2025-01-31'
   AND ab_selected = 'A' AND channel IN ('email', 'linkedin')
 ORDER BY channel;
SELECT * FROM masked_requests();
SELECT * FROM mock('reset');
SELECT cid, start_date, end_date, send_user FROM regress_typed_stats
 WHERE cid IN ('cam_00001', 'cam_00002') AND start_date >= '2025-01-01' AND end_date < '2025-02-01'
   AND send_user = 'usr_alice|alice@example.com'
 ORDER BY cid;
SELECT * FROM masked_requests();
-- char(1) with a blank-padded comparand, and ab_selected <> 'B' on char(1)
SELECT * FROM mock('reset');
SELECT DISTINCT ab_selected FROM regress_typed_stats
 WHERE cid = 'cam_00001' AND start_date = '2025-01-01' AND ab_selected IN ('A ', 'B') AND ab_selected <> 'B';
SELECT count(*) AS requests FROM masked_requests();
DROP FOREIGN TABLE regress_typed_stats;

CREATE FOREIGN TABLE regress_ts_stats (
  campaign_id text OPTIONS (key 'campaignId'),
  from_ts timestamp OPTIONS (key 'startDate'),
  to_ts timestamp OPTIONS (key 'endDate'),
  variant text OPTIONS (key 'ABSelected'),
  nb_leads integer
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT * FROM mock('reset');
SELECT campaign_id, from_ts, to_ts, variant FROM regress_ts_stats
 WHERE campaign_id = 'cam_00001' AND from_ts = '2025-01-01 06:00' AND to_ts <= '2025-01-31 18:00'
   AND variant IN ('B');
SELECT * FROM masked_requests();
DROP FOREIGN TABLE regress_ts_stats;

-- conditions that cannot be sent are an ERROR naming the column
SELECT * FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001' AND start_date < '2025-01-01';
SELECT * FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001' AND start_date::date = end_date::date;
SELECT * FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001' AND (start_date >= '2025-01-01' OR start_date IS NULL);
SELECT * FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001' AND send_user <> 'usr_1|a@b.c';
SELECT * FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001' AND (channel = 'email' OR nb_leads > 3);
SELECT * FROM lemlist.campaign_stats WHERE campaign_id = 'cam_00001' AND send_user LIKE 'usr_1|%';
-- (the ERROR comes before any request)
SELECT count(*) AS requests FROM masked_requests();
