--
-- upgrade: lemlist_fdw 1.0 as released, updated with ALTER EXTENSION to 1.1
-- and then to 1.2, has the objects of a fresh 1.2 install;
-- lemlist_fdw_pacing() (1.1) and lemlist_fdw_cache() (1.2) are for
-- superusers and roles with the privileges of pg_read_all_stats;
-- lemlist_fdw_cache_drop() (1.2) checks who owns the server itself
--
CREATE DATABASE regress_lemlist_upgrade;
\c regress_lemlist_upgrade
SET client_min_messages = warning;
-- the objects of the extension, and their privileges
CREATE FUNCTION upgrade_objects() RETURNS TABLE (object text, acl text)
LANGUAGE sql AS $$
  SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
         CASE WHEN d.classid = 'pg_proc'::regclass
              THEN (SELECT coalesce(proacl::text, 'default') FROM pg_proc WHERE oid = d.objid) END
    FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
   WHERE e.extname = 'lemlist_fdw' AND d.deptype = 'e'
   ORDER BY 1
$$;
SELECT name, version, installed FROM pg_available_extension_versions
 WHERE name = 'lemlist_fdw' ORDER BY version;
CREATE EXTENSION lemlist_fdw VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'lemlist_fdw';
SELECT * FROM upgrade_objects();
ALTER EXTENSION lemlist_fdw UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'lemlist_fdw';
SELECT * FROM upgrade_objects();
ALTER EXTENSION lemlist_fdw UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'lemlist_fdw';
CREATE TABLE upgrade_updated AS SELECT * FROM upgrade_objects();
SELECT * FROM upgrade_updated;
-- a fresh install of 1.2: the same objects, the same privileges
DROP EXTENSION lemlist_fdw;
CREATE EXTENSION lemlist_fdw;
SELECT extversion FROM pg_extension WHERE extname = 'lemlist_fdw';
SELECT (SELECT count(*) FROM upgrade_objects()) AS objects,
       NOT EXISTS (SELECT * FROM upgrade_objects() EXCEPT SELECT * FROM upgrade_updated)
       AND NOT EXISTS (SELECT * FROM upgrade_updated EXCEPT SELECT * FROM upgrade_objects())
         AS same_as_updated;

-- who may call lemlist_fdw_pacing(): not a plain role; a member of
-- pg_read_all_stats may; and what it returns
CREATE ROLE regress_lemlist_pacing;
SET ROLE regress_lemlist_pacing;
SELECT count(*) FROM lemlist_fdw_pacing();
RESET ROLE;
GRANT pg_read_all_stats TO regress_lemlist_pacing;
SET ROLE regress_lemlist_pacing;
SELECT count(*) >= 0 AS readable FROM lemlist_fdw_pacing();
RESET ROLE;
-- EXECUTE granted to the role itself is not enough either: lemlist_fdw
-- checks the privileges of pg_read_all_stats too
REVOKE pg_read_all_stats FROM regress_lemlist_pacing;
GRANT EXECUTE ON FUNCTION lemlist_fdw_pacing() TO regress_lemlist_pacing;
SET ROLE regress_lemlist_pacing;
SELECT count(*) FROM lemlist_fdw_pacing();
RESET ROLE;
SELECT pg_get_function_arguments('lemlist_fdw_pacing()'::regprocedure);
-- lemlist_fdw_cache(): the same rule
SET ROLE regress_lemlist_pacing;
SELECT count(*) FROM lemlist_fdw_cache();
RESET ROLE;
GRANT pg_read_all_stats TO regress_lemlist_pacing;
SET ROLE regress_lemlist_pacing;
SELECT count(*) AS readable FROM lemlist_fdw_cache();
RESET ROLE;
REVOKE pg_read_all_stats FROM regress_lemlist_pacing;
SELECT pg_get_function_arguments('lemlist_fdw_cache()'::regprocedure);
SELECT pg_get_function_arguments('lemlist_fdw_cache_drop(text)'::regprocedure);
DROP EXTENSION lemlist_fdw;

\c contrib_regression
DROP DATABASE regress_lemlist_upgrade;
DROP ROLE regress_lemlist_pacing;
