--
-- examples: the analysts' queries of examples/ (the README's "Recipes"),
-- run verbatim against the mock, with the number of requests each sends
--
SELECT * FROM mock('reset');

\i examples/00_crm.sql

\i examples/01_rates_per_account.sql
-- one batch for the 12 campaigns of 13 deals
SELECT * FROM mock('requests --route stats --count');
SELECT * FROM mock('reset');

\i examples/02_ab_test.sql
-- one batch for the steps, then one per variant
SELECT * FROM mock('requests --route stats --count');
SELECT * FROM mock('reset');

\i examples/03_channels.sql
-- one batch per channel
SELECT * FROM mock('requests --route stats --count');
SELECT * FROM mock('reset');

\i examples/04_step_funnel.sql
-- the deal's campaign, looked up before the scan
SELECT regexp_replace(line, '"endDate":"[^"]*"', '"endDate":(statement start)') AS request
  FROM mock_requests;
SELECT * FROM mock('reset');

\i examples/05_month_over_month.sql
-- one batch per month, with that month's dates
SELECT regexp_replace(line, '"campaignIds":\[[^]]*\],', '') AS request
  FROM mock_requests ORDER BY 1;
SELECT * FROM mock('reset');

\i examples/09_agency.sql
-- each team lists its campaigns and sends its batches, with its own key
SELECT method, route, status, count(*) AS requests
  FROM (SELECT split_part(line, ' ', 1) AS method,
               split_part(split_part(line, ' ', 2), '?', 1) AS route,
               split_part(line, ' ', 3) AS status
          FROM mock_requests) AS r
 GROUP BY 1, 2, 3 ORDER BY 1;
SELECT * FROM mock('reset');
DROP SCHEMA agency CASCADE;
DROP SERVER team_acme CASCADE;
DROP SERVER team_globex CASCADE;

DROP SCHEMA crm CASCADE;
