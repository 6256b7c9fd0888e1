#!/usr/bin/env bash
# test/memory.sh: 10,000 scans in one session, and the backend's memory stays flat
#
# Builds and installs the extension like test/run.sh, starts the mock, a
# second mock whose every stats answer is broken (a counter sent as a
# string), and a throw-away cluster, then runs SCANS foreign scans in one
# psql session, round robin:
#   stats      campaign_stats for two campaigns
#   steps      campaign_step_stats, through a prepared statement (= ANY($1))
#   campaigns  the team's campaign list (three pages)
#   notices    campaigns lemlist answers with errors[] (two NOTICEs)
#   rejected   a request lemlist rejects (HTTP 400), caught in a plpgsql
#              EXCEPTION block
#   invalid    an answer that is not the documented JSON, caught the same way
#   cached     a table with cache_ttl, over 50 campaigns and 25 end dates in
#              turn (answers kept across statements in the cluster's store of
#              shared answers, 1 MB here, which fills and evicts)
#   join       campaign_stats joined to campaign_step_stats (the memo shares
#              the batches of one statement)
# It measures the backend after WARMUP scans and after SCANS scans: private
# resident memory (RssAnon of /proc/PID/status, where malloc'd memory such as
# curl's and jansson's shows), the total of pg_backend_memory_contexts (what
# palloc holds) and the number of open file descriptors, prints them, and
# fails if any grew by more than its bound; and the store of shared answers
# (lemlist_fdw_cache()): its size unchanged, what it holds within it, nothing
# left in flight.
#
#   test/memory.sh                      10,000 scans, measured at 1,000 and 10,000
#   SCANS=20000 WARMUP=2000 test/memory.sh
#   BOUND_RSS_KB=256 BOUND_CONTEXTS_KB=64 BOUND_FDS=0   the bounds (defaults)
# See test/lib.sh for PG_CONFIG, PGPORT_TEST, MOCK_PORT, SKIP_DEPS, SKIP_BUILD.
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    -h | --help)
        sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    "") ;;
    *) die "unexpected argument \"$1\" (try --help)" ;;
esac

SCANS=${SCANS:-10000}
WARMUP=${WARMUP:-1000}
BOUND_RSS_KB=${BOUND_RSS_KB:-256}
BOUND_CONTEXTS_KB=${BOUND_CONTEXTS_KB:-64}
BOUND_FDS=${BOUND_FDS:-0}
[ "$WARMUP" -ge 1 ] && [ "$SCANS" -gt "$WARMUP" ] || die "need 1 <= WARMUP < SCANS"

BROKEN_MOCK_PID=""

# the EXIT trap: stop the second mock, then lib.sh's cleanup
memory_cleanup()
{
    local rc=$?
    set +e
    if [ -n "$BROKEN_MOCK_PID" ]; then
        kill "$BROKEN_MOCK_PID" 2>/dev/null
        wait "$BROKEN_MOCK_PID" 2>/dev/null
    fi
    (exit "$rc")
    cleanup
}

cd "$LEMLIST_ROOT"
setup_workdir
trap memory_cleanup EXIT
install_deps
build_install
start_mock
"$LEMLIST_PYTHON" "$LEMLIST_MOCKCTL" config rate_limit=100000000 \
    || die "could not lift the mock's rate limit"

