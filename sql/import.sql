--
-- import: IMPORT FOREIGN SCHEMA (LIMIT TO, EXCEPT, full import, errors) and
-- hand-written foreign tables (subsets, other types, the "key" option,
-- undocumented fields, the "raw" column, conversion errors).
--
SELECT * FROM mock('reset');

-- LIMIT TO imports only the listed table; nothing is sent to lemlist
CREATE SCHEMA import_limit;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaigns)
  FROM SERVER lemlist INTO import_limit;
SELECT c.relname, ft.ftoptions
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relnamespace = 'import_limit'::regnamespace ORDER BY 1;
\d import_limit.campaigns
SELECT * FROM mock_requests;

-- EXCEPT imports every table but the listed one
CREATE SCHEMA import_except;
IMPORT FOREIGN SCHEMA lemlist EXCEPT (campaigns)
  FROM SERVER lemlist INTO import_except;
SELECT c.relname, ft.ftoptions
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relnamespace = 'import_except'::regnamespace ORDER BY 1;

-- LIMIT TO a name lemlist does not have imports nothing, silently
CREATE SCHEMA import_none;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (no_such_table)
  FROM SERVER lemlist INTO import_none;
SELECT count(*) FROM pg_class WHERE relnamespace = 'import_none'::regnamespace;

-- the full import: three tables, columns and types as the contract lists
CREATE SCHEMA import_all;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO import_all;
\d import_all.campaign_stats
\d import_all.campaign_step_stats
\d import_all.campaigns
-- the imported tables work
SELECT campaign_id, nb_leads FROM import_all.campaign_stats
 WHERE campaign_id = 'cam_00001';

-- the commands IMPORT generates quote the server's name
CREATE SERVER "Lemlist Two" FOREIGN DATA WRAPPER lemlist_fdw;
CREATE SCHEMA "Import Quoted";
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats)
  FROM SERVER "Lemlist Two" INTO "Import Quoted";
SELECT c.relname, s.srvname, ft.ftoptions
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  JOIN pg_foreign_server s ON s.oid = ft.ftserver
 WHERE c.relnamespace = '"Import Quoted"'::regnamespace ORDER BY 1;
DROP SCHEMA "Import Quoted" CASCADE;
DROP SERVER "Lemlist Two";

-- a second import into the same schema: the tables exist already
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaigns)
  FROM SERVER lemlist INTO import_all;

-- a remote schema that does not exist
\set VERBOSITY default
IMPORT FOREIGN SCHEMA public FROM SERVER lemlist INTO import_none;
\echo :LAST_ERROR_SQLSTATE
-- remote schema names are case sensitive, like any quoted identifier
IMPORT FOREIGN SCHEMA "Lemlist" FROM SERVER lemlist INTO import_none;
\echo :LAST_ERROR_SQLSTATE
-- IMPORT FOREIGN SCHEMA takes no options
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO import_none
  OPTIONS (import_default 'true');
\echo :LAST_ERROR_SQLSTATE
-- into a local schema that does not exist
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO no_such_schema;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
SELECT count(*) FROM pg_class WHERE relnamespace = 'import_none'::regnamespace;


--
-- Hand-written foreign tables
--
CREATE SCHEMA hand;
SET search_path = hand, public;

-- a subset of the columns in another order, counters as bigint, numeric and
-- text, the "key" option giving another name to a JSON field, and columns
-- the contract does not list, read by the camelCase of their names
CREATE FOREIGN TABLE stats_subset (
  replied text,
  nb_leads_reached numeric,
  leads integer OPTIONS (key 'nbLeads'),
  campaign_id text,
  messages_sent bigint,
  end_date timestamptz,
  meeting_booked bigint,
  nb_leads_launched numeric(10,2),
  steps jsonb,
  no_such_field text
) SERVER lemlist OPTIONS (resource 'campaign_stats');
\d stats_subset
SELECT * FROM mock('reset');
SELECT campaign_id, leads, nb_leads_launched, nb_leads_reached, messages_sent,
       meeting_booked, replied, pg_typeof(replied) AS replied_type,
       jsonb_array_length(steps) AS nsteps, steps->0->>'taskType' AS first_task,
       no_such_field
  FROM stats_subset
 WHERE campaign_id IN ('cam_00001', 'cam_00002', 'cam_00003')
   AND end_date <= '2025-12-31T23:59:59.999Z'
 ORDER BY campaign_id;
-- the filters are still pushed down: one request with the three IDs
SELECT * FROM mock_requests;

