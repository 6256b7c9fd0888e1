#!/usr/bin/env bash
# test/bench.sh: the benchmark of lemlist_fdw against the mock lemlist API
#
# Installs what is missing, builds and installs like test/run.sh (test/lib.sh),
# starts the mock with a latency (test/bench_mock.py: mock_lemlist.py replaying
# its answers, see there) and a throw-away cluster with lemlist_fdw in
# shared_preload_libraries, then prints, side by side from this one run, for
# each scenario: lemlist_fdw; the same scan one request at a time
# (max_parallel 1, memo off); and the floor that the latency and lemlist's
# rate limit (20 requests per 2 s per key) set for the requests it needs.
# Request counts and 429s come from the mock's log.  Then two parts that
# start several sessions at the same clock time: "dashboards" (a team of
# 2,000 campaigns on a server with cache_ttl 300: one session alone, then 8
# sessions re-reading the same query warm, then 8 sessions starting it cold
# on a fresh key) and "clusters" (one API key shared by two clusters: a
# second throw-away cluster with lemlist_fdw preloaded, two sessions in each,
# CLUSTER_BATCHES requests per session, against one cluster alone with the
# same two sessions; then the second cluster's sessions CLUSTER_SKEW_MS
# later) and "teams" (an agency's teams of 500 campaigns, each its own
# server and key, in one partitioned table: 1, 8 and 32 teams in one query,
# and 8 one after the other; then a CRM table of deals joined with 1, 8 and
# 32 of them, and 8 with the batched join off).  Then two backends sharing a
# key, and the peak memory
# of a backend scanning 200 vs 20,000 campaigns.
#
#   test/bench.sh                      everything, 100 ms of latency
#   LATENCY_MS=250 test/bench.sh       another latency
#   SCENARIOS="ids1000 crm" test/bench.sh   only these rows of the table
#   SCENARIOS="dashboards clusters" test/bench.sh   only these two parts
#   CLUSTER_BATCHES=40 test/bench.sh   requests per session in "clusters" (default 40)
#   CLUSTER_SKEW_MS=300 test/bench.sh  the second cluster's late start in "clusters" (default 300)
#   TEAMS_LATENCY_MS=150 test/bench.sh  the mock's latency in "teams" (default 150)
#   SKIP_SHARED=1 SKIP_MEMORY=1 test/bench.sh   without the last two parts
#   REPEAT=5 test/bench.sh             runs per measurement (median shown; default
#                                      3, 1 for the scenarios bound by the rate limit)
#   BENCH_TRACE=1 test/bench.sh        also print when each request of each run
#                                      reached the mock (stderr)
#   BENCH_PGOPTIONS="-c ..." test/bench.sh   more settings for its sessions
# The knobs of test/lib.sh apply (PG_CONFIG, PGPORT_TEST, MOCK_PORT,
# SKIP_DEPS, SKIP_BUILD, KEEP_TMP); the second cluster of "clusters" listens
# on PGPORT_SECOND (default PGPORT_TEST + 1).  Takes about five minutes (the table two, "dashboards"
# up to two, "clusters" about one); the report starts at the line
# "lemlist_fdw benchmark:".
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    -h | --help)
        sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    "") ;;
    *) die "unexpected argument \"$1\" (try --help)" ;;
esac

LATENCY_MS=${LATENCY_MS:-100}
[[ "$LATENCY_MS" =~ ^[0-9]+$ ]] || die "LATENCY_MS must be a whole number of milliseconds"
SCENARIOS=${SCENARIOS:-"ids1000 ids5000 list5000 join1000 crm crmjoin calendar30 status dashboards clusters teams"}
CLUSTER_BATCHES=${CLUSTER_BATCHES:-40}
CLUSTER_SKEW_MS=${CLUSTER_SKEW_MS:-300}
TEAMS_LATENCY_MS=${TEAMS_LATENCY_MS:-150}
[[ "$TEAMS_LATENCY_MS" =~ ^[0-9]+$ ]] || die "TEAMS_LATENCY_MS must be a whole number of milliseconds"
[[ "$CLUSTER_SKEW_MS" =~ ^[0-9]+$ ]] || die "CLUSTER_SKEW_MS must be a whole number of milliseconds"
[[ "$CLUSTER_BATCHES" =~ ^[1-9][0-9]*$ ]] && [ "$CLUSTER_BATCHES" -le 50 ] \
    || die "CLUSTER_BATCHES must be a whole number from 1 to 50"
PGPORT_SECOND=${PGPORT_SECOND:-$((PGPORT_TEST + 1))}
RATE_LIMIT=20			# lemlist's, and the mock's: requests per window per key
RATE_WINDOW_MS=2000
# lemlist_fdw's setting for speed: as many requests in flight as the rate
# limit lets start at once; more would only wait for the window
FAST_PARALLEL=$RATE_LIMIT
NKEYS=200
KEYS=$(seq -f 'bench-key-%02g' 1 "$NKEYS" | paste -sd, -)

cd "$LEMLIST_ROOT"
setup_workdir
PGDATA_SECOND=""			# the second cluster of "clusters", once initdb ran
SECOND_STARTED=""

# bench_cleanup: the EXIT trap; stops the second cluster, then what
# test/lib.sh started
bench_cleanup()
{
    local rc=$?
    set +e
    if [ -n "$SECOND_STARTED" ]; then
        as_pg "$(pg_bin pg_ctl)" -D "$PGDATA_SECOND" -m immediate -w stop >/dev/null 2>&1 \
            || warn "could not stop the cluster in $PGDATA_SECOND"
    fi
    (exit "$rc")
    cleanup
}
trap bench_cleanup EXIT
install_deps
build_install

