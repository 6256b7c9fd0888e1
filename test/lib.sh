#!/usr/bin/env bash
# test/lib.sh: shell functions shared by test/run.sh and test/demo.sh
#
# Source it; do not run it.  It builds and installs the extension, starts the
# mock lemlist API and a throw-away PostgreSQL cluster in a fresh temporary
# directory, and registers an EXIT trap that stops both and removes the
# directory (KEEP_TMP=1 keeps it).  Paths are computed from this file's
# location, so the repository may live anywhere.
#
# Environment knobs:
#   PG_CONFIG    pg_config of the target server (default: that of the major
#                test/install-deps.sh --print-major names: the newest installed,
#                else the Debian suite's own)
#   PGPORT_TEST  port of the throw-away cluster (default 54329; unix socket only,
#                unless LISTEN_TCP)
#   MOCK_PORT    port of the mock API on 127.0.0.1 (default: first free from 18089)
#   MOCK_TLS_PORT port of the https mock (start_tls_mock; default: first free
#                from MOCK_PORT + 100)
#   KEEP_TMP=1   keep the temporary directory and print its path
#   SKIP_DEPS=1  do not check the Debian packages
#   SKIP_BUILD=1 use the extension as already installed
#   PG_EXTRA_CONF     lines appended to postgresql.conf (test/valgrind.sh, test/memory.sh)
#   MOCK_SCRIPT       the mock start_mock starts instead of test/mock_lemlist.py (test/bench.sh)
#   MOCK_ARGS         more arguments for that mock, split on blanks (test/bench.sh)
#   POSTGRES_WRAPPER  program pg_ctl starts instead of postgres (test/valgrind.sh)
#   PG_START_TIMEOUT  seconds pg_ctl waits for the server to start (default 60)
#
# Nothing here ever prints an API key: keep it that way (no set -x).
set -euo pipefail

LEMLIST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# the target major (PG_CONFIG's when set, even before its server is installed)
# and its pg_config
PG_MAJOR=$(bash "$LEMLIST_ROOT/test/install-deps.sh" --print-major)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
export PG_CONFIG
LEMLIST_PYTHON=/usr/bin/python3
PGPORT_TEST=${PGPORT_TEST:-54329}

WORKDIR=""					# the temporary directory (cluster, logs, copies)
PGDATA_TEST=""				# the cluster's data directory, once initdb ran
PG_STARTED=""				# set once pg_ctl start succeeded
MOCK_PID=""					# pid of the mock we started
LEMLIST_MOCK_URL=""			# root URL of the mock, like http://127.0.0.1:18089
LEMLIST_MOCKCTL="$LEMLIST_ROOT/test/mockctl.py"
KEEP_RUNNING=""				# set by demo.sh --keep: the trap leaves everything up
MOCK_TLS_PID=""				# pid of the https mock we started
LOG_EVERYTHING=""			# set by run.sh: log_min_messages debug5, log_statement all
LISTEN_TCP=""				# set by run.sh: the cluster listens on 127.0.0.1 too (pgjdbc)
# the API keys of the suites (make_test_keys); the mock also keeps its own
# defaults (test-key-alpha, ...) valid for the demo and the cookbook
# (PACED and WINDOW: valid keys that only the pacing wait of the faults suite
# and the rate-limit headers case of the perf suite use, so that no other
# request of the run counts against their windows: the cluster preloads
# lemlist_fdw, which paces each key across backends)
TEST_KEY_NAMES=(ALPHA BETA FORBIDDEN WRONG HELD SPARE PACED WINDOW)

# shared_preload_libraries of the throw-away cluster, space-separated: the
# one place to add a library.  pg_cron runs the scheduled refreshes of the
# cron suite (Debian's postgresql-N-cron); lemlist_fdw preloaded paces the
# backends that share a key together, through shared memory (the perf suite
# checks it); a library that PG_CONFIG's server does not have is left out
# with a warning.
PRELOAD_LIBRARIES="pg_cron lemlist_fdw"
# the database whose jobs pg_cron runs: pg_regress's (demo.sh sets its own)
CRON_DATABASE=${CRON_DATABASE:-contrib_regression}