# the second mock: every stats answer has "nbLeads": "12"
broken_port=$(first_free_port $((${LEMLIST_MOCK_URL##*:} + 200))) \
    || die "no free port for the second mock"
"$LEMLIST_PYTHON" "$LEMLIST_ROOT/test/mock_lemlist.py" --port "$broken_port" --host 127.0.0.1 \
    --rate-limit 100000000 --pidfile "$WORKDIR/broken-mock.pid" \
    </dev/null >"$WORKDIR/broken-mock.log" 2>&1 &
BROKEN_MOCK_PID=$!
BROKEN_URL="http://127.0.0.1:$broken_port"
for _ in $(seq 100); do
    [ -s "$WORKDIR/broken-mock.pid" ] && break
    sleep 0.1
done
[ -s "$WORKDIR/broken-mock.pid" ] || die "the second mock did not start"
"$LEMLIST_PYTHON" "$LEMLIST_MOCKCTL" --url "$BROKEN_URL" \
    fault mutate route=stats op=counter_string times=-1 \
    || die "could not break the second mock"

# a small store of shared answers, which the cached scans fill
PG_EXTRA_CONF="${PG_EXTRA_CONF:-}
lemlist_fdw.shared_cache_size = 1"
start_cluster

say "creating the objects"
as_pg_psql()
{
    "$(pg_bin psql)" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"
}
as_pg_psql >"$WORKDIR/setup.log" 2>&1 <<EOF || { cat "$WORKDIR/setup.log"; die "setup failed"; }
CREATE EXTENSION lemlist_fdw;
CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', max_retries '0',
           rate_limit '10000', rate_window_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key 'test-key-alpha');
CREATE SCHEMA lemlist;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist;

CREATE SERVER broken FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$BROKEN_URL/api', max_retries '0',
           rate_limit '10000', rate_window_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER broken OPTIONS (api_key 'test-key-alpha');
CREATE SCHEMA broken;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats) FROM SERVER broken INTO broken;

CREATE SERVER cached FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', max_retries '0',
           rate_limit '10000', rate_window_ms '1000', cache_ttl '3600');
CREATE USER MAPPING FOR CURRENT_USER SERVER cached OPTIONS (api_key 'test-key-alpha');
CREATE SCHEMA cached;
IMPORT FOREIGN SCHEMA lemlist LIMIT TO (campaign_stats) FROM SERVER cached INTO cached;

-- a scan that fails, caught: returns the SQLSTATE
CREATE FUNCTION failing_scan(kind text) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
  IF kind = 'rejected' THEN
    -- lemlist answers 400: the send user's email is not the user's
    PERFORM count(*) FROM lemlist.campaign_stats
     WHERE campaign_id = 'cam_00001' AND send_user = 'usr_alice|bob@example.com'
       AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
  ELSE
    PERFORM count(*) FROM broken.campaign_stats
     WHERE campaign_id = 'cam_00001'
       AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
  END IF;
  RETURN 'no error';
EXCEPTION WHEN others THEN
  RETURN SQLSTATE;
END
\$\$;
EOF

# The session's script: the scans, and a measurement after WARMUP and SCANS.
script="$WORKDIR/scans.sql"
{
    cat <<'EOF'
SET client_min_messages = notice;
SELECT pg_backend_pid() AS backend_pid \gset
\setenv MEMORY_BACKEND_PID :backend_pid
PREPARE steps(text[]) AS
  SELECT count(*), sum(sent) FROM lemlist.campaign_step_stats
   WHERE campaign_id = ANY ($1) AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';
EOF
    measure()
    {
        cat <<EOF
SELECT 'MEASURE $1 contexts ' || count(*) || ' ' || sum(total_bytes) FROM pg_backend_memory_contexts;
\\! awk '/^RssAnon:/ { a = \$2 } /^VmRSS:/ { v = \$2 } END { print "MEASURE $1 rss", a, v }' /proc/\$MEMORY_BACKEND_PID/status
SELECT 'MEASURE $1 shared ' || size_bytes || ' ' || bytes || ' ' || in_flight || ' ' || evictions FROM lemlist_fdw_cache();
\\! ls -l /proc/\$MEMORY_BACKEND_PID/fd | awk '/ -> / { n++; if (\$NF ~ /^socket:/) s++ } END { print "MEASURE $1 fds", n + 0, s + 0 }'
EOF
    }
    for ((n = 1; n <= SCANS; n++)); do
        case $((n % 8)) in
            0) echo "SELECT sum(replied) FROM lemlist.campaign_stats WHERE campaign_id IN ('cam_00001', 'cam_00002') AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';" ;;
            1) echo "EXECUTE steps('{cam_00003,cam_00004}');" ;;
            2) echo "SELECT count(*) FROM lemlist.campaigns WHERE status = 'running';" ;;
            3) echo "SELECT count(*) FROM lemlist.campaign_stats WHERE campaign_id IN ('cam_00012', 'cam_00013', 'cam_99999') AND start_date >= '2025-01-01' AND end_date <= '2025-06-30';" ;;
            4) echo "SELECT failing_scan('rejected');" ;;
            5) echo "SELECT failing_scan('invalid');" ;;
            6) printf "SELECT sum(nb_leads) FROM cached.campaign_stats WHERE campaign_id = 'cam_%05d' AND start_date >= '2025-01-01' AND end_date <= '2025-06-%02d';\n" $((n / 8 % 50 + 1)) $((n / 400 % 25 + 1)) ;;
            7) echo "SELECT count(*) FROM lemlist.campaign_stats s JOIN lemlist.campaign_step_stats t USING (campaign_id, start_date, end_date) WHERE s.campaign_id IN ('cam_00005', 'cam_00006') AND s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30' AND t.start_date >= '2025-01-01' AND t.end_date <= '2025-06-30';" ;;
        esac
        if [ "$n" -eq "$WARMUP" ] || [ "$n" -eq "$SCANS" ]; then
            measure "$n"
        fi
    done
} >"$script"

say "running $SCANS scans in one session (measuring after $WARMUP and $SCANS)"
started=$(date +%s)
as_pg_psql -At -f "$script" >"$WORKDIR/scans.out" 2>"$WORKDIR/scans.err" \
    || { tail -n 20 "$WORKDIR/scans.err"; die "the session failed"; }
elapsed=$(($(date +%s) - started))