# the benchmark's own keys (--keys comes last, so these are the valid ones)
MOCK_SCRIPT="$LEMLIST_ROOT/test/bench_mock.py"
MOCK_ARGS="--latency-ms $LATENCY_MS --campaigns 20000 --keys $KEYS"
start_mock
# pacing shared by the backends (pg_cron, the test cluster's, is not needed)
PRELOAD_LIBRARIES="lemlist_fdw"
start_cluster

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

# sql [psql args...]: run SQL from stdin in the bench database, quietly
# (SQL_PORT: of another cluster)
sql()
{
    as_pg "$(pg_bin psql)" -X -q -At -v ON_ERROR_STOP=1 -h "$WORKDIR" -p "${SQL_PORT:-$PGPORT_TEST}" \
        -U postgres -d bench "$@"
}

mockctl()
{
    "$LEMLIST_PYTHON" "$LEMLIST_ROOT/test/mockctl.py" --url "$LEMLIST_MOCK_URL" "$@"
}

# use_new_key SERVER: give SERVER's user mapping a key no earlier run used,
# so that neither the mock's window nor lemlist_fdw's pacing carries over
# (the counter is a file: callers run in subshells)
use_new_key()
{
    printf "ALTER USER MAPPING FOR postgres SERVER %s OPTIONS (SET api_key '%s');\n" \
        "$1" "$(new_key)" | sql
}

# new_key: a benchmark key no earlier run used
new_key()
{
    local next_key
    next_key=$(($(cat "$WORKDIR/next_key" 2>/dev/null || echo 0) + 1))
    echo "$next_key" >"$WORKDIR/next_key"
    [ "$next_key" -le "$NKEYS" ] || die "out of benchmark keys"
    printf 'bench-key-%02d' "$next_key"
}

# requests_summary: "TOTAL GETS 429S" from the mock's log
requests_summary()
{
    mockctl requests | awk '{ n++; if ($1 == "GET") g++; if ($3 == "429") r++ }
                            END { printf "%d %d %d\n", n, g, r }'
}

# Every session runs with jit = off: the planner prices each wave of
# max_parallel requests at 1,000 (a network round trip), so the plans of the
# largest scans cross jit_above_cost, and compiling expressions for a scan
# whose time is the network only adds time
SESSION_OPTIONS="-c client_min_messages=warning -c jit=off ${BENCH_PGOPTIONS:-}"

