#!/usr/bin/env bash
# test/drivers/drivers.sh: lemlist_fdw through the drivers BI tools use,
# sourced by test/run.sh
#
# drivers_check: with run.sh's cluster (listening on 127.0.0.1 too, for
# pgjdbc) and mock running, make the database lemlist_drivers (the extension,
# a server on the mock, the three tables), then run one test program per
# driver, each checking rows and requests against the same queries written
# with literals:
#
#   pgjdbc         PgjdbcTest.java    (Debian's libpostgresql-jdbc-java)
#   psycopg 3      psycopg_test.py    (Debian's python3-psycopg)
#   node-postgres  node_pg_test.js    (npm's pg, as package-lock.json pins it;
#                                      npm ci fetches it on first use)
#
# Prints one "test drivers/NAME ... ok|FAILED" line per driver (a failed
# one's output follows) and adds to run.sh's passed and failed.  Each
# program's output is in WORKDIR/drivers-NAME.log.

DRIVERS_DIR="$LEMLIST_ROOT/test/drivers"
PGJDBC_JAR=/usr/share/java/postgresql.jar

# drivers_database: the database the programs use, on the mock's default
# key (no secret) and a rate limit they never wait on
drivers_database()
{
    local psql=("$(pg_bin psql)" -X -q -v ON_ERROR_STOP=1 -h "$WORKDIR" -p "$PGPORT_TEST" -U postgres)
    as_pg "${psql[@]}" -d postgres -c "CREATE DATABASE lemlist_drivers" >/dev/null || return 1
    as_pg "${psql[@]}" -d lemlist_drivers >/dev/null <<EOF
CREATE EXTENSION lemlist_fdw;
CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', rate_limit '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key 'test-key-alpha');
CREATE SCHEMA lemlist;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist;
EOF
}

# drivers_run NAME COMMAND...: run one program in test/drivers; its result
# line
drivers_run()
{
    local name=$1 log="$WORKDIR/drivers-$1.log"
    shift
    if (cd "$DRIVERS_DIR" && env PGHOST=127.0.0.1 PGPORT="$PGPORT_TEST" PGUSER=postgres \
        PGDATABASE=lemlist_drivers LEMLIST_MOCK_URL="$LEMLIST_MOCK_URL" "$@") >"$log" 2>&1 \
        && grep -qE '^# [0-9]+ checks, 0 failed$' "$log"; then
        passed=$((passed + 1))
        printf 'test %-28s ... ok (%s)\n' "drivers/$name" \
            "$(sed -nE 's/^# ([0-9]+ checks).*/\1/p' "$log")"
    else
        failed=$((failed + 1))
        printf 'test %-28s ... FAILED\n' "drivers/$name"
        grep -vE '^ok ' "$log" | head -n 80
    fi
}

drivers_check()
{
    if ! drivers_database; then
        failed=$((failed + 1))
        printf 'test %-28s ... FAILED: could not make the database lemlist_drivers\n' drivers
        return 0
    fi
    drivers_run pgjdbc java -Duser.timezone=UTC -cp "$PGJDBC_JAR" PgjdbcTest.java
    drivers_run psycopg "$LEMLIST_PYTHON" psycopg_test.py
    if ! [ -f "$DRIVERS_DIR/node_modules/pg/package.json" ]; then
        say "installing node-postgres (npm ci in test/drivers)"
        (cd "$DRIVERS_DIR" && npm ci --no-audit --no-fund) >"$WORKDIR/npm.log" 2>&1 \
            || tail -n 20 "$WORKDIR/npm.log"
    fi
    drivers_run node-postgres node node_pg_test.js
}
