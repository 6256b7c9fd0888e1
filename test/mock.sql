-- test/mock.sql: the suites' mock() function, made in each database a suite
-- uses (\i test/mock.sql); the server's environment names the program
-- mock(cmd): run test/mockctl.py with cmd, one row per line it prints
CREATE TABLE mock_output (n serial, line text);
CREATE FUNCTION mock(cmd text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM mock_output;
  EXECUTE format('COPY mock_output (line) FROM PROGRAM %L WITH (FORMAT csv, DELIMITER %L, QUOTE %L)',
                 '"$LEMLIST_PYTHON" "$LEMLIST_MOCKCTL" ' || cmd, E'\x02', E'\x01');
  RETURN QUERY SELECT line FROM mock_output ORDER BY n;
END
$$;
