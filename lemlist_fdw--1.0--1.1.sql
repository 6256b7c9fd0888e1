/* lemlist_fdw--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION lemlist_fdw UPDATE TO '1.1'" to load this file. \quit

-- How each API key is paced: one row per key (by the first 12 hex digits of
-- its hash, never the key), those of the shared table when lemlist_fdw is
-- in shared_preload_libraries, then this backend's own.  For superusers and
-- roles with the privileges of pg_read_all_stats.
CREATE FUNCTION lemlist_fdw_pacing(
    OUT key_hash text,
    OUT shared boolean,
    OUT requests_in_window integer,
    OUT window_ms integer,
    OUT rate_limit integer,
    OUT limit_from_lemlist integer,
    OUT rate_limited bigint,
    OUT waited_ms double precision,
    OUT last_used timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'lemlist_fdw_pacing'
LANGUAGE C STRICT VOLATILE;

REVOKE ALL ON FUNCTION lemlist_fdw_pacing() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lemlist_fdw_pacing() TO pg_read_all_stats;
