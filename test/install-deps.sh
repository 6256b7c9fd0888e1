#!/usr/bin/env bash
# test/install-deps.sh: install the Debian packages lemlist_fdw needs to build and test
#
# Checks each package with dpkg-query and installs only the missing ones with
# apt-get (running "apt-get update" only then).  Uses sudo when not root.
set -euo pipefail

PACKAGES=(
    postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libjansson-dev
    make gcc pkg-config python3 ca-certificates openssl curl
    postgresql-15-cron debhelper dpkg-dev postgresql-server-dev-all
)

say()
{
    printf '==> %s\n' "$*"
}

die()
{
    printf 'error: %s\n' "$*" >&2
    exit 1
}

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    die "not a Debian-like system (no dpkg-query/apt-get): install these by hand: ${PACKAGES[*]}"
fi

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    say "dependencies: all installed"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null \
        || die "missing packages (${missing[*]}) and not root, and sudo is not available: run as root"
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

say "installing missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
run_quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
run_quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q -o Dpkg::Use-Pty=0 "${missing[@]}"
say "dependencies: installed ${#missing[@]} package(s)"
