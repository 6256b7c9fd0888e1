/* lemlist_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION lemlist_fdw" to load this file. \quit

CREATE FUNCTION lemlist_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION lemlist_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER lemlist_fdw
  HANDLER lemlist_fdw_handler
  VALIDATOR lemlist_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER lemlist_fdw
  IS 'lemlist campaign statistics as foreign tables';
