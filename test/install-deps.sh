#!/usr/bin/env bash
# test/install-deps.sh: install the Debian packages lemlist_fdw needs to build and test
#
#   test/install-deps.sh                install what is missing
#   test/install-deps.sh --print-major  print the PostgreSQL major it targets
#   test/install-deps.sh --list-base    print the packages (one a line) but
#                                       pg_cron, whose presence depends on the suite,
#                                       and the drivers' (test/drivers)
#
# The major is PG_MAJOR when set, else that of PG_CONFIG (its --version, or the
# /usr/lib/postgresql/N/ path it names), else the newest server installed
# under /usr/lib/postgresql, else the one Debian's "postgresql" package of
# this suite depends on.  Checks each package with dpkg-query and installs
# only the missing ones with apt-get (running "apt-get update" only then);
# postgresql-N-cron is installed when the suite has it (the cron suite is
# skipped, by name, where it does not).  Unless LEMLIST_DRIVERS=0, also what
# the drivers' tests (test/drivers) run on: a JDK and pgjdbc, psycopg 3,
# Node.js and npm (when no node or npm is on PATH).  Uses sudo when not root.
set -euo pipefail

say()
{
    printf '==> %s\n' "$*"
}

die()
{
    printf 'error: %s\n' "$*" >&2
    exit 1
}

sudo=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
    sudo=(sudo)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_quiet CMD...: output to $log, shown only when CMD fails
run_quiet()
{
    if ! "$@" >"$log" 2>&1; then
        printf 'error: command failed: %s\n' "$*" >&2
        tail -n 100 "$log" >&2
        exit 1
    fi
}

apt_updated=""
apt_update()
{
    [ -z "$apt_updated" ] || return 0
    run_quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    apt_updated=1
}

# debian_default_major: the major of the suite's "postgresql" package
# (its version is like 15+248)
debian_default_major()
{
    local v
    v=$(apt-cache policy postgresql 2>/dev/null | sed -nE 's/^ *Candidate: ([0-9]+)\+.*/\1/p')
    if [ -z "$v" ]; then
        apt_update
        v=$(apt-cache policy postgresql 2>/dev/null | sed -nE 's/^ *Candidate: ([0-9]+)\+.*/\1/p')
    fi
    printf '%s' "$v"
}

target_major()
{
    local m=""
    if [ -n "${PG_MAJOR:-}" ]; then
        m=$PG_MAJOR
    elif [ -n "${PG_CONFIG:-}" ] && [ -x "$PG_CONFIG" ]; then
        m=$("$PG_CONFIG" --version | sed -nE 's/^PostgreSQL ([0-9]+).*/\1/p')
    elif [ -n "${PG_CONFIG:-}" ]; then
        m=$(sed -nE 's|^/usr/lib/postgresql/([0-9]+)/bin/pg_config$|\1|p' <<<"$PG_CONFIG")
        [ -n "$m" ] || die "PG_CONFIG=$PG_CONFIG does not exist, and names no Debian major (/usr/lib/postgresql/N/bin/pg_config)"
    else
        m=$(ls /usr/lib/postgresql/*/bin/pg_config 2>/dev/null \
            | sed -nE 's|^/usr/lib/postgresql/([0-9]+)/bin/pg_config$|\1|p' | sort -n | tail -n 1)
        [ -n "$m" ] || m=$(debian_default_major)
    fi
    [[ "$m" =~ ^[0-9]+$ ]] || die "cannot tell which PostgreSQL major to test (set PG_CONFIG or PG_MAJOR)"
    printf '%s' "$m"
}

MAJOR=$(target_major)

base_packages()
{
    printf '%s\n' \
        "postgresql-$MAJOR" "postgresql-server-dev-$MAJOR" libcurl4-openssl-dev libjansson-dev libssl-dev \
        build-essential pkg-config python3 ca-certificates openssl curl \
        debhelper dpkg-dev postgresql-server-dev-all
}

# the drivers' tests (test/drivers/drivers.sh): a JDK (for the single-file
# java launcher) and pgjdbc, psycopg 3; node-postgres comes from npm
driver_packages()
{
    printf '%s\n' default-jdk-headless libpostgresql-jdbc-java python3-psycopg
    command -v node >/dev/null || printf '%s\n' nodejs
    command -v npm >/dev/null || printf '%s\n' npm
}

case "${1:-}" in
    --print-major)
        printf '%s\n' "$MAJOR"
        exit 0
        ;;
    --list-base)
        base_packages
        exit 0
        ;;
    "") ;;
    *) die "unexpected argument \"$1\"" ;;
esac

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    die "not a Debian-like system (no dpkg-query/apt-get): install these by hand: $(base_packages | paste -sd' ' -) postgresql-$MAJOR-cron"
fi

installed()
{
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# available PKG: the suite's archive has PKG (an installable candidate)
available()
{
    local c
    c=$(apt-cache policy "$1" 2>/dev/null | sed -nE 's/^ *Candidate: (.*)/\1/p')
    [ -n "$c" ] && [ "$c" != "(none)" ]
}

missing=()
while read -r p; do
    installed "$p" || missing+=("$p")
done < <(base_packages)
if [ "${LEMLIST_DRIVERS:-1}" != 0 ]; then
    while read -r p; do
        installed "$p" || missing+=("$p")
    done < <(driver_packages)
fi

# pg_cron, where this suite packages it for MAJOR
cron="postgresql-$MAJOR-cron"
if ! installed "$cron"; then
    if ! available "$cron" && [ "${#missing[@]}" -gt 0 ]; then
        apt_update
    fi
    if available "$cron"; then
        missing+=("$cron")
    else
        say "$cron is not in this suite's archive: the cron suite will be skipped"
    fi
fi

if [ "${#missing[@]}" -eq 0 ]; then
    say "dependencies for PostgreSQL $MAJOR: all installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] && [ "${#sudo[@]}" -eq 0 ]; then
    die "missing packages (${missing[*]}) and not root, and sudo is not available: run as root"
fi

say "installing missing packages: ${missing[*]}"
apt_update
run_quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q -o Dpkg::Use-Pty=0 "${missing[@]}"
say "dependencies for PostgreSQL $MAJOR: installed ${#missing[@]} package(s)"