# every scan must have done what it was meant to do
count_lines()
{
    grep -c -- "$1" "$2" || true
}
notices=$(count_lines 'NOTICE:  lemlist returned no statistics' "$WORKDIR/scans.err")
errors=$(count_lines '^ERROR' "$WORKDIR/scans.err")
[ "$errors" -eq 0 ] || { grep -m 5 '^ERROR' "$WORKDIR/scans.err"; die "$errors scans raised an uncaught error"; }
if grep -q '^no error$' "$WORKDIR/scans.out"; then
    die "a scan meant to fail did not"
fi
if grep -qE '^XX[0-9A-Z]{3}$' "$WORKDIR/scans.out"; then
    die "a scan failed with an internal error (SQLSTATE class XX)"
fi
sqlstates=$(grep -E '^[0-9A-Z]{5}$' "$WORKDIR/scans.out" | sort | uniq -c | awk '{printf "%s x %s, ", $2, $1}')

value()
{
    sed -n "s/^MEASURE $1 $2 //p" "$WORKDIR/scans.out" | awk "{print \$$3}"
}
rss1=$(value "$WARMUP" rss 1)
rss2=$(value "$SCANS" rss 1)
vm1=$(value "$WARMUP" rss 2)
vm2=$(value "$SCANS" rss 2)
ctx1=$(value "$WARMUP" contexts 2)
ctx2=$(value "$SCANS" contexts 2)
nctx1=$(value "$WARMUP" contexts 1)
nctx2=$(value "$SCANS" contexts 1)
fds1=$(value "$WARMUP" fds 1)
fds2=$(value "$SCANS" fds 1)
sock1=$(value "$WARMUP" fds 2)
sock2=$(value "$SCANS" fds 2)
size1=$(value "$WARMUP" shared 1)
size2=$(value "$SCANS" shared 1)
held2=$(value "$SCANS" shared 2)
inflight2=$(value "$SCANS" shared 3)
evicted2=$(value "$SCANS" shared 4)
for v in rss1 rss2 vm1 vm2 ctx1 ctx2 nctx1 nctx2 fds1 fds2 sock1 sock2 size1 size2 held2 inflight2 evicted2; do
    [ -n "${!v}" ] || die "measurement $v missing (see $WORKDIR/scans.out)"
done

say "$SCANS scans in ${elapsed}s; caught errors: ${sqlstates%, }; NOTICEs: $notices"
printf '  %-34s %12s %12s %10s %8s\n' "measure" "after $WARMUP" "after $SCANS" "growth" "bound"
printf '  %-34s %12s %12s %10s %8s\n' "RssAnon (kB)" "$rss1" "$rss2" "$((rss2 - rss1))" "$BOUND_RSS_KB"
printf '  %-34s %12s %12s %10s %8s\n' "VmRSS (kB, with shared memory)" "$vm1" "$vm2" "$((vm2 - vm1))" "-"
printf '  %-34s %12s %12s %10s %8s\n' "memory contexts (bytes)" "$ctx1" "$ctx2" "$((ctx2 - ctx1))" "$((BOUND_CONTEXTS_KB * 1024))"
printf '  %-34s %12s %12s %10s %8s\n' "memory contexts (count)" "$nctx1" "$nctx2" "$((nctx2 - nctx1))" "-"
printf '  %-34s %12s %12s %10s %8s\n' "open file descriptors" "$fds1" "$fds2" "$((fds2 - fds1))" "$BOUND_FDS"
printf '  %-34s %12s %12s %10s %8s\n' "of which sockets" "$sock1" "$sock2" "$((sock2 - sock1))" "-"

failed=0
if [ $((rss2 - rss1)) -gt "$BOUND_RSS_KB" ]; then
    echo "FAILED: private memory grew by $((rss2 - rss1)) kB (bound $BOUND_RSS_KB kB)"
    failed=1
fi
if [ $((ctx2 - ctx1)) -gt $((BOUND_CONTEXTS_KB * 1024)) ]; then
    echo "FAILED: memory contexts grew by $((ctx2 - ctx1)) bytes (bound $BOUND_CONTEXTS_KB kB)"
    failed=1
fi
if [ $((fds2 - fds1)) -gt "$BOUND_FDS" ]; then
    echo "FAILED: open file descriptors grew by $((fds2 - fds1)) (bound $BOUND_FDS)"
    failed=1
fi
printf '  %-34s %12s %12s %10s %8s\n' "shared answers: store (bytes)" "$size1" "$size2" "$((size2 - size1))" "0"
printf '  %-34s %12s %12s %10s %8s\n' "shared answers: held (bytes)" "-" "$held2" "-" "$size2"
printf '  %-34s %12s %12s %10s %8s\n' "shared answers: in flight, evicted" "-" "$inflight2, $evicted2" "-" "0, -"
if [ "$size2" -ne "$size1" ] || [ "$held2" -gt "$size2" ] || [ "$inflight2" -ne 0 ]; then
    echo "FAILED: the store of shared answers left its bound, or requests in flight"
    failed=1
fi
[ "$failed" -eq 0 ] || exit 1
echo "memory flat: $SCANS scans, growth within bounds"
