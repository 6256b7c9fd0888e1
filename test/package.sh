#!/usr/bin/env bash
# test/package.sh: build the Debian package of lemlist_fdw, install it, load it
#
# Copies the checkout into a temporary directory, builds the binary package
# postgresql-N-lemlist-fdw there (N: PG_CONFIG's major) with
# dpkg-buildpackage (debian/, through pg_buildext, debian/control made anew
# for that major by "pg_buildext updatecontrol"), checks what it holds,
# installs it, and in a throw-away cluster runs CREATE EXTENSION lemlist_fdw
# and a query against the mock.
#
# Where it installs depends on PG_CONFIG:
#   /usr/lib/postgresql/N/bin/pg_config (the default): into the system with
#       dpkg -i, as an administrator would; the package is removed at the end
#       unless it was installed before (test/run.sh installs the checkout's
#       own build afterwards).  Needs root or sudo.
#   ROOT/usr/lib/postgresql/N/bin/pg_config (a private copy of the server
#       tree): unpacked into ROOT with dpkg -x; the system is not touched.
#
#   test/package.sh
#   KEEP_TMP=1 test/package.sh   keep the temporary directory (the .deb, logs)
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

PKG_INSTALLED_HERE=""		# set once dpkg -i installed a package that was not there
PKG_NAME=""

# remove_package: the EXIT trap's first half; undo our dpkg -i, then the
# usual cleanup (cluster, mock, temporary directory).
remove_package()
{
    local rc=$?
    set +e
    if [ -n "$PKG_INSTALLED_HERE" ]; then
        say "removing $PKG_NAME (it was not installed before)"
        "${SUDO[@]}" dpkg -r "$PKG_NAME" >"$WORKDIR/dpkg-remove.log" 2>&1 \
            || { warn "dpkg -r $PKG_NAME failed"; cat "$WORKDIR/dpkg-remove.log" >&2; }
    fi
    (exit "$rc")
    cleanup
}

cd "$LEMLIST_ROOT"
setup_workdir
trap remove_package EXIT
install_deps

[ -x "$PG_CONFIG" ] || die "pg_config not found at $PG_CONFIG (set PG_CONFIG)"
major=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
[ -n "$major" ] || die "cannot tell the PostgreSQL major version from $PG_CONFIG"
PKG_NAME="postgresql-$major-lemlist-fdw"
pkglibdir=$("$PG_CONFIG" --pkglibdir)
case "$pkglibdir" in
    */usr/lib/postgresql/"$major"/lib) root=${pkglibdir%/usr/lib/postgresql/"$major"/lib} ;;
    *) die "$PG_CONFIG is not laid out like Debian's server ($pkglibdir)" ;;
esac
SUDO=()
if [ -z "$root" ] && ! is_root; then
    command -v sudo >/dev/null || die "installing a package needs root: run as root or install sudo"
    SUDO=(sudo)
fi

# build from a clean copy: never in the checkout, whatever it holds
src="$WORKDIR/pkg/lemlist-fdw"
mkdir -p "$src"
tar -C "$LEMLIST_ROOT" --exclude=./.git --exclude=./results --exclude='*.o' \
    --exclude='*.so' --exclude='*.bc' --exclude=__pycache__ \
    --exclude='./regression.*' -cf - . | tar -C "$src" -xf -
# only this major, whatever other server-dev packages are installed
# (postgresql-common's supported-versions reads PG_SUPPORTED_VERSIONS):
# debian/control names the packages of the majors it builds
say "building $PKG_NAME (pg_buildext updatecontrol; dpkg-buildpackage -us -uc -b)"
run_quiet "$WORKDIR/updatecontrol.log" \
    env -C "$src" PG_SUPPORTED_VERSIONS="$major" pg_buildext updatecontrol \
    || die "pg_buildext updatecontrol failed"
grep -qx "Package: $PKG_NAME" "$src/debian/control" \
    || die "pg_buildext updatecontrol made no $PKG_NAME in debian/control"
run_quiet "$WORKDIR/dpkg-buildpackage.log" \
    env -C "$src" PG_SUPPORTED_VERSIONS="$major" dpkg-buildpackage -us -uc -b \
    || die "dpkg-buildpackage failed"
deb=""
for f in "$WORKDIR/pkg/${PKG_NAME}_"*.deb; do
    [ -f "$f" ] && deb=$f
done
[ -n "$deb" ] || die "dpkg-buildpackage made no $PKG_NAME package"
say "built $(basename "$deb")"

# what it holds: the library, the control file and the install script, for
# this server's directories
dpkg-deb -c "$deb" >"$WORKDIR/contents.txt"
sharedir=$("$PG_CONFIG" --sharedir)
for f in "$pkglibdir/lemlist_fdw.so" "$sharedir/extension/lemlist_fdw.control" \
    "$sharedir/extension/lemlist_fdw--1.0.sql" "$sharedir/extension/lemlist_fdw--1.0--1.1.sql" \
    "$sharedir/extension/lemlist_fdw--1.1--1.2.sql"; do
    grep -q " \.${f#"$root"}\$" "$WORKDIR/contents.txt" \
        || die "$(basename "$deb") lacks ${f#"$root"}"
