#!/usr/bin/env bash
# test/demo.sh: THE demo command of lemlist_fdw
#
# Builds and installs the extension, starts a throw-away cluster (with
# pg_cron), sets up the foreign server, user mapping and imported schema, and
# runs test/demo.sql: the analysts' examples of examples/ (a CRM joined with
# lemlist, A/B, channels, funnel, month over month, a materialized view
# refreshed by pg_cron), each with its result.
#
#   test/demo.sh            against the mock lemlist API (key test-key-alpha)
#   LEMLIST_API_KEY=... test/demo.sh
#                           against the real API (api.lemlist.com); no mock
#   test/demo.sh --keep     leave the cluster (and mock) running afterwards
# See test/lib.sh for PG_CONFIG, PGPORT_TEST, MOCK_PORT, SKIP_DEPS, KEEP_TMP.
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=""
for arg in "$@"; do
    case "$arg" in
        --keep) keep=1 ;;
        -h | --help)
            sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unexpected argument \"$arg\" (try --help)" ;;
    esac
done

# the key travels only in the environment of the one psql that needs it: never
# in argv (ps), never echoed, not inherited by make, the mock or the postmaster
demo_key=${LEMLIST_API_KEY:-}
unset LEMLIST_API_KEY

cd "$LEMLIST_ROOT"
setup_workdir
# the demo needs none of what the drivers' tests run on (test/drivers)
LEMLIST_DRIVERS=0 install_deps
build_install

if [ -n "$demo_key" ]; then
    say "using the real lemlist API with the key from LEMLIST_API_KEY"
    server_options=""
else
    start_mock
    demo_key=test-key-alpha
    server_options=" OPTIONS (api_url '$LEMLIST_MOCK_URL/api')"
fi
server_echo=${server_options//\'/\'\'}	# doubled quotes for psql's \echo '...'
DEMO_DB=lemlist_demo
CRON_DATABASE=$DEMO_DB				# pg_cron's jobs run in the demo's database
start_cluster

PSQL=("$(pg_bin psql)" -X -v ON_ERROR_STOP=1 -P pager=off)

say "creating database $DEMO_DB"
run_quiet "$WORKDIR/createdb.log" "${PSQL[@]}" -q -d postgres -c "CREATE DATABASE $DEMO_DB" \
    || die "could not create database $DEMO_DB"

say "setting up the foreign server, user mapping and schema"
if ! LEMLIST_DEMO_KEY=$demo_key "${PSQL[@]}" -q -d "$DEMO_DB" <<EOF
\\set ECHO none
\\echo '    CREATE EXTENSION lemlist_fdw;'
CREATE EXTENSION lemlist_fdw;
\\echo '    CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw$server_echo;'
CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw$server_options;
\\echo '    CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key ''<hidden>'');'
-- the key: read from the environment, terse errors (no statement text), not logged
\\set key \`printf "%s" "\$LEMLIST_DEMO_KEY"\`
\\set VERBOSITY terse
SET log_min_error_statement = panic;
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key :'key');
RESET log_min_error_statement;
\\unset key
\\set VERBOSITY default
\\echo '    CREATE SCHEMA lemlist;'
CREATE SCHEMA lemlist;
\\echo '    IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist;'
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist;
EOF
then
    show_logs
    die "the set-up failed"
fi
unset demo_key

say "running the examples (test/demo.sql)"
rc=0
"${PSQL[@]}" -d "$DEMO_DB" -v mock="$([ -n "$MOCK_PID" ] && echo on || echo off)" \
    -f "$LEMLIST_ROOT/test/demo.sql" || rc=$?
if [ "$rc" -ne 0 ]; then
    show_logs
    die "the demo queries failed"
fi

if [ -n "$keep" ]; then
    KEEP_RUNNING=1
    echo
    say "the cluster keeps running (--keep)"
    echo "    connect: $(pg_bin psql) -h $WORKDIR -p $PGPORT_TEST -U postgres $DEMO_DB"
    echo "    stop:    $(is_root && printf 'runuser -u postgres -- ')$(pg_bin pg_ctl) -D $PGDATA_TEST -m fast stop"
    if [ -n "$MOCK_PID" ]; then
        echo "             kill $MOCK_PID    # the mock API at $LEMLIST_MOCK_URL"
    fi
    echo "             rm -rf $WORKDIR"
fi
say "demo done"