say()
{
    printf '==> %s\n' "$*"
}

warn()
{
    printf 'warning: %s\n' "$*" >&2
}

die()
{
    printf 'error: %s\n' "$*" >&2
    exit 1
}

is_root()
{
    [ "$(id -u)" -eq 0 ]
}

# run_quiet LOG CMD...: run CMD with its output in LOG; show LOG when it fails.
run_quiet()
{
    local log=$1 rc=0
    shift
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf 'error: command failed (exit %d): %s\n' "$rc" "$*" >&2
        printf -- '----- output (last 200 lines of %s) -----\n' "$log" >&2
        tail -n 200 "$log" >&2
        printf -- '----- end of output -----\n' >&2
    fi
    return "$rc"
}

# as_pg CMD...: run CMD as the cluster's OS user (postgres when we are root,
# since initdb refuses root), from a directory that user can enter.
as_pg()
{
    if is_root; then
        (cd "${WORKDIR:-/}" && runuser -u postgres -- "$@")
    else
        (cd "${WORKDIR:-/}" && "$@")
    fi
}

pg_bin()
{
    printf '%s/%s' "$("$PG_CONFIG" --bindir)" "$1"
}

# cleanup: the EXIT trap.  Stops what we started, removes the temp dir.
cleanup()
{
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    if [ -n "$KEEP_RUNNING" ]; then
        exit "$rc"
    fi
    if [ -n "$PG_STARTED" ]; then
        as_pg "$(pg_bin pg_ctl)" -D "$PGDATA_TEST" -m fast -w stop >/dev/null 2>&1 \
            || warn "could not stop the cluster in $PGDATA_TEST"
    fi
    stop_mock
    stop_tls_mock
    if [ -n "$WORKDIR" ] && [ -d "$WORKDIR" ]; then
        if [ "${KEEP_TMP:-}" = 1 ]; then
            say "kept temporary directory $WORKDIR"
        else
            rm -rf "$WORKDIR"
        fi
    fi
    exit "$rc"
}

# setup_workdir: create the temporary directory and install the trap.
# When root, the directory belongs to postgres, which runs the cluster.
setup_workdir()
{
    trap cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # keep it short: the unix socket path must fit in 107 bytes
    WORKDIR=$(mktemp -d /tmp/lemlist_fdw.XXXXXX)
    if is_root; then
        getent passwd postgres >/dev/null \
            || die "running as root needs the \"postgres\" OS user (from the postgresql-N packages)"
        chown postgres: "$WORKDIR"
    fi
}

# install_deps: install missing Debian packages (SKIP_DEPS=1 skips it).
install_deps()
{
    if [ "${SKIP_DEPS:-}" = 1 ]; then
        say "skipping dependency check (SKIP_DEPS=1)"
        return 0
    fi
    bash "$LEMLIST_ROOT/test/install-deps.sh"
}

