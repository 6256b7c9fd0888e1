#!/usr/bin/env bash
# test/run.sh: THE test command of lemlist_fdw
#
# Installs missing dependencies, builds (warnings are errors) and installs the
# extension, runs the mock's unit tests, starts the mock lemlist API and a
# throw-away cluster, and runs the pg_regress suites through PGXS
# "make installcheck", with a second mock over https (throw-away CA) and
# random API keys, the cluster logging every statement and every message down
# to DEBUG5; then the README's cookbook and recipes, a hot standby, and the
# drivers BI tools use (pgjdbc, psycopg 3, node-postgres: test/drivers); then
# searches the server log, the results and the mocks' logs for the keys.
# Ends with one line "N passed, M failed"; exits 0 only when everything
# passed.
#
#   test/run.sh                          everything
#   REGRESS="scan pushdown" test/run.sh  only these pg_regress tests
#   KEEP_TMP=1 test/run.sh               keep the cluster dir and logs
#   SKIP_PACKAGE=1 test/run.sh           no Debian package test (test/package.sh;
#                                        also skipped with REGRESS or SKIP_BUILD)
#   LEMLIST_DRIVERS=0 test/run.sh        no drivers' tests (test/drivers; also
#                                        skipped with REGRESS), nor their packages
# See test/lib.sh for PG_CONFIG, PGPORT_TEST, MOCK_PORT, SKIP_DEPS.
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    -h | --help)
        sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    "") ;;
    *) die "unexpected argument \"$1\" (try --help)" ;;
esac

cd "$LEMLIST_ROOT"
setup_workdir
install_deps

# the Debian package, built, installed and loaded with CREATE EXTENSION by
# test/package.sh (which removes it again) before the checkout's own build is
# installed; it counts as one test
package_rc=skip
if [ -z "${REGRESS:-}" ] && [ "${SKIP_BUILD:-}" != 1 ] && [ "${SKIP_PACKAGE:-}" != 1 ]; then
    say "testing the Debian package (test/package.sh)"
    package_rc=0
    SKIP_DEPS=1 PG_CONFIG="$PG_CONFIG" PGPORT_TEST="$PGPORT_TEST" \
        bash test/package.sh >"$WORKDIR/package.log" 2>&1 || package_rc=$?
fi

build_install

passed=0
failed=0

if [ "$package_rc" = 0 ]; then
    passed=$((passed + 1))
    printf 'test %-28s ... ok\n' package.sh
elif [ "$package_rc" != skip ]; then
    failed=$((failed + 1))
    printf 'test %-28s ... FAILED\n' package.sh
    tail -n 60 "$WORKDIR/package.log"
fi

# the mock's own unit tests count as one test (test/__init__.py makes
# "test.test_mock" ours rather than the standard library's "test" package)
if [ -f test/test_mock.py ]; then
    say "running the mock's unit tests (test/test_mock.py)"
    if "$LEMLIST_PYTHON" -m unittest test/test_mock.py >"$WORKDIR/test_mock.log" 2>&1; then
        passed=$((passed + 1))
        printf 'test %-28s ... ok\n' test_mock.py
    else
        failed=$((failed + 1))
        printf 'test %-28s ... FAILED\n' test_mock.py
        tail -n 100 "$WORKDIR/test_mock.log"
    fi
fi

start_mock
start_tls_mock
LOG_EVERYTHING=1
run_drivers=""
if [ -z "${REGRESS:-}" ] && [ "${LEMLIST_DRIVERS:-1}" != 0 ]; then
    run_drivers=1
    LISTEN_TCP=1				# pgjdbc connects over TCP only
fi
# a small store of shared answers, so that the suite shared fills it
PG_EXTRA_CONF="${PG_EXTRA_CONF:-}
lemlist_fdw.shared_cache_size = 2"
start_cluster

# the suites: the Makefile's, or REGRESS; a suite whose dependency this
# server lacks is skipped, by name, with the reason
skipped=0
suites=()
suite_list=${REGRESS:-$(make -s -C "$LEMLIST_ROOT" print-regress PG_CONFIG="$PG_CONFIG")}
case " $suite_list " in
    *" setup "*) ;;
    *) suite_list="setup $suite_list" ;;	# every suite needs the objects it makes
