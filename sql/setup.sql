--
-- setup: the extension, a server on the bundled mock lemlist API, and a
-- helper that drives the mock (reset it, inject faults, read the requests it
-- received) through its control CLI.  Later suites share these objects.
--
\set mock_url `printf "%s" "$LEMLIST_MOCK_URL"`
\set api_url :mock_url '/api'
-- API keys: from the environment (test/run.sh makes them at random and
-- searches every log and result for them at the end); statements that
-- carry one are kept out of the server log
\set key_alpha `printf "%s" "$LEMLIST_TEST_KEY_ALPHA"`

CREATE EXTENSION lemlist_fdw;
-- (what psql's \dx shows, whose columns differ between majors)
SELECT e.extname AS "Name", e.extversion AS "Version", n.nspname AS "Schema",
       obj_description(e.oid, 'pg_extension') AS "Description"
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'lemlist_fdw';

CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url :'api_url', max_retries '2');
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist
  OPTIONS (api_key :'key_alpha');
RESET log_statement;
CREATE SCHEMA lemlist;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist;

\i test/mock.sql

-- the requests the mock received since the last reset
CREATE VIEW mock_requests AS SELECT line FROM mock('requests') AS line;

-- Without an end_date clause the endDate sent is the statement's start
-- time.  mask_now(t) shows it as <statement start> (only a date within the
-- last minute is masked; dates given by a query never are).
CREATE FUNCTION mask_now(t text) RETURNS text
LANGUAGE sql AS $$
  SELECT CASE WHEN m[1]::timestamptz BETWEEN clock_timestamp() - interval '1 minute'
                                         AND clock_timestamp() + interval '1 millisecond'
              THEN replace(t, m[1], '<statement start>') ELSE t END
  FROM regexp_match(t, 'endDate(?:": ?"|=)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)') AS m
$$;
-- the requests in a stable order (a request set's requests run in
-- parallel), and the lines of EXPLAIN (opts) q, through mask_now
-- differences(a, b): rows of query a not in query b and of b not in a,
-- duplicates counted: 0 when both give the same rows
CREATE FUNCTION differences(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM (%s) x EXCEPT ALL SELECT * FROM (%s) y)
                  UNION ALL (SELECT * FROM (%s) y EXCEPT ALL SELECT * FROM (%s) x)) d',
                 a, b, b, a) INTO n;
  RETURN n;
END $$;
CREATE FUNCTION masked_requests() RETURNS SETOF text
LANGUAGE sql AS $$ SELECT mask_now(line) FROM mock_requests ORDER BY 1 $$;
-- (PostgreSQL's own display, where it differs between majors, is shown one
-- way: an InitPlan's output as 16 and later show it, "(InitPlan 1).col1",
-- where 13 to 15 show "$0" and "InitPlan 1 (returns $0)", and 19
-- "(InitPlan array_1).col1"; the rows of EXPLAIN ANALYZE as whole numbers,
-- as before 18)
CREATE FUNCTION masked_explain(q text, opts text DEFAULT 'VERBOSE, COSTS OFF')
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  lines text[] := '{}';
  params text[] := '{}';
  names text[] := '{}';
  ln text;
  m text[];
  p text;
  n int;
BEGIN
  FOR ln IN EXECUTE 'EXPLAIN (' || opts || ') ' || q LOOP
    m := regexp_match(ln, 'InitPlan (\d+) \(returns ([^)]*)\)');
    IF m IS NOT NULL THEN
      n := 0;
      FOREACH p IN ARRAY string_to_array(m[2], ',') LOOP
        n := n + 1;
        params := params || p;
        names := names || format('(InitPlan %s).col%s', m[1], n);
      END LOOP;
      ln := regexp_replace(ln, ' \(returns [^)]*\)', '');
    END IF;
    lines := lines || ln;
  END LOOP;
  FOREACH ln IN ARRAY lines LOOP
    FOR n IN 1 .. cardinality(params) LOOP
      ln := regexp_replace(ln, '\' || params[n] || '(?!\d)', names[n], 'g');
    END LOOP;
    -- 18 shows rows of EXPLAIN ANALYZE with two decimals; 19 names
    -- InitPlans and SubPlans ("InitPlan array_1")
    ln := regexp_replace(ln, '(actual( time=[^ ]+)? rows=\d+)\.00 ', '\1 ', 'g');
    ln := regexp_replace(ln, '((Init|Sub)Plan) [a-z][a-z_]*_(\d+)', '\1 \3', 'g');
    RETURN NEXT mask_now(ln);
  END LOOP;
END
$$;
-- the JSON body of each logged request (NULL for a GET)
CREATE VIEW mock_bodies AS
  SELECT substring(line from '\{.*$')::jsonb AS b FROM mock_requests;

SELECT * FROM mock('reset');
SELECT * FROM mock('health');
