-- examples/09_agency.sql: an agency's client teams in one table
--
-- lemlist keeps one team per client, each with its own API key and so its
-- own rate limit.  One server per team, and a table partitioned by team
-- over the teams' foreign tables: every row says its team (lemlist does not
-- return it: each partition fills in its own value), WHERE team = '...'
-- reads that team alone, and on PostgreSQL 14 and later the teams' scans run
-- at once, each paced by its own key.  A CRM table carrying (team,
-- campaign_id) joins with it, each team asked for its own deals only.
--
-- Give it each team's key (and lemlist's URL if not the real one):
--   psql -v acme_key=... -v globex_key=... -f examples/09_agency.sql
-- Without them it takes the bundled mock's keys, and server lemlist's URL.

\if :{?acme_key}
\else
\set acme_key 'test-key-alpha'
\endif
\if :{?globex_key}
\else
\set globex_key 'test-key-beta'
\endif
\if :{?api_url}
\else
SELECT coalesce((SELECT option_value
                   FROM pg_foreign_server AS s, pg_options_to_table(s.srvoptions)
                  WHERE s.srvname = 'lemlist' AND option_name = 'api_url'),
                'https://api.lemlist.com/api') AS api_url \gset
\endif

CREATE SERVER team_acme FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url :'api_url');
CREATE SERVER team_globex FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url :'api_url');
SET log_statement = 'none';		-- the keys stay out of the server log
CREATE USER MAPPING FOR CURRENT_USER SERVER team_acme OPTIONS (api_key :'acme_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER team_globex OPTIONS (api_key :'globex_key');
RESET log_statement;

CREATE SCHEMA agency;
CREATE TABLE agency.campaign_stats (
    team           text NOT NULL,
    campaign_id    text,
    start_date     timestamptz,
    end_date       timestamptz,
    messages_sent  bigint,
    replied        bigint,
    meeting_booked bigint
) PARTITION BY LIST (team);
CREATE FOREIGN TABLE agency.campaign_stats_acme PARTITION OF agency.campaign_stats
  FOR VALUES IN ('acme') SERVER team_acme OPTIONS (resource 'campaign_stats');
CREATE FOREIGN TABLE agency.campaign_stats_globex PARTITION OF agency.campaign_stats
  FOR VALUES IN ('globex') SERVER team_globex OPTIONS (resource 'campaign_stats');

-- the first half of 2025, team by team, in one query
SELECT team, count(*) AS campaigns, sum(messages_sent) AS messages_sent,
       sum(replied) AS replied, sum(meeting_booked) AS meetings
  FROM agency.campaign_stats
 WHERE start_date >= '2025-01-01' AND end_date <= '2025-06-30'
 GROUP BY team
 ORDER BY team;

-- the agency's CRM: each deal carries its client's team and the lemlist
-- campaign that prospects it (put your own IDs here).  Joined on both, each
-- team is asked for its own deals' campaigns only, the teams at once, and
-- none is listed.
CREATE TABLE agency.deals (deal text, team text, campaign_id text);
INSERT INTO agency.deals VALUES
    ('Acme - platform rollout', 'acme',   'cam_00010'),
    ('Acme - support upsell',   'acme',   'cam_00068'),
    ('Globex - plant pilot',    'globex', 'cam_00037');
SELECT d.team, d.deal, s.replied, s.meeting_booked
  FROM agency.deals d
  JOIN agency.campaign_stats s ON s.team = d.team AND s.campaign_id = d.campaign_id
 WHERE s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30'
 ORDER BY d.team, d.deal;