done
echo "    $(grep -c '^-' "$WORKDIR/contents.txt") files; depends on: $(dpkg-deb -f "$deb" Depends)"

if [ -z "$root" ]; then
    if [ "$(dpkg-query -W -f='${Status}' "$PKG_NAME" 2>/dev/null || true)" != "install ok installed" ]; then
        PKG_INSTALLED_HERE=1
    fi
    say "installing it into the system (dpkg -i)"
    run_quiet "$WORKDIR/dpkg-install.log" "${SUDO[@]}" dpkg -i "$deb" \
        || die "dpkg -i failed"
    [ "$(dpkg-query -W -f='${Status}' "$PKG_NAME")" = "install ok installed" ] \
        || die "$PKG_NAME is not installed after dpkg -i"
    dpkg -S "$pkglibdir/lemlist_fdw.so" | grep -q "^$PKG_NAME:" \
        || die "$pkglibdir/lemlist_fdw.so does not belong to $PKG_NAME"
else
    say "unpacking it into the private server tree $root (dpkg -x)"
    dpkg-deb -x "$deb" "$root"
fi
# the server will load the packaged library, byte for byte
mkdir -p "$WORKDIR/unpacked"
dpkg-deb -x "$deb" "$WORKDIR/unpacked"
cmp -s "$WORKDIR/unpacked/usr/lib/postgresql/$major/lib/lemlist_fdw.so" "$pkglibdir/lemlist_fdw.so" \
    || die "$pkglibdir/lemlist_fdw.so is not the packaged library"

start_mock
CRON_DATABASE=lemlist_package
# as most installations run it: CREATE EXTENSION, lemlist_fdw not preloaded
PRELOAD_LIBRARIES="pg_cron"
start_cluster

say "CREATE EXTENSION lemlist_fdw and a query against the mock"
# the query both sessions run: one campaign's stats for the first half of 2025
stats_query="SELECT campaign_id || ' ' || nb_leads FROM lemlist.campaign_stats
 WHERE campaign_id = 'cam_00001'
   AND start_date >= '2025-01-01 00:00:00+00' AND end_date <= '2025-06-30 23:59:59.999+00';"
PSQL=("$(pg_bin psql)" -X -q -v ON_ERROR_STOP=1 -P pager=off)
run_quiet "$WORKDIR/createdb.log" "${PSQL[@]}" -d postgres -c "CREATE DATABASE lemlist_package" \
    || die "could not create database lemlist_package"
out=$(LEMLIST_PACKAGE_KEY=test-key-alpha "${PSQL[@]}" -d lemlist_package -At 2>&1 <<EOF
CREATE EXTENSION lemlist_fdw;
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'lemlist_fdw';
CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw OPTIONS (api_url '$LEMLIST_MOCK_URL/api', cache_ttl '300');
\\set key \`printf "%s" "\$LEMLIST_PACKAGE_KEY"\`
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key :'key');
RESET log_statement;
\\unset key
CREATE SCHEMA lemlist;
IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist;
SELECT 'library ' || regexp_replace(probin, '.*/', '') FROM pg_proc WHERE proname = 'lemlist_fdw_handler';
$stats_query
EOF
) || {
    printf '%s\n' "$out" >&2
    show_logs
    die "the packaged extension does not work"
}
printf '%s\n' "$out" | sed 's/^/    /'
expected=$'version 1.2\nlibrary lemlist_fdw\ncam_00001 62'
[ "$out" = "$expected" ] || die "unexpected output from the packaged extension (expected: ${expected//$'\n'/, })"

# without preloading, backends share answers through the DSM registry from
# PostgreSQL 17 on (a second session reads the first one's answer within
# cache_ttl: no request); before 17 each backend keeps its own, and says so
say "a second session, lemlist_fdw not preloaded"
out=$("${PSQL[@]}" -d lemlist_package -At 2>&1 <<EOF
SELECT 'cache ' || scope || ' ' || coalesce(memory_from, '-') FROM lemlist_fdw_cache();
$stats_query
EOF
) || {
    printf '%s\n' "$out" >&2
    die "the packaged extension does not work in a second session"
}
requests=$("$LEMLIST_PYTHON" "$LEMLIST_MOCKCTL" --url "$LEMLIST_MOCK_URL" requests --count)
out="$out"$'\n'"requests $requests"
printf '%s\n' "$out" | sed 's/^/    /'
if [ "$major" -ge 17 ]; then
    expected=$'cache cluster dsm_registry\ncam_00001 62\nrequests 1'
else
    expected=$'cache backend -\ncam_00001 62\nrequests 2'
fi
[ "$out" = "$expected" ] || die "unexpected answer sharing without preloading (expected: ${expected//$'\n'/, })"
say "package test passed"
