/* lemlist_fdw--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION lemlist_fdw UPDATE TO '1.2'" to load this file. \quit

-- Where answers of lemlist are kept (scope 'cluster': shared by every
-- backend, in memory from shared_preload_libraries or the DSM registry;
-- 'backend': each backend's own) and what the store holds and did.  For
-- superusers and roles with the privileges of pg_read_all_stats.
CREATE FUNCTION lemlist_fdw_cache(
    OUT scope text,
    OUT memory_from text,
    OUT size_bytes bigint,
    OUT entries bigint,
    OUT bytes bigint,
    OUT in_flight bigint,
    OUT hits bigint,
    OUT misses bigint,
    OUT shared_waits bigint,
    OUT evictions bigint,
    OUT not_kept bigint,
    OUT note text)
RETURNS record
AS 'MODULE_PATHNAME', 'lemlist_fdw_cache'
LANGUAGE C STRICT VOLATILE;

REVOKE ALL ON FUNCTION lemlist_fdw_cache() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lemlist_fdw_cache() TO pg_read_all_stats;

-- Drop the cached answers of a server (those its queries could be served).
-- For the server's owner and superusers (checked by the function itself).
CREATE FUNCTION lemlist_fdw_cache_drop(server text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'lemlist_fdw_cache_drop'
LANGUAGE C STRICT VOLATILE;