# run_query SCHEMA QUERY [PGOPTIONS]: time QUERY (with @S@ replaced by SCHEMA)
# in a new session, once a plain EXPLAIN of it (which sends nothing) has
# loaded the catalog caches, as in a session already in use; prints
# milliseconds
run_query()
{
    local q=${2//@S@/$1}
    PGOPTIONS="$SESSION_OPTIONS ${3:-}" sql <<EOF | tail -n 1
EXPLAIN $q \\g /dev/null
SELECT bench_run(\$q\$$q\$q\$);
EOF
}

# floor_ms REQUESTS DEPTH: the least time REQUESTS requests can take, DEPTH of
# them one after the other (list pages), with LATENCY_MS each, and at most
# RATE_LIMIT of them in any RATE_WINDOW_MS
floor_ms()
{
    local n=$1 depth=$2 waves rate chain
    waves=$(((n + RATE_LIMIT - 1) / RATE_LIMIT))
    rate=$(((waves - 1) * RATE_WINDOW_MS + LATENCY_MS))
    chain=$((depth * LATENCY_MS))
    echo $((rate > chain ? rate : chain))
}

ratio()
{
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

# ---------------------------------------------------------------------------
# the benchmark database
# ---------------------------------------------------------------------------

say "creating the benchmark database"
as_pg "$(pg_bin createdb)" -h "$WORKDIR" -p "$PGPORT_TEST" -U postgres bench
sql <<EOF
CREATE EXTENSION lemlist_fdw;
-- fast: lemlist_fdw set for speed; serial: one request at a time (and the
-- memo is turned off in its sessions); warm: fills the mock's replay cache,
-- and times the scan answered by lemlist_fdw's cache (its CPU time)
CREATE SERVER fast FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', max_parallel '$FAST_PARALLEL');
CREATE SERVER serial FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', max_parallel '1');
CREATE SERVER warm FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', max_parallel '$FAST_PARALLEL', rate_limit '10000',
           cache_ttl '3600');
CREATE SERVER defaults FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', rate_limit '10000');
EOF
for s in fast serial warm defaults; do
    sql <<EOF
CREATE USER MAPPING FOR postgres SERVER $s OPTIONS (api_key 'bench-key-00');
CREATE SCHEMA $s;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER $s INTO $s;
EOF
    use_new_key "$s"
done
# what every session runs in the bench database of a cluster: bench_run(q),
# the milliseconds query q takes, and ids(first, last), campaign IDs
bench_functions()
{
    sql <<'EOF'
CREATE FUNCTION bench_run(q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  n bigint;
BEGIN
  EXECUTE 'SELECT count(*) FROM (' || q || ') AS s' INTO n;
  RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END
$$;
CREATE FUNCTION ids(first int, last int) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(format('cam_%s', lpad(i::text, 5, '0')) ORDER BY i)
    FROM generate_series(first, last) AS i
$$;
EOF
}
bench_functions
sql <<'EOF'
-- a CRM table: 1,000 deals over 300 distinct campaigns
CREATE TABLE deals (deal_id int, account text, lemlist_campaign_id text);
INSERT INTO deals
  SELECT d, format('account %s', d % 97), format('cam_%s', lpad(((d * 7) % 300 + 1)::text, 5, '0'))
    FROM generate_series(1, 1000) AS d;
ANALYZE deals;
-- a calendar: the 30 days of April 2025
CREATE TABLE days (day timestamptz);
INSERT INTO days SELECT d FROM generate_series('2025-04-01'::timestamptz, '2025-04-30', '1 day') AS d;
ANALYZE days;
EOF

# ---------------------------------------------------------------------------
# the scenarios: name, team size, minimum requests, list pages in a chain,
# description, query
# ---------------------------------------------------------------------------

DATES="start_date >= '2025-01-01' AND end_date <= '2025-06-30'"
declare -A S_TEAM S_MIN S_DEPTH S_DESC S_QUERY S_REPEAT RESULT_MS
S_REPEAT[ids1000]=3
S_TEAM[ids1000]=1000
S_MIN[ids1000]=10
S_DEPTH[ids1000]=1
S_DESC[ids1000]="1,000 campaigns, = ANY(array)"
S_QUERY[ids1000]="SELECT campaign_id, replied FROM @S@.campaign_stats
 WHERE campaign_id = ANY (ids(1, 1000)) AND $DATES"

S_REPEAT[ids5000]=1
S_TEAM[ids5000]=5000
S_MIN[ids5000]=50
S_DEPTH[ids5000]=1
S_DESC[ids5000]="5,000 campaigns, = ANY(array)"
S_QUERY[ids5000]="SELECT campaign_id, replied FROM @S@.campaign_stats
 WHERE campaign_id = ANY (ids(1, 5000)) AND $DATES"

# a team of 5,000: 50 full pages and an empty one, then 50 batches
S_REPEAT[list5000]=1
S_TEAM[list5000]=5000
S_MIN[list5000]=101
S_DEPTH[list5000]=52
S_DESC[list5000]="5,000 campaigns, listed"
S_QUERY[list5000]="SELECT campaign_id, replied FROM @S@.campaign_stats WHERE $DATES"

# campaign_stats joined to campaign_step_stats under the same filters
S_REPEAT[join1000]=3
S_TEAM[join1000]=1000
S_MIN[join1000]=10
S_DEPTH[join1000]=1
S_DESC[join1000]="stats x step stats, 1,000 IDs"
S_QUERY[join1000]="SELECT s.campaign_id, t.step_index
  FROM @S@.campaign_stats s JOIN @S@.campaign_step_stats t ON t.campaign_id = s.campaign_id
 WHERE s.campaign_id = ANY (ids(1, 1000)) AND t.campaign_id = ANY (ids(1, 1000))
   AND s.start_date >= '2025-01-01' AND s.end_date <= '2025-06-30'
   AND t.start_date >= '2025-01-01' AND t.end_date <= '2025-06-30'"

# the CRM join, with the = ANY(ARRAY(SELECT ...)) idiom: 300 IDs, 3 batches,
# in a team of 5,000
S_REPEAT[crm]=3
S_TEAM[crm]=5000
S_MIN[crm]=3
S_DEPTH[crm]=1
S_DESC[crm]="CRM 1,000 rows, ANY(ARRAY(SELECT))"
S_QUERY[crm]="SELECT d.account, s.replied
  FROM deals d JOIN @S@.campaign_stats s ON s.campaign_id = d.lemlist_campaign_id
 WHERE s.campaign_id = ANY (ARRAY(SELECT lemlist_campaign_id FROM deals))
   AND s.$DATES"

# the same join written plainly: the batched join sends the same 3 batches
S_REPEAT[crmjoin]=3
S_TEAM[crmjoin]=5000
S_MIN[crmjoin]=3
S_DEPTH[crmjoin]=1
S_DESC[crmjoin]="CRM 1,000 rows, plain join"
S_QUERY[crmjoin]="SELECT d.account, s.replied
  FROM deals d JOIN @S@.campaign_stats s ON s.campaign_id = d.lemlist_campaign_id
 WHERE s.$DATES"

# a 30-day calendar over 20 campaigns: one request set per day, 30 batches,
# bound by the rate limit (20 per window)
S_REPEAT[calendar30]=1
S_TEAM[calendar30]=5000
S_MIN[calendar30]=30
S_DEPTH[calendar30]=1
S_DESC[calendar30]="30-day calendar x 20 campaigns"
S_QUERY[calendar30]="SELECT c.day, s.campaign_id, s.replied
  FROM days c JOIN @S@.campaign_stats s
    ON s.start_date = c.day AND s.end_date = c.day + interval '1 day' - interval '1 ms'
 WHERE s.campaign_id = ANY (ids(1, 20))"

# lemlist.campaigns joined on status: the paused campaigns listed (their
# pages one after the other), then batched; S_MIN and S_DEPTH are set once
# the mock runs (PAUSED below)
S_REPEAT[status]=3
S_TEAM[status]=5000
S_DESC[status]="campaigns (paused) x stats"
S_QUERY[status]="SELECT c.name, s.replied
  FROM @S@.campaigns c JOIN @S@.campaign_stats s USING (campaign_id)
 WHERE c.status = 'paused' AND s.$DATES"

# measure_once SCHEMA SCENARIO [PGOPTIONS]: "MS TOTAL GETS 429S"
measure_once()
{
    local ms
    mockctl reset
    mockctl config "campaigns=${S_TEAM[$2]}"
    use_new_key "$1"
    ms=$(run_query "$1" "${S_QUERY[$2]}" "${3:-}")
    echo "$ms $(requests_summary)"
    [ -z "${BENCH_TRACE:-}" ] || trace_requests
}

# trace_requests: when each request of the mock's log reached it (ms since
# its reset), p: list page, b: batch, !429: its status if not 200 (stderr)
trace_requests()
{
    "$LEMLIST_PYTHON" - "$LEMLIST_MOCK_URL" >&2 <<'EOF'
import json, sys, urllib.request
log = json.loads(urllib.request.urlopen(sys.argv[1] + "/__mock/requests").read())
print(" ".join("%s%d%s" % ("p" if r["method"] == "GET" else "b", r["elapsed_ms"],
                           "" if r["status"] == 200 else "!%s" % r["status"]) for r in log))
EOF
}

# measure SCHEMA SCENARIO [PGOPTIONS]: measure_once, REPEAT times; the run of
# median time (each run with a new key and a reset mock)
measure()
{
    local n=${REPEAT:-${S_REPEAT[$2]}} i
    for ((i = 0; i < n; i++)); do
        measure_once "$@"
    done | sort -n | sed -n "$(((n + 1) / 2))p"
}

# curl_same NAME REQUESTS: the requests the mock logged for lemlist_fdw's last
# run of scenario NAME, sent again all at once by curl's command-line tool
# (--parallel), which decodes nothing: what this mock lets any client reach.
# Prints the median milliseconds of REPEAT runs, each with a new key and a
# reset mock; "-" for scenarios whose requests cannot all go at once (list
# pages come one after the other; more than a window of requests).
curl_same()
{
    local n=${REPEAT:-${S_REPEAT[$1]}} i t0 dir="$WORKDIR/curl-$1"
    if [ "${S_DEPTH[$1]}" != 1 ] || [ "$2" -gt "$RATE_LIMIT" ]; then
        echo "-"
        return
    fi
    mkdir -p "$dir"
    curl -s "$LEMLIST_MOCK_URL/__mock/requests" >"$dir/log.json" \
        || die "could not read the mock's request log"
    # a curl config file, one request per logged one with its body from a
    # file; the key (@KEY@ here) goes in per run, and stays off command lines
    "$LEMLIST_PYTHON" - "$LEMLIST_MOCK_URL" "$dir" <<'EOF'
import json, os, sys
url, out = sys.argv[1:3]
with open(os.path.join(out, "log.json")) as f:
    log = json.load(f)
with open(os.path.join(out, "config.in"), "w") as f:
    for i, r in enumerate(log):
        body = os.path.join(out, "body%d" % i)
        with open(body, "w") as b:
            b.write(r["body"] or "")
        f.write('%surl = "%s%s"\noutput = "/dev/null"\nuser = ":@KEY@"\n'
                % ("next\n" if i > 0 else "", url, r["path"]))
        f.write('header = "Content-Type: application/json"\ndata-binary = "@%s"\n' % body)
EOF
    for ((i = 0; i < n; i++)); do
        sed "s/@KEY@/$(new_key)/" "$dir/config.in" >"$dir/config"
        mockctl reset
        mockctl config "campaigns=${S_TEAM[$1]}"
        t0=$(date +%s%N)
        curl -sS --no-progress-meter --parallel --parallel-immediate --parallel-max "$FAST_PARALLEL" \
            -K "$dir/config" \
            || die "curl could not replay the requests of $1"
        echo $((($(date +%s%N) - t0) / 1000000))
    done | sort -n | sed -n "$(((n + 1) / 2))p"
}

# warm NAME: run a scenario once, untimed, to fill the mock's replay cache,
# then again in the same session, answered by lemlist_fdw's cache (cache_ttl):
# prints the milliseconds of the second run, the client's own work
warm()
{
    local q=${S_QUERY[$1]//@S@/warm}
    mockctl reset
    mockctl config "campaigns=${S_TEAM[$1]}" rate_limit=100000
    use_new_key warm
    PGOPTIONS="$SESSION_OPTIONS" sql <<EOF | tail -n 1
SELECT bench_run(\$q\$$q\$q\$);
SELECT bench_run(\$q\$$q\$q\$);
EOF
}

# the paused campaigns of a team of 5,000, for the status scenario's minimum:
# their list pages (one more when the last is exactly full) and batches
mockctl reset
mockctl config campaigns=5000 rate_limit=100000
use_new_key warm
PAUSED=$(PGOPTIONS="$SESSION_OPTIONS" sql <<'EOF' | tail -n 1
SELECT count(*) FROM warm.campaigns WHERE status = 'paused';
EOF
)
S_DEPTH[status]=$((PAUSED / 100 + 1))
S_MIN[status]=$((S_DEPTH[status] + (PAUSED + 99) / 100))

echo
echo "lemlist_fdw benchmark: mock latency ${LATENCY_MS} ms, rate limit ${RATE_LIMIT} requests per" \
    "$((RATE_WINDOW_MS / 1000)) s per key"
echo "lemlist_fdw runs with max_parallel ${FAST_PARALLEL}: lemlist lets ${RATE_LIMIT} requests of a key start" \
    "in a window, so ${FAST_PARALLEL}"
echo "in flight use the whole window at once, and more would only wait for the next one (the default, 4,"
echo "leaves 16 of every 20 slots to wait a round trip).  One-at-a-time is max_parallel 1 with the memo off."
echo "Floor: the longer of (list pages in a row + 1) x latency and (ceil(requests / ${RATE_LIMIT}) - 1) x" \
    "window + latency."
echo "CPU: the same scan answered by lemlist_fdw's cache (no request): decoding JSON and making rows."
echo "curl: lemlist_fdw's requests sent again at once by curl --parallel, which decodes nothing: what"
echo "this mock (Python, one thread per connection) lets any client reach (curl's start-up included);"
echo "- where the requests cannot all go at once."
echo "Sessions run with jit = off (see the script)."
echo
# the rows of the table, and the parts after it
TABLE_ROWS=""
PARTS=" "
for name in $SCENARIOS; do
    case "$name" in
        dashboards | clusters | teams) PARTS="$PARTS$name " ;;
        *)
            [ -n "${S_QUERY[$name]:-}" ] || die "unknown scenario \"$name\""
            TABLE_ROWS="$TABLE_ROWS $name"
            ;;
    esac
done
[ -z "$TABLE_ROWS" ] || printf '%-36s %13s %5s %11s %13s %9s %8s %8s %8s %8s %8s\n' \
    "scenario" "requests(min)" "429s" "lemlist_fdw" "one-at-a-time" "floor" "curl" "CPU" "speed-up" \
    "vs floor" "vs curl"
for name in $TABLE_ROWS; do
    cpu=$(warm "$name")
    read -r f_ms f_n f_get f_429 <<<"$(measure fast "$name")"
    c_ms=$(curl_same "$name" "$f_n")
    read -r s_ms s_n s_get s_429 <<<"$(measure serial "$name" "-c lemlist_fdw.memo_budget=0")"
    fl=$(floor_ms "$f_n" "${S_DEPTH[$name]}")
    printf '%-36s %13s %5s %8s ms %10s ms %6s ms %5s %s %5s ms %7sx %7sx %7s%s\n' \
        "$name: ${S_DESC[$name]}" "$f_n (${S_MIN[$name]})" "$f_429" "$f_ms" "$s_ms" "$fl" \
        "$c_ms" "$([ "$c_ms" = - ] && echo "  " || echo ms)" "$cpu" \
        "$(ratio "$s_ms" "$f_ms")" "$(ratio "$f_ms" "$fl")" \
        "$([ "$c_ms" = - ] && echo - || ratio "$f_ms" "$c_ms")" "$([ "$c_ms" = - ] || echo x)"
    if [ "$s_n" != "$f_n" ] || [ "$s_429" != 0 ]; then
        echo "    one-at-a-time: $s_n requests, $s_429 answered 429"
    fi
    RESULT_MS[$name]=$f_ms
done
if [ -n "${RESULT_MS[crm]:-}" ] && [ -n "${RESULT_MS[crmjoin]:-}" ]; then
    echo "    the plain CRM join against the ANY(ARRAY(SELECT ...)) idiom: $(ratio "${RESULT_MS[crmjoin]}" "${RESULT_MS[crm]}")x"
fi

# ---------------------------------------------------------------------------
# sessions started at the same clock time: dashboards, clusters
# ---------------------------------------------------------------------------

# at_once NAME [+MS:]PORT:SCHEMA:QUERY...: run each QUERY (@S@ replaced by
# SCHEMA) in a session of its own on the cluster of PORT, all of them
# starting at one clock time (pg_sleep_until, once each session has
# connected and run a plain EXPLAIN of its query, as in run_query), or MS
# milliseconds after it; prints the wall time in milliseconds, from that
# clock time until the slowest session ended.  Each session's time (from its
# own start) is in WORKDIR/NAME.N.
at_once()
{
    local name=$1 start i=0 pids=() spec port rest schema q ms wall=0 late lates=()
    shift
    start=$(date -u -d '+1.5 seconds' '+%Y-%m-%d %H:%M:%S.%N+00')
    for spec in "$@"; do
        late=0
        if [[ "$spec" == +* ]]; then
            late=${spec%%:*}
            late=${late#+}
            spec=${spec#*:}
        fi
        lates+=("$late")
        port=${spec%%:*}
        rest=${spec#*:}
        schema=${rest%%:*}
        q=${rest#*:}
        q=${q//@S@/$schema}
        i=$((i + 1))
        PGOPTIONS="$SESSION_OPTIONS" SQL_PORT=$port sql >"$WORKDIR/$name.$i" <<EOF &
EXPLAIN $q \\g /dev/null
SELECT pg_sleep_until('$start'::timestamptz + interval '$late ms') \\g /dev/null
SELECT bench_run(\$q\$$q\$q\$);
EOF
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || die "a session of $name failed (see above)"
        ms=$(($(tail -n 1 "$WORKDIR/$name.$((i + 1))") + ${lates[$i]}))
        [ "$ms" -gt "$wall" ] && wall=$ms
    done
    echo "$wall"
}

# dashboards: a team of 2,000 campaigns, its stats for the first half of 2025,
# on a server with cache_ttl 300 (default options otherwise): one session
# alone; then 8 sessions re-reading it at once, within the TTL; then 8
# sessions starting it at once, cold (a key no earlier run used, so that
# neither a cache nor pacing carries over)
dashboards()
{
    local q a_ms a_n a_429 b_ms b_n b_429 c_ms c_n c_429 specs=() i
    q="SELECT campaign_id, replied FROM @S@.campaign_stats WHERE $DATES"
    # fill the mock's replay cache (untimed, no rate limit)
    mockctl reset
    mockctl config campaigns=2000 rate_limit=100000
    use_new_key warm
    run_query warm "$q" >/dev/null

    for i in 1 2 3 4 5 6 7 8; do
        specs+=("$PGPORT_TEST:dash:$q")
    done
    mockctl reset
    mockctl config campaigns=2000
    use_new_key dash
    a_ms=$(at_once dash_a "$PGPORT_TEST:dash:$q")
    read -r a_n _ a_429 <<<"$(requests_summary)"
    # a reset brings the mock's settings back to its defaults
    mockctl reset
    mockctl config campaigns=2000
    b_ms=$(at_once dash_b "${specs[@]}")
    read -r b_n _ b_429 <<<"$(requests_summary)"
    mockctl reset
    mockctl config campaigns=2000
    use_new_key dash
    c_ms=$(at_once dash_c "${specs[@]}")
    read -r c_n _ c_429 <<<"$(requests_summary)"

    echo
    echo "Dashboards: a team of 2,000 campaigns, campaign_stats for $DATES,"
    echo "server with cache_ttl 300 (max_parallel 4, the default); sessions start at one clock time:"
    printf '  %-44s %5s %5s %9s %12s %9s\n' "" "requests" "429s" "wall" "requests/(a)" "time/(a)"
    printf '  %-44s %8d %5d %6d ms %12s %9s\n' "(a) one session alone" "$a_n" "$a_429" "$a_ms" "1.00" "1.00"
    printf '  %-44s %8d %5d %6d ms %12s %9s\n' "(b) then 8 sessions at once, warm (same key)" \
        "$b_n" "$b_429" "$b_ms" "$(ratio "$b_n" "$a_n")" "$(ratio "$b_ms" "$a_ms")"
    printf '  %-44s %8d %5d %6d ms %12s %9s\n' "(c) 8 sessions at once, cold (a fresh key)" \
        "$c_n" "$c_429" "$c_ms" "$(ratio "$c_n" "$a_n")" "$(ratio "$c_ms" "$a_ms")"
}

# start_second_cluster: a throw-away cluster on PGPORT_SECOND, socket in
# WORKDIR, lemlist_fdw preloaded, with a database bench holding what the
# clusters part needs (server fast, ids(), bench_run()); stopped by the trap
start_second_cluster()
{
    PGDATA_SECOND="$WORKDIR/data2"
    say "creating a second throw-away cluster in $PGDATA_SECOND" >&2
    run_quiet "$WORKDIR/initdb2.log" \
        as_pg "$(pg_bin initdb)" -D "$PGDATA_SECOND" -U postgres -A trust \
        --locale=C -E UTF8 --no-sync \
        || die "initdb of the second cluster failed"
    cat >>"$PGDATA_SECOND/postgresql.conf" <<EOF

# added by test/bench.sh: the second cluster of its "clusters" part
listen_addresses = ''
unix_socket_directories = '$WORKDIR'
port = $PGPORT_SECOND
fsync = off
synchronous_commit = off
full_page_writes = off
lc_messages = 'C'
max_connections = 20
shared_preload_libraries = 'lemlist_fdw'
EOF
    run_quiet "$WORKDIR/pg_ctl2.log" \
        as_pg "$(pg_bin pg_ctl)" -D "$PGDATA_SECOND" -l "$WORKDIR/postgres2.log" -w -t 60 start \
        || die "the second cluster did not start"
    SECOND_STARTED=1
    as_pg "$(pg_bin createdb)" -h "$WORKDIR" -p "$PGPORT_SECOND" -U postgres bench
    SQL_PORT=$PGPORT_SECOND sql <<EOF
CREATE EXTENSION lemlist_fdw;
CREATE SERVER fast FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', max_parallel '$FAST_PARALLEL');
CREATE USER MAPPING FOR postgres SERVER fast OPTIONS (api_key 'bench-key-00');
CREATE SCHEMA fast;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER fast INTO fast;
EOF
    SQL_PORT=$PGPORT_SECOND bench_functions
}

# clusters_run LABEL SPEC...: at_once the specs on a reset mock, then print
# requests, 429s and the wall time against the rate floor
clusters_run()
{
    local label=$1 wall n r429 fl
    shift
    mockctl reset
    mockctl config campaigns=20000
    wall=$(at_once clusters "$@")
    read -r n _ r429 <<<"$(requests_summary)"
    [ -z "${BENCH_TRACE:-}" ] || trace_requests
    fl=$(floor_ms $((n - r429)) 1)	# a 429 does not count against the limit
    printf '  %-40s %4d requests, %3d answered 429 (%s%%), %6d ms; floor %6d ms, %sx\n' \
        "$label:" "$n" "$r429" "$(awk -v a="$r429" -v b="$n" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')" \
        "$wall" "$fl" "$(ratio "$wall" "$fl")"
}

# key_both_clusters: a fresh key for server fast, the same in both clusters
key_both_clusters()
{
    local key
    key=$(new_key)
    printf "ALTER USER MAPPING FOR postgres SERVER fast OPTIONS (SET api_key '%s');\n" "$key" | sql
    printf "ALTER USER MAPPING FOR postgres SERVER fast OPTIONS (SET api_key '%s');\n" "$key" \
        | SQL_PORT=$PGPORT_SECOND sql
}

# clusters: one API key, two sessions per cluster each asking for
# CLUSTER_BATCHES batches of 100 campaigns (= ANY(array), max_parallel 20);
# the same two sessions in one cluster alone, then with two more in a second
# cluster at the same time (4 sessions, all on one key), then with the second
# cluster's two CLUSTER_SKEW_MS later (a fresh key each time; the floor is
# still that of all the requests at once)
clusters()
{
    local per=$((CLUSTER_BATCHES * 100)) qs=() i
    for i in 0 1 2 3; do
        qs+=("SELECT campaign_id FROM @S@.campaign_stats
               WHERE campaign_id = ANY (ids($((i * per + 1)), $(((i + 1) * per)))) AND $DATES")
    done
    start_second_cluster
    # fill the mock's replay cache (untimed, no rate limit)
    mockctl reset
    mockctl config campaigns=20000 rate_limit=100000
    use_new_key warm
    for i in 0 1 2 3; do
        run_query warm "${qs[$i]}" >/dev/null
    done

    echo
    echo "Clusters: one API key, sessions asking for $CLUSTER_BATCHES batches each at once (= ANY(array)," \
        "max_parallel ${FAST_PARALLEL}), lemlist_fdw preloaded in each cluster:"
    use_new_key fast
    clusters_run "one cluster, 2 sessions" \
        "$PGPORT_TEST:fast:${qs[0]}" "$PGPORT_TEST:fast:${qs[1]}"
    key_both_clusters
    clusters_run "two clusters, 2 sessions each" \
        "$PGPORT_TEST:fast:${qs[0]}" "$PGPORT_TEST:fast:${qs[1]}" \
        "$PGPORT_SECOND:fast:${qs[2]}" "$PGPORT_SECOND:fast:${qs[3]}"
    key_both_clusters
    clusters_run "the second ${CLUSTER_SKEW_MS} ms later" \
        "$PGPORT_TEST:fast:${qs[0]}" "$PGPORT_TEST:fast:${qs[1]}" \
        "+$CLUSTER_SKEW_MS:$PGPORT_SECOND:fast:${qs[2]}" "+$CLUSTER_SKEW_MS:$PGPORT_SECOND:fast:${qs[3]}"
}

case "$PARTS" in *" dashboards "*)
    sql <<EOF
CREATE SERVER dash FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', cache_ttl '300');
CREATE USER MAPPING FOR postgres SERVER dash OPTIONS (api_key 'bench-key-00');
CREATE SCHEMA dash;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER dash INTO dash;
EOF
    dashboards
    ;;
esac
case "$PARTS" in *" clusters "*) clusters ;; esac

# ---------------------------------------------------------------------------
# teams: an agency's teams in one partitioned table, each its own server and key
# ---------------------------------------------------------------------------

# teams_prepare N ASYNC: a fresh mock (teams of 500 campaigns,
# TEAMS_LATENCY_MS of latency), the first N teams each on a fresh key with
# async_capable ASYNC; prints their team values for an IN (...) list
teams_prepare()
{
    local n=$1 async=$2 i list=""
    mockctl reset
    mockctl config campaigns=500 "latency_ms=$TEAMS_LATENCY_MS"
    for ((i = 1; i <= n; i++)); do
        printf "ALTER USER MAPPING FOR postgres SERVER team_%02d OPTIONS (SET api_key '%s');\n" \
            "$i" "$(new_key)"
        printf "ALTER SERVER team_%02d OPTIONS (SET async_capable '%s');\n" "$i" "$async"
    done | sql
    for ((i = 1; i <= n; i++)); do
        list="$list${list:+, }'t$(printf %02d "$i")'"
    done
    echo "$list"
}

# teams_run N [ASYNC]: the stats of the first N teams for $DATES in one
# query (each team lists its 500 campaigns, 5 pages, then sends 5 batches);
# prints "MS REQUESTS GETS 429S"
teams_run()
{
    local list ms
    list=$(teams_prepare "$1" "${2:-true}")
    ms=$(run_query agency "SELECT team, count(*), sum(replied) FROM @S@.campaign_stats
                           WHERE team IN ($list) AND $DATES GROUP BY team")
    echo "$ms $(requests_summary)"
}

# teams_join_run N [BATCHED]: the first N teams' deals (150 campaigns each)
# joined with the agency's table on (team, campaign_id); BATCHED off turns
# lemlist_fdw's batched join off (every team is then listed); prints "MS
# REQUESTS GETS 429S"
teams_join_run()
{
    local list ms
    list=$(teams_prepare "$1" true)
    ms=$(run_query agency "SELECT d.team, count(*), sum(s.replied)
                             FROM agency.deals d JOIN @S@.campaign_stats s
                               ON s.team = d.team AND s.campaign_id = d.campaign_id
                            WHERE d.team IN ($list) AND s.$DATES GROUP BY d.team" \
        "-c lemlist_fdw.enable_batched_join=${2:-on}")
    echo "$ms $(requests_summary)"
}

# teams: 1, 8 and 32 teams at once (asynchronous scans under the Append),
# and the 8 one after the other (async_capable false), TEAMS_LATENCY_MS of
# latency; then a CRM table of deals joined with them
teams()
{
    local i one n8 n32 seq8 j1 j8 j32 jplain8
    {
        echo "CREATE SCHEMA agency;"
        echo "CREATE TABLE agency.campaign_stats (team text NOT NULL, campaign_id text,
                start_date timestamptz, end_date timestamptz, replied bigint)
              PARTITION BY LIST (team);"
        for ((i = 1; i <= 32; i++)); do
            printf "CREATE SERVER team_%02d FOREIGN DATA WRAPPER lemlist_fdw
                      OPTIONS (api_url '%s/api', async_capable 'true');\n" "$i" "$LEMLIST_MOCK_URL"
            printf "CREATE USER MAPPING FOR postgres SERVER team_%02d OPTIONS (api_key 'bench-key-00');\n" "$i"
            printf "CREATE FOREIGN TABLE agency.campaign_stats_%02d PARTITION OF agency.campaign_stats
                      FOR VALUES IN ('t%02d') SERVER team_%02d OPTIONS (resource 'campaign_stats');\n" \
                "$i" "$i" "$i"
        done
        echo "CREATE TABLE agency.deals AS
                SELECT format('t%s', lpad(t::text, 2, '0')) AS team,
                       format('cam_%s', lpad(i::text, 5, '0')) AS campaign_id
                  FROM generate_series(1, 32) AS t, generate_series(1, 150) AS i;
              ANALYZE agency.deals;"
    } | sql
    # fill the mock's replay cache (untimed)
    teams_run 1 >/dev/null
    one=$(teams_run 1)
    n8=$(teams_run 8)
    n32=$(teams_run 32)
    seq8=$(teams_run 8 false)

    echo
    echo "Teams: an agency's teams of 500 campaigns each (5 list pages and 5 batches), each its own server"
    echo "and key, in one partitioned table; one query for the first N teams, ${TEAMS_LATENCY_MS} ms of latency:"
    printf '  %-44s %8s %5s %9s %9s\n' "" "requests" "429s" "wall" "time/(1)"
    teams_line() {
        local label=$1 ms n r429
        read -r ms n _ r429 <<<"$2"
        printf '  %-44s %8d %5d %6d ms %9s\n' "$label" "$n" "$r429" "$ms" "$(ratio "$ms" "${one%% *}")"
    }
    teams_line "1 team" "$one"
    teams_line "8 teams at once" "$n8"
    teams_line "32 teams at once" "$n32"
    teams_line "8 teams one after the other (async off)" "$seq8"

    teams_join_run 1 >/dev/null
    j1=$(teams_join_run 1)
    j8=$(teams_join_run 8)
    j32=$(teams_join_run 32)
    jplain8=$(teams_join_run 8 off)
    echo
    echo "Joins across teams: each team's deals (150 campaigns, 2 batches) joined with the agency's table"
    echo "on (team, campaign_id), ${TEAMS_LATENCY_MS} ms of latency:"
    printf '  %-44s %8s %5s %5s %9s %9s\n' "" "requests" "lists" "429s" "wall" "time/(1)"
    join_line() {
        local label=$1 ms n gets r429
        read -r ms n gets r429 <<<"$2"
        printf '  %-44s %8d %5d %5d %6d ms %9s\n' "$label" "$n" "$gets" "$r429" "$ms" "$(ratio "$ms" "${j1%% *}")"
    }
    join_line "1 team's deals" "$j1"
    join_line "8 teams' deals, at once" "$j8"
    join_line "32 teams' deals, at once" "$j32"
    join_line "8 teams' deals, batched join off (all listed)" "$jplain8"
}

case "$PARTS" in *" teams "*) teams ;; esac

# ---------------------------------------------------------------------------
# two backends, one key: the pacing is shared through shared memory
# ---------------------------------------------------------------------------

# two_backends LABEL: two sessions at once, same key, 2,500 campaigns each
two_backends()
{
    local q1 q2 t0 p1 p2 wall n r429 fl
    q1="SELECT campaign_id FROM @S@.campaign_stats WHERE campaign_id = ANY (ids(1, 2500)) AND $DATES"
    q2="SELECT campaign_id FROM @S@.campaign_stats WHERE campaign_id = ANY (ids(2501, 5000)) AND $DATES"
    mockctl reset
    mockctl config campaigns=5000 rate_limit=100000
    use_new_key warm
    run_query warm "$q1" >/dev/null
    run_query warm "$q2" >/dev/null
    mockctl reset
    mockctl config campaigns=5000
    use_new_key fast
    t0=$(date +%s%N)
    run_query fast "$q1" >"$WORKDIR/two1.out" &
    p1=$!
    run_query fast "$q2" >"$WORKDIR/two2.out" &
    p2=$!
    wait "$p1" "$p2"
    wall=$((($(date +%s%N) - t0) / 1000000))
    read -r n _ r429 <<<"$(requests_summary)"
    fl=$(floor_ms $((n - r429)) 1)	# a 429 does not count against the limit
    printf '  %-34s %3d requests, %2d answered 429, %5d ms for both (%s and %s ms); floor %d ms, %sx\n' \
        "$1:" "$n" "$r429" "$wall" "$(cat "$WORKDIR/two1.out")" "$(cat "$WORKDIR/two2.out")" \
        "$fl" "$(ratio "$wall" "$fl")"
}

if [ "${SKIP_SHARED:-}" != 1 ]; then
    echo
    echo "Two backends at once, same key, 2,500 different campaigns each (= ANY(array), max_parallel" \
        "${FAST_PARALLEL}):"
    two_backends "shared_preload_libraries"
    say "restarting the cluster without shared_preload_libraries" >&2
    as_pg sed -i "/^shared_preload_libraries = 'lemlist_fdw'\$/d" "$PGDATA_TEST/postgresql.conf"
    run_quiet "$WORKDIR/pg_ctl.log" \
        as_pg env LEMLIST_MOCK_URL="$LEMLIST_MOCK_URL" LEMLIST_MOCKCTL="$LEMLIST_MOCKCTL" \
        LEMLIST_PYTHON="$LEMLIST_PYTHON" \
        "$(pg_bin pg_ctl)" -D "$PGDATA_TEST" -l "$WORKDIR/postgres.log" -w -t 60 -m fast restart \
        || die "postgres did not restart"
    two_backends "pacing per backend (not preloaded)"
fi

# ---------------------------------------------------------------------------
# memory: peak of a backend scanning 200 vs 20,000 campaigns
# ---------------------------------------------------------------------------

# peak_kb QUERY: VmHWM of a fresh backend after running QUERY on the
# "defaults" server (default options but the rate limit)
peak_kb()
{
    PGOPTIONS="$SESSION_OPTIONS ${2:-}" sql <<EOF
${1//@S@/defaults} \\g /dev/null
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1];
EOF
}

if [ "${SKIP_MEMORY:-}" != 1 ]; then
    echo
    echo "Peak memory of a backend (VmHWM), default options (max_parallel 4, memo budget 4MB), no latency," \
        "jit = off:"
    mockctl reset
    mockctl config campaigns=20000 latency_ms=0 rate_limit=100000
    use_new_key defaults
    base=$(peak_kb "SELECT 1")
    printf '  %-44s %8s kB\n' "a fresh backend (SELECT 1)" "$base"
    for how in ids list; do
        for n in 200 20000; do
            mockctl config "campaigns=$n"
            if [ "$how" = ids ]; then
                q="SELECT * FROM @S@.campaign_stats WHERE campaign_id = ANY (ids(1, $n)) AND $DATES"
                label="$n campaigns, = ANY(array)"
            else
                q="SELECT * FROM @S@.campaign_stats WHERE $DATES"
                label="$n campaigns, listed"
            fi
            kb=$(peak_kb "$q")
            if [ "$n" = 200 ]; then
                small=$kb
                printf '  %-44s %8s kB\n' "$label" "$kb"
            else
                printf '  %-44s %8s kB  (%sx the 200-campaign scan)\n' "$label" "$kb" "$(ratio "$kb" "$small")"
            fi
        done
    done
    # this plan costs 50 waves of requests, below jit_above_cost: force JIT
    # to show what it adds when a plan crosses it
    kb=$(peak_kb "SELECT * FROM @S@.campaign_stats WHERE campaign_id = ANY (ids(1, 20000)) AND $DATES" \
        "-c jit=on -c jit_above_cost=0")
    printf '  %-44s %8s kB  (JIT compiles the plan: LLVM is loaded)\n' \
        "20000 campaigns, = ANY(array), JIT forced" "$kb"
fi
echo