# build_install: compile warning-free, then install into PG_CONFIG's server.
build_install()
{
    if [ "${SKIP_BUILD:-}" = 1 ]; then
        say "skipping build and install (SKIP_BUILD=1)"
        return 0
    fi
    [ -x "$PG_CONFIG" ] || die "pg_config not found at $PG_CONFIG (set PG_CONFIG)"
    say "building lemlist_fdw ($("$PG_CONFIG" --version))"
    run_quiet "$WORKDIR/build.log" \
        make -C "$LEMLIST_ROOT" -j "$(nproc 2>/dev/null || echo 2)" WERROR=1 PG_CONFIG="$PG_CONFIG" \
        || die "build failed"
    say "installing into $("$PG_CONFIG" --pkglibdir)"
    local sudo=()
    if ! is_root && ! [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
        command -v sudo >/dev/null || die "make install needs root: run as root or install sudo"
        sudo=(sudo)
    fi
    run_quiet "$WORKDIR/install.log" \
        "${sudo[@]}" make -C "$LEMLIST_ROOT" install PG_CONFIG="$PG_CONFIG" \
        || die "make install failed"
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free()
{
    "$LEMLIST_PYTHON" - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# like the mock's server: connections in TIME_WAIT do not make the port busy
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# first_free_port PORT: print the first of PORT .. PORT+49 on which nothing
# listens; false (and nothing printed) when all 50 are in use.
first_free_port()
{
    local port=$1 tries=0
    until port_free "$port"; do
        tries=$((tries + 1))
        [ "$tries" -lt 50 ] || return 1
        port=$((port + 1))
    done
    printf '%s' "$port"
}

# wait_for_mock URL PID [CA_FILE]: poll URL/__mock/health for up to ~10 s
# (over https through CA_FILE when given); fail early if PID died.
wait_for_mock()
{
    "$LEMLIST_PYTHON" - "$1/__mock/health" "$2" "${3:-}" <<'EOF'
import os, ssl, sys, time, urllib.request
url, pid, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
handlers = [urllib.request.ProxyHandler({})]
if ca:
    handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca)))
opener = urllib.request.build_opener(*handlers)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        with opener.open(url, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    time.sleep(0.1)
sys.exit(1)
EOF
}

# start_mock: start test/mock_lemlist.py on 127.0.0.1 and wait for its health
# endpoint.  Sets MOCK_PID and LEMLIST_MOCK_URL.
start_mock()
{
    local script="${MOCK_SCRIPT:-$LEMLIST_ROOT/test/mock_lemlist.py}" port
    [ -f "$script" ] || die "mock API not found: $script"
    if [ -n "${MOCK_PORT:-}" ]; then
        port=$MOCK_PORT
        port_free "$port" || die "MOCK_PORT $port is in use"
    else
        port=$(first_free_port 18089) || die "no free port for the mock in 18089-18138"
    fi
    say "starting mock lemlist API on 127.0.0.1:$port"
    [ -n "${LEMLIST_TEST_KEY_ALPHA:-}" ] || make_test_keys
    mock_key_args
    # shellcheck disable=SC2086 # MOCK_ARGS is split into arguments on purpose
    "$LEMLIST_PYTHON" "$script" --port "$port" --host 127.0.0.1 "${MOCK_KEY_ARGS[@]}" ${MOCK_ARGS:-} \
        --pidfile "$WORKDIR/mock.pid" </dev/null >"$WORKDIR/mock.log" 2>&1 &
    MOCK_PID=$!
    LEMLIST_MOCK_URL="http://127.0.0.1:$port"
    if ! wait_for_mock "$LEMLIST_MOCK_URL" "$MOCK_PID"
    then
        printf -- '----- mock log -----\n' >&2
        tail -n 50 "$WORKDIR/mock.log" >&2
        die "the mock did not answer $LEMLIST_MOCK_URL/__mock/health within 10 s"
    fi
    export LEMLIST_MOCK_URL
}

# stop_mock: stop the mock we started (and the pid of its pidfile, if other).
stop_mock()
{
    local pid
    [ -n "$MOCK_PID" ] || return 0
    if [ -s "$WORKDIR/mock.pid" ]; then
        pid=$(tr -dc '0-9' <"$WORKDIR/mock.pid")
        if [ -n "$pid" ] && [ "$pid" != "$MOCK_PID" ]; then
            kill "$pid" 2>/dev/null
        fi
    fi
    kill "$MOCK_PID" 2>/dev/null
    wait "$MOCK_PID" 2>/dev/null
    MOCK_PID=""
    return 0
}

# make_test_keys: one random API key per name of TEST_KEY_NAMES, in the
# unexported shell variables LEMLIST_TEST_KEY_<NAME> (start_mock calls it).
# Random, so that the search for them (check_no_keys) cannot match anything
# else.  They reach the mock as arguments and the suites' psql through the
# environment (start_cluster exports them once the postmaster runs: it never
# has them); never printed.
make_test_keys()
{
    local name
    for name in "${TEST_KEY_NAMES[@]}"; do
        printf -v "LEMLIST_TEST_KEY_$name" 'regress-%s-%s' "${name,,}" \
            "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    done
}

# export_test_keys: hand the keys, if made, to the processes started from now
# on (make installcheck, hence pg_regress and psql, whose \getenv reads them).
export_test_keys()
{
    local name
    [ -n "${LEMLIST_TEST_KEY_ALPHA:-}" ] || return 0
    for name in "${TEST_KEY_NAMES[@]}"; do
        export "LEMLIST_TEST_KEY_$name"
    done
}

# mock_key_args: the mock's --keys and --forbidden-keys (into MOCK_KEY_ARGS)
# when make_test_keys ran: the suites' valid and forbidden keys, the mock's
# defaults, and keys that are no secret: regress-team-001 .. 009 (the teams
# suite's agency, each a team of its own with the mock's key_teams) and
# regress-many-001 .. 300 (the perf suite paces more keys than the shared
# table holds); --verbose so that its log has a line per request.
mock_key_args()
{
    MOCK_KEY_ARGS=()
    [ -n "${LEMLIST_TEST_KEY_ALPHA:-}" ] || return 0
    MOCK_KEY_ARGS=(--verbose
        --keys "test-key-alpha,test-key-beta,$LEMLIST_TEST_KEY_ALPHA,$LEMLIST_TEST_KEY_BETA,$LEMLIST_TEST_KEY_PACED,$LEMLIST_TEST_KEY_WINDOW,$(seq -f 'regress-team-%03g' -s, 1 9),$(seq -f 'regress-many-%03g' -s, 1 300)"
        --forbidden-keys "test-key-forbidden,$LEMLIST_TEST_KEY_FORBIDDEN")
}

# check_no_keys FILE...: true when none of the test keys, nor the Basic
# credentials made of one, appears in any FILE; otherwise names (never shows)
# each key found and where.
check_no_keys()
{
    local name key b64 f found=0
    for name in "${TEST_KEY_NAMES[@]}"; do
        eval "key=\${LEMLIST_TEST_KEY_$name:-}"
        [ -n "$key" ] || continue
        b64=$(printf ':%s' "$key" | base64 -w0)
        for f in "$@"; do
            [ -f "$f" ] || continue
            if grep -qF -e "$key" -e "$b64" -- "$f"; then
                printf 'API key %s (LEMLIST_TEST_KEY_%s) found in %s\n' "${name,,}" "$name" "$f"
                found=1
            fi
        done
    done
    [ "$found" -eq 0 ]
}

# make_test_certs: a throw-away CA, a certificate it signs for 127.0.0.1 and
# localhost, and a second, unrelated CA, in WORKDIR/tls (readable by the
# cluster's OS user).  Sets LEMLIST_TLS_CA_FILE and LEMLIST_TLS_WRONG_CA_FILE.
make_test_certs()
{
    local dir="$WORKDIR/tls"
    command -v openssl >/dev/null || die "openssl not found (test/install-deps.sh installs it)"
    mkdir -p "$dir"
    # what strict X.509 checking (Python 3.13's default, OpenSSL's
    # X509_V_FLAG_X509_STRICT) asks of a CA and of the certificate it signs
    printf '%s\n' 'subjectAltName = IP:127.0.0.1, DNS:localhost' \
        'basicConstraints = critical, CA:FALSE' \
        'keyUsage = critical, digitalSignature, keyEncipherment' \
        'extendedKeyUsage = serverAuth' \
        'subjectKeyIdentifier = hash' \
        'authorityKeyIdentifier = keyid:always' >"$dir/server.ext"
    # the CAs are self-signed from a request with exactly these extensions
    # (req -x509 -addext would duplicate its configuration's with OpenSSL 1.1)
    printf '%s\n' 'basicConstraints = critical, CA:TRUE' \
        'keyUsage = critical, keyCertSign, cRLSign' \
        'subjectKeyIdentifier = hash' >"$dir/ca.ext"
    run_quiet "$WORKDIR/openssl.log" sh -c '
        set -e
        cd "$1"
        key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        for ca in ca wrong-ca; do
            openssl req $key -subj "/CN=lemlist_fdw regress $ca" -keyout $ca.key -out $ca.csr
            openssl x509 -req -in $ca.csr -signkey $ca.key -days 2 -extfile ca.ext -out $ca.pem
        done
        openssl req $key -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days 2 -extfile server.ext -out server.pem
        chmod 644 ca.pem wrong-ca.pem server.pem
    ' sh "$dir" || die "could not make the test certificates"
    if is_root; then
        chown -R postgres: "$dir"
    fi
    LEMLIST_TLS_CA_FILE="$dir/ca.pem"
    LEMLIST_TLS_WRONG_CA_FILE="$dir/wrong-ca.pem"
    export LEMLIST_TLS_CA_FILE LEMLIST_TLS_WRONG_CA_FILE
}

# start_tls_mock: a second mock, over https with make_test_certs'
# certificate, on 127.0.0.1.  Sets MOCK_TLS_PID and LEMLIST_MOCK_TLS_URL
# (https://127.0.0.1:PORT).  Call it after start_mock.
start_tls_mock()
{
    local script="$LEMLIST_ROOT/test/mock_lemlist.py" port
    make_test_certs
    if [ -n "${MOCK_TLS_PORT:-}" ]; then
        port=$MOCK_TLS_PORT
        port_free "$port" || die "MOCK_TLS_PORT $port is in use"
    else
        port=$(first_free_port $((${LEMLIST_MOCK_URL##*:} + 100))) \
            || die "no free port for the https mock"
    fi
    say "starting mock lemlist API over https on 127.0.0.1:$port"
    mock_key_args
    "$LEMLIST_PYTHON" "$script" --port "$port" --host 127.0.0.1 "${MOCK_KEY_ARGS[@]}" \
        --tls-cert "$WORKDIR/tls/server.pem" --tls-key "$WORKDIR/tls/server.key" \
        --pidfile "$WORKDIR/mock-tls.pid" </dev/null >"$WORKDIR/mock-tls.log" 2>&1 &
    MOCK_TLS_PID=$!
    LEMLIST_MOCK_TLS_URL="https://127.0.0.1:$port"
    if ! wait_for_mock "$LEMLIST_MOCK_TLS_URL" "$MOCK_TLS_PID" "$LEMLIST_TLS_CA_FILE"
    then
        printf -- '----- https mock log -----\n' >&2
        tail -n 50 "$WORKDIR/mock-tls.log" >&2
        die "the https mock did not answer $LEMLIST_MOCK_TLS_URL/__mock/health within 10 s"
    fi
    export LEMLIST_MOCK_TLS_URL
}

# stop_tls_mock: stop the https mock we started.
stop_tls_mock()
{
    [ -n "$MOCK_TLS_PID" ] || return 0
    kill "$MOCK_TLS_PID" 2>/dev/null
    wait "$MOCK_TLS_PID" 2>/dev/null
    MOCK_TLS_PID=""
    return 0
}

# prepare_mockctl: make sure the cluster's OS user can run test/mockctl.py;
# if a parent directory hides it, copy the test/ support files into WORKDIR.
prepare_mockctl()
{
    LEMLIST_MOCKCTL="$LEMLIST_ROOT/test/mockctl.py"
    is_root || return 0
    if ! (cd / && runuser -u postgres -- test -r "$LEMLIST_MOCKCTL"); then
        mkdir -p "$WORKDIR/support"
        cp "$LEMLIST_ROOT"/test/*.py "$WORKDIR/support/" 2>/dev/null || true
        chmod -R a+rX "$WORKDIR/support"
        LEMLIST_MOCKCTL="$WORKDIR/support/mockctl.py"
        say "repository not readable by postgres: using a copy of test/ in $WORKDIR/support"
    fi
}

# start_cluster: initdb + start a cluster listening only on a unix socket in
# WORKDIR (and, with LISTEN_TCP, on 127.0.0.1: then PGPORT_TEST moves to the
# first port free there).  The postmaster's environment carries LEMLIST_MOCK_URL,
# LEMLIST_MOCKCTL and LEMLIST_PYTHON for COPY ... FROM PROGRAM in the tests.
start_cluster()
{
    PGDATA_TEST="$WORKDIR/data"
    prepare_mockctl
    local lib preload=""
    for lib in $PRELOAD_LIBRARIES; do
        if [ -f "$("$PG_CONFIG" --pkglibdir)/$lib.so" ]; then
            preload="${preload:+$preload,}$lib"
        else
            warn "$lib is not installed in $("$PG_CONFIG" --pkglibdir): not preloaded"
        fi
    done
    local listen=""
    if [ -n "$LISTEN_TCP" ]; then
        listen=127.0.0.1
        PGPORT_TEST=$(first_free_port "$PGPORT_TEST") || die "no free port from $PGPORT_TEST on"
    fi
    say "creating a throw-away cluster in $PGDATA_TEST"
    run_quiet "$WORKDIR/initdb.log" \
        as_pg "$(pg_bin initdb)" -D "$PGDATA_TEST" -U postgres -A trust \
        --locale=C -E UTF8 --no-sync \
        || die "initdb failed"
    cat >>"$PGDATA_TEST/postgresql.conf" <<EOF

# added by test/lib.sh
listen_addresses = '$listen'
unix_socket_directories = '$WORKDIR'
port = $PGPORT_TEST
fsync = off
synchronous_commit = off
full_page_writes = off
lc_messages = 'C'
max_connections = 20
shared_preload_libraries = '$preload'
# pg_cron: the jobs of database $CRON_DATABASE, run over the unix socket
cron.database_name = '$CRON_DATABASE'
cron.host = '$WORKDIR'
EOF
    if [ -n "$LOG_EVERYTHING" ]; then
        cat >>"$PGDATA_TEST/postgresql.conf" <<EOF
# test/run.sh: log everything, so that its search for the API keys at the
# end covers every statement and every message, down to DEBUG5
log_min_messages = debug5
log_statement = all
EOF
    fi
    if [ -n "${PG_EXTRA_CONF:-}" ]; then
        printf '%s\n' "$PG_EXTRA_CONF" >>"$PGDATA_TEST/postgresql.conf"
    fi
    say "starting postgres on socket $WORKDIR${listen:+ and $listen}, port $PGPORT_TEST"
    run_quiet "$WORKDIR/pg_ctl.log" \
        as_pg env LEMLIST_MOCK_URL="$LEMLIST_MOCK_URL" \
        LEMLIST_MOCKCTL="$LEMLIST_MOCKCTL" \
        LEMLIST_PYTHON="$LEMLIST_PYTHON" \
        "$(pg_bin pg_ctl)" -D "$PGDATA_TEST" -l "$WORKDIR/postgres.log" \
        -w -t "${PG_START_TIMEOUT:-60}" ${POSTGRES_WRAPPER:+-p "$POSTGRES_WRAPPER"} start \
        || {
            tail -n 50 "$WORKDIR/postgres.log" >&2 2>/dev/null
            die "postgres did not start"
        }
    PG_STARTED=1
    export PGHOST="$WORKDIR" PGPORT="$PGPORT_TEST" PGUSER=postgres
    export_test_keys
}

# show_logs: tail of the server and mock logs, for failures.
show_logs()
{
    local f
    for f in postgres.log mock.log; do
        if [ -s "$WORKDIR/$f" ]; then
            printf -- '----- %s (last 40 lines) -----\n' "$f"
            tail -n 40 "$WORKDIR/$f"
        fi
    done
}
