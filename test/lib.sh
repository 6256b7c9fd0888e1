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
#   PG_CONFIG    pg_config of the target server (default PostgreSQL 15's)
#   PGPORT_TEST  port of the throw-away cluster (default 54329; unix socket only)
#   MOCK_PORT    port of the mock API on 127.0.0.1 (default: first free from 18089)
#   KEEP_TMP=1   keep the temporary directory and print its path
#   SKIP_DEPS=1  do not check the Debian packages
#   SKIP_BUILD=1 use the extension as already installed
#
# Nothing here ever prints an API key: keep it that way (no set -x).
set -euo pipefail

LEMLIST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
LEMLIST_PYTHON=/usr/bin/python3
PGPORT_TEST=${PGPORT_TEST:-54329}

WORKDIR=""					# the temporary directory (cluster, logs, copies)
PGDATA_TEST=""				# the cluster's data directory, once initdb ran
PG_STARTED=""				# set once pg_ctl start succeeded
MOCK_PID=""					# pid of the mock we started
LEMLIST_MOCK_URL=""			# root URL of the mock, like http://127.0.0.1:18089
LEMLIST_MOCKCTL="$LEMLIST_ROOT/test/mockctl.py"
KEEP_RUNNING=""				# set by demo.sh --keep: the trap leaves everything up

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
            || die "running as root needs the \"postgres\" OS user (from the postgresql-15 package)"
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

# start_mock: start test/mock_lemlist.py on 127.0.0.1 and wait for its health
# endpoint.  Sets MOCK_PID and LEMLIST_MOCK_URL.
start_mock()
{
    local script="$LEMLIST_ROOT/test/mock_lemlist.py" port tries
    [ -f "$script" ] || die "mock API not found: $script"
    if [ -n "${MOCK_PORT:-}" ]; then
        port=$MOCK_PORT
        port_free "$port" || die "MOCK_PORT $port is in use"
    else
        port=18089
        tries=0
        until port_free "$port"; do
            tries=$((tries + 1))
            [ "$tries" -lt 50 ] || die "no free port for the mock in 18089-18138"
            port=$((port + 1))
        done
    fi
    say "starting mock lemlist API on 127.0.0.1:$port"
    "$LEMLIST_PYTHON" "$script" --port "$port" --host 127.0.0.1 \
        --pidfile "$WORKDIR/mock.pid" </dev/null >"$WORKDIR/mock.log" 2>&1 &
    MOCK_PID=$!
    LEMLIST_MOCK_URL="http://127.0.0.1:$port"
    # poll /__mock/health for up to ~10 s; give up early if the mock died
    if ! "$LEMLIST_PYTHON" - "$LEMLIST_MOCK_URL/__mock/health" "$MOCK_PID" <<'EOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
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
# WORKDIR.  The postmaster's environment carries LEMLIST_MOCK_URL,
# LEMLIST_MOCKCTL and LEMLIST_PYTHON for COPY ... FROM PROGRAM in the tests.
start_cluster()
{
    PGDATA_TEST="$WORKDIR/data"
    prepare_mockctl
    say "creating a throw-away cluster in $PGDATA_TEST"
    run_quiet "$WORKDIR/initdb.log" \
        as_pg "$(pg_bin initdb)" -D "$PGDATA_TEST" -U postgres -A trust \
        --locale=C -E UTF8 --no-sync \
        || die "initdb failed"
    cat >>"$PGDATA_TEST/postgresql.conf" <<EOF

# added by test/lib.sh
listen_addresses = ''
unix_socket_directories = '$WORKDIR'
port = $PGPORT_TEST
fsync = off
synchronous_commit = off
full_page_writes = off
lc_messages = 'C'
max_connections = 20
EOF
    say "starting postgres on socket $WORKDIR, port $PGPORT_TEST"
    run_quiet "$WORKDIR/pg_ctl.log" \
        as_pg env LEMLIST_MOCK_URL="$LEMLIST_MOCK_URL" \
        LEMLIST_MOCKCTL="$LEMLIST_MOCKCTL" \
        LEMLIST_PYTHON="$LEMLIST_PYTHON" \
        "$(pg_bin pg_ctl)" -D "$PGDATA_TEST" -l "$WORKDIR/postgres.log" -w -t 60 start \
        || {
            tail -n 50 "$WORKDIR/postgres.log" >&2 2>/dev/null
            die "postgres did not start"
        }
    PG_STARTED=1
    export PGHOST="$WORKDIR" PGPORT="$PGPORT_TEST" PGUSER=postgres
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