esac
for suite in $suite_list; do
    if [ "$suite" = cron ] && ! [ -f "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ]; then
        skipped=$((skipped + 1))
        printf 'test %-28s ... skipped: %s\n' cron \
            "pg_cron is not installed for PostgreSQL $PG_MAJOR (install-deps.sh installs postgresql-$PG_MAJOR-cron where the Debian suite has it)"
        continue
    fi
    suites+=("$suite")
done

say "running pg_regress: make installcheck REGRESS=\"${suites[*]}\""
rm -f results/regression.diffs results/regression.out regression.diffs regression.out
make_args=(PG_CONFIG="$PG_CONFIG" PGHOST="$WORKDIR" PGPORT="$PGPORT_TEST" PGUSER=postgres
    REGRESS="${suites[*]}")
rc=0
make -s -C "$LEMLIST_ROOT" installcheck "${make_args[@]}" 2>&1 \
    | tee "$WORKDIR/installcheck.log" || rc=$?

# count pg_regress's per-test lines: up to 15 "test x ... ok" and
# "     x ... FAILED"; from 16 on (TAP) "ok 1 - x" and "not ok 2 - x"
ok=$(grep -cE '^((test |     )[^ ]+ +\.\.\. ok( |$)|ok [0-9]+ +[-+] )' "$WORKDIR/installcheck.log" || true)
bad=$(grep -cE '^((test |     )[^ ]+ +\.\.\. FAILED( |$)|not ok [0-9]+ +[-+] )' "$WORKDIR/installcheck.log" || true)
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
    bad=1						# pg_regress itself failed (connection, missing file)
fi
if [ "$rc" -eq 0 ] && [ "$ok" -ne "${#suites[@]}" ]; then
    printf 'pg_regress ran %d suites, %d expected: its output was not understood\n' "$ok" "${#suites[@]}"
    bad=$((bad + 1))
fi
passed=$((passed + ok))
failed=$((failed + bad))

# the README's cookbook, run verbatim against the mock, must print what the
# README shows
say "running the README cookbook (test/cookbook.py)"
if PGHOST="$WORKDIR" PGPORT="$PGPORT_TEST" PGUSER=postgres LEMLIST_MOCK_URL="$LEMLIST_MOCK_URL" \
    "$LEMLIST_PYTHON" test/cookbook.py README.md; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# a hot standby of the cluster answers lemlist queries and shares answers
# between its sessions without writing anything (test/standby.sh)
if [ -z "${REGRESS:-}" ]; then
    say "a hot standby of the cluster (test/standby.sh)"
    # shellcheck source=test/standby.sh
    . test/standby.sh
    if standby_check; then
        passed=$((passed + 1))
        printf 'test %-28s ... ok\n' standby.sh
    else
        failed=$((failed + 1))
        printf 'test %-28s ... FAILED\n' standby.sh
    fi
fi

# pgjdbc, psycopg 3 and node-postgres, as BI tools use them
# (test/drivers/drivers.sh)
if [ -n "$run_drivers" ]; then
    say "the drivers BI tools use (test/drivers/drivers.sh)"
    # shellcheck source=test/drivers/drivers.sh
    . test/drivers/drivers.sh
    drivers_check
elif [ -z "${REGRESS:-}" ]; then
    skipped=$((skipped + 1))
    printf 'test %-28s ... skipped: %s\n' drivers \
        "LEMLIST_DRIVERS=0, as test/matrix.sh sets it: the drivers' tests run with the test command on the host"
fi

# the README's recipes are the files that the suites examples, matview and
# cron run, with the output they expect
say "checking the README's recipes (test/recipes.py)"
if "$LEMLIST_PYTHON" test/recipes.py README.md; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

if [ "$rc" -ne 0 ]; then
    for diffs in results/regression.diffs regression.diffs; do
        if [ -s "$diffs" ]; then
            printf -- '----- %s (first 300 lines) -----\n' "$diffs"
            head -n 300 "$diffs"
            printf -- '----- end of %s -----\n' "$diffs"
            break
        fi
    done
    show_logs
fi

# No API key of the suites anywhere: not in the server log (every statement,
# every message down to DEBUG5), nor in pg_regress's output, nor in the mocks'
# logs.  The search has teeth only if the log did record statements and
# DEBUG messages and the mock did accept the keys: checked too (the last one
# only for the whole suite).
say "searching the server log, the test output and the mock logs for the API keys"
key_files=("$WORKDIR/postgres.log" "$WORKDIR/mock.log" "$WORKDIR/mock-tls.log"
    "$WORKDIR/installcheck.log" results/*.out results/regression.diffs regression.diffs)
secrets_ok=1
check_no_keys "${key_files[@]}" || secrets_ok=""
for evidence in "LOG:  statement: " "DEBUG:  "; do
    if ! grep -qF -- "$evidence" "$WORKDIR/postgres.log"; then
        printf 'the server log has no "%s" line: nothing was searched\n' "$evidence"
        secrets_ok=""
    fi
done
if [ -z "${REGRESS:-}" ] && ! grep -qF "auth=ok" "$WORKDIR/mock.log"; then
    printf 'the mock accepted no key: nothing was searched for\n'
    secrets_ok=""
fi
if [ -n "$secrets_ok" ]; then
    passed=$((passed + 1))
    printf 'test %-28s ... ok\n' "no API key in logs/output"
else
    failed=$((failed + 1))
    printf 'test %-28s ... FAILED\n' "no API key in logs/output"
fi

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