-- the "key" option on a column the contract knows; the other columns keep
-- their documented keys
CREATE FOREIGN TABLE stats_renamed (
  id text OPTIONS (key 'campaignId'),
  campaign_id text,
  launched integer OPTIONS (key 'nbLeadsLaunched'),
  nb_leads integer OPTIONS (key 'nbLeadsReached')
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT id, campaign_id, launched, nb_leads AS reached_under_another_name
  FROM stats_renamed WHERE campaign_id = 'cam_00002';

-- integer against bigint for the same huge counter: the integer column is an
-- ERROR naming the column and the value, the bigint column takes it
\set VERBOSITY default
SELECT * FROM mock('fault mutate op=counter_huge route=stats');
SELECT campaign_id, nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001';
SELECT * FROM mock('fault mutate op=counter_huge route=stats');
CREATE FOREIGN TABLE stats_big (
  campaign_id text,
  nb_leads bigint
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT campaign_id, nb_leads FROM stats_big WHERE campaign_id = 'cam_00001';
\set VERBOSITY terse

-- campaign_step_stats: a subset, step counters as bigint and text, and an
-- undocumented step field (absent: NULL)
CREATE FOREIGN TABLE steps_subset (
  task_type text,
  step_index bigint,
  campaign_id text,
  sent text,
  position integer OPTIONS (key 'sequenceStep'),
  ab_test text,
  some_step_field text
) SERVER lemlist OPTIONS (resource 'campaign_step_stats');
SELECT campaign_id, step_index, position, task_type, ab_test, sent, some_step_field
  FROM steps_subset WHERE campaign_id = 'cam_00001' ORDER BY step_index;

-- campaigns: a subset, has_error as text, created_at as timestamp and date,
-- the undocumented field "archived" read by camelCase, _id under another name
CREATE FOREIGN TABLE campaigns_subset (
  archived boolean,
  id text OPTIONS (key '_id'),
  has_error text,
  created_at timestamp,
  created_on date OPTIONS (key 'createdAt'),
  team_id text
) SERVER lemlist OPTIONS (resource 'campaigns');
SET timezone = 'UTC';
SELECT id, archived, has_error, created_at, created_on, team_id
  FROM campaigns_subset WHERE id IN ('cam_00001', 'cam_00002', 'cam_00013')
 ORDER BY id;

-- labels as jsonb: the JSON array, whether the column is called labels or
-- reads "labels" through the key option
CREATE FOREIGN TABLE campaigns_labels (
  campaign_id text,
  labels jsonb,
  tags jsonb OPTIONS (key 'labels')
) SERVER lemlist OPTIONS (resource 'campaigns');
SELECT campaign_id, labels, tags FROM campaigns_labels
 WHERE campaign_id IN ('cam_00001', 'cam_00002') ORDER BY campaign_id;

-- "raw": a jsonb or json column named raw receives the whole JSON object:
-- the result object of campaign_stats ...
CREATE FOREIGN TABLE stats_raw (
  campaign_id text,
  raw jsonb
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT campaign_id, jsonb_typeof(raw), raw->>'campaignId' AS raw_id,
       raw->'nbLeads' AS nb_leads, jsonb_array_length(raw->'steps') AS nsteps,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(raw) k) AS keys
  FROM stats_raw WHERE campaign_id IN ('cam_00001', 'cam_00003') ORDER BY 1;
CREATE FOREIGN TABLE stats_raw_json (
  raw json,
  campaign_id text
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT campaign_id, json_typeof(raw), raw->>'campaignId' AS raw_id,
       raw->'messagesSent' AS messages_sent, json_array_length(raw->'steps') AS nsteps
  FROM stats_raw_json WHERE campaign_id = 'cam_00003';

-- ... the step object of campaign_step_stats ...
CREATE FOREIGN TABLE steps_raw (
  campaign_id text,
  step_index integer,
  raw json
) SERVER lemlist OPTIONS (resource 'campaign_step_stats');
SELECT campaign_id, step_index, raw FROM steps_raw
 WHERE campaign_id = 'cam_00003' ORDER BY step_index;
CREATE FOREIGN TABLE steps_raw_jsonb (
  raw jsonb,
  campaign_id text
) SERVER lemlist OPTIONS (resource 'campaign_step_stats');
SELECT raw FROM steps_raw_jsonb WHERE campaign_id = 'cam_00002'
 ORDER BY raw->'index';

-- ... and the campaign object of campaigns
CREATE FOREIGN TABLE campaigns_raw (
  campaign_id text,
  raw jsonb
) SERVER lemlist OPTIONS (resource 'campaigns');
SELECT raw FROM campaigns_raw WHERE campaign_id = 'cam_00002';
CREATE FOREIGN TABLE campaigns_raw_json (
  raw json,
  name text
) SERVER lemlist OPTIONS (resource 'campaigns');
SELECT raw FROM campaigns_raw_json WHERE name = 'Campaign 00003 - Partner Outreach';

-- a column named raw of another type is an ordinary field (absent: NULL)
CREATE FOREIGN TABLE campaigns_raw_text (
  campaign_id text,
  raw text
) SERVER lemlist OPTIONS (resource 'campaigns');
SELECT campaign_id, raw FROM campaigns_raw_text WHERE campaign_id = 'cam_00001';

-- a value the column's type cannot take: an ERROR naming the column and the
-- value
\set VERBOSITY default
CREATE FOREIGN TABLE steps_bad (
  campaign_id text,
  task_type integer
) SERVER lemlist OPTIONS (resource 'campaign_step_stats');
SELECT * FROM steps_bad WHERE campaign_id = 'cam_00001';
CREATE FOREIGN TABLE campaigns_bad (
  campaign_id text,
  name varchar(10),
  has_error integer
) SERVER lemlist OPTIONS (resource 'campaigns');
SELECT campaign_id, has_error FROM campaigns_bad WHERE campaign_id = 'cam_00001';
SELECT campaign_id, name FROM campaigns_bad WHERE campaign_id = 'cam_00001';
CREATE FOREIGN TABLE stats_bad (
  campaign_id text,
  opened boolean
) SERVER lemlist OPTIONS (resource 'campaign_stats');
SELECT campaign_id, opened FROM stats_bad WHERE campaign_id = 'cam_00001';
\set VERBOSITY terse

RESET search_path;
RESET timezone;
DROP SCHEMA hand CASCADE;
DROP SCHEMA import_limit, import_except, import_none, import_all CASCADE;
