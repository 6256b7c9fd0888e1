#!/usr/bin/env bash
# test/matrix.sh: the test command on every PostgreSQL major Debian carries
#
#   test/matrix.sh [MAJOR...]     default: 13 15 17 18 19
#   test/matrix.sh --roots-only [MAJOR...]   only make (or check) the roots
#
# For each major, a Debian root of the suite that carries it (13 bullseye,
# 15 bookworm, 17 trixie, 18 sid, 19 experimental on top of sid, only the
# PostgreSQL packages taken from experimental), made by mmdebstrap from the
# Debian archive apt uses here, with that major's server, its dev package,
# its pg_cron where the suite has one, and the build and test dependencies
# of test/install-deps.sh.  The working tree (tracked and untracked files,
# not .git nor what .gitignore ignores) is copied in; the build is checked
# warning-free (make WERROR=1, i.e. -Wall -Wextra -Werror) and the README's
# test command, test/run.sh, runs inside (with LEMLIST_DRIVERS=0: the
# drivers' tests, test/drivers, run with the test command on the host).
# Each root runs in a mount and PID namespace of its own: the mounts (/proc,
# /sys, /dev, /tmp) and every process started inside (cluster, mocks) go
# when it ends, on failure too.
#
# Roots are cached in MATRIX_CACHE (default /var/cache/lemlist_fdw/matrix),
# one directory per major, and rebuilt when missing, unfinished or made for
# another package list; "MATRIX_REBUILD=1" rebuilds them anyway.  One line
# per major, then the sum: "N passed, M failed[, K skipped]".
#
# Environment knobs:
#   MATRIX_CACHE    where the roots live
#   MATRIX_MIRROR   Debian archive URL (default: the one apt uses here)
#   MATRIX_REBUILD=1  rebuild the roots
#   MATRIX_KEEP_LOGS=DIR  keep each major's logs in DIR (default: a temp dir,
#                   removed unless something failed)
#   MATRIX_PARALLEL_BUILD=0  make the roots one after another, not ahead of
#                   the major under test
set -euo pipefail

LEMLIST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
ALL_MAJORS=(13 15 17 18 19)
MATRIX_CACHE=${MATRIX_CACHE:-/var/cache/lemlist_fdw/matrix}

say()
{
    printf '==> %s\n' "$*"
}

die()
{
    printf 'error: %s\n' "$*" >&2
    exit 1
}

ROOTS_ONLY=""
case "${1:-}" in
    -h | --help)
        sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    --roots-only)
        ROOTS_ONLY=1
        shift
        ;;
esac

# suite_of MAJOR: the Debian suite whose archive carries that major
suite_of()
{
    case "$1" in
        13) echo bullseye ;;
        15) echo bookworm ;;
        17) echo trixie ;;
        18) echo sid ;;
        19) echo experimental ;;
        *) return 1 ;;
    esac
}

# the Debian archive apt uses on this machine (its first Debian source that
# is not the security archive)
default_mirror()
{
    local uri
    uri=$(apt-get indextargets --format '$(ORIGIN) $(LABEL) $(REPO_URI)' 2>/dev/null \
        | awk '$1 == "Debian" && $2 == "Debian" { print $3; exit }')
    printf '%s' "${uri:-http://deb.debian.org/debian/}"
}

[ "$(id -u)" -eq 0 ] || die "test/matrix.sh makes Debian roots and chroots into them: run it as root"

majors=("$@")
[ "${#majors[@]}" -gt 0 ] || majors=("${ALL_MAJORS[@]}")
for m in "${majors[@]}"; do
    suite_of "$m" >/dev/null || die "no Debian suite for PostgreSQL \"$m\" (known: ${ALL_MAJORS[*]})"
done

# what the roots are made with: mmdebstrap, and unshare/chroot (util-linux,
# coreutils)
if ! command -v mmdebstrap >/dev/null; then
    say "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap >/dev/null \
        || die "could not install mmdebstrap"
fi

MIRROR=${MATRIX_MIRROR:-$(default_mirror)}
MIRROR=${MIRROR%/}
LOGDIR=${MATRIX_KEEP_LOGS:-$(mktemp -d /tmp/lemlist_fdw-matrix.XXXXXX)}
mkdir -p "$LOGDIR" "$MATRIX_CACHE"

# packages MAJOR: what a root for MAJOR is made with, one per line:
# test/install-deps.sh's list for that major, but pg_cron, which make_root
# installs only where the root's apt finds it
packages()
{
    PG_MAJOR=$1 bash "$LEMLIST_ROOT/test/install-deps.sh" --list-base
}

# root_stamp MAJOR: what a finished root records; a root whose stamp differs
# is rebuilt
root_stamp()
{
    printf 'major=%s suite=%s mirror=%s packages=%s\n' "$1" "$(suite_of "$1")" "$MIRROR" \
        "$(packages "$1" | tr '\n' ' ')"
}

# make_root MAJOR: make (or reuse) the root of MAJOR in MATRIX_CACHE/pgMAJOR;
# its output goes to LOGDIR/root-MAJOR.log
make_root()
{
    local major=$1 suite dir tmp stamp
    suite=$(suite_of "$major")
    dir="$MATRIX_CACHE/pg$major"
    stamp=$(root_stamp "$major")
    if [ "${MATRIX_REBUILD:-}" != 1 ] && [ -f "$dir/.lemlist-matrix-root" ] \
        && [ "$(cat "$dir/.lemlist-matrix-root")" = "$stamp" ]; then
        echo "cached root $dir ($suite)"
        return 0
    fi
    tmp="$dir.new"
    rm -rf "$tmp"
    local include args=()
    include=$(packages "$major" | paste -sd, -)
    # sid's and experimental's Release files may have expired in a snapshot
    # of the archive
    args=(--variant=apt --aptopt='Acquire::Check-Valid-Until "false"'
        --aptopt='APT::Install-Recommends "false"')
    if [ "$suite" = experimental ]; then
        # experimental has only what is new there: sid underneath, and apt
        # takes from experimental only PostgreSQL's own packages
        args+=(--aptopt='APT::Default-Release "unstable"'
            --setup-hook='mkdir -p "$1/etc/apt/preferences.d"'
            --setup-hook='printf "%s\n" "Package: postgresql-'"$major"'* postgresql-client-'"$major"' postgresql-server-dev-'"$major"' libpq5 libpq-dev" "Pin: release a=experimental" "Pin-Priority: 990" >"$1/etc/apt/preferences.d/lemlist-matrix"')
        args+=(--include="$include" sid "$tmp" "deb $MIRROR sid main" "deb $MIRROR experimental main")
    else
        args+=(--include="$include" "$suite" "$tmp" "deb $MIRROR $suite main")
    fi
    # pg_cron, where the suite has it for this major (the root's apt decides)
    args+=(--customize-hook='chroot "$1" sh -c "if apt-cache show postgresql-'"$major"'-cron >/dev/null 2>&1; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-'"$major"'-cron; else echo no postgresql-'"$major"'-cron in this suite; fi"')
    echo "making root $dir: $suite, PostgreSQL $major"
    mmdebstrap "${args[@]}" || return 1
    # the test command installs what is missing with apt: let it resolve names
    cp -L /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
    printf '%s' "$stamp" >"$tmp/.lemlist-matrix-root"
    rm -rf "$dir"
    mv "$tmp" "$dir"
}

# copy_tree DIR: the working tree into DIR (tracked and untracked files that
# .gitignore does not ignore; all of it when this is not a git checkout)
copy_tree()
{
    local dest=$1
    rm -rf "$dest"
    mkdir -p "$dest"
    if git -C "$LEMLIST_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$LEMLIST_ROOT" && git ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
            | tar --null -T - -cf -) | tar -C "$dest" -xf -
    else
        (cd "$LEMLIST_ROOT" && tar --exclude=./.git -cf - .) | tar -C "$dest" -xf -
    fi
}

# in_root MAJOR CMD: run the shell command CMD as root inside the root of
# MAJOR, in /work/lemlist_fdw, in a mount and PID namespace of its own whose
# mounts and processes die with it.  It runs in the background, so that a
# signal reaches our trap at once; the trap kills the namespace's first
# process, and with it every process of the namespace.
IN_ROOT_PID=""
in_root()
{
    local rc=0
    in_namespace "$@" &
    IN_ROOT_PID=$!
    wait "$IN_ROOT_PID" || rc=$?
    IN_ROOT_PID=""
    return "$rc"
}

in_namespace()
{
    local dir="$MATRIX_CACHE/pg$1" cmd=$2
    exec unshare --mount --pid --fork --kill-child --propagation private -- \
        /bin/bash -c '
            set -e
            root=$1
            mount -t proc proc "$root/proc"
            mount -t sysfs sys "$root/sys"
            mount --rbind /dev "$root/dev"
            mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
            mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
            exec chroot "$root" /usr/bin/env -i \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                HOME=/root LANG=C.UTF-8 TERM=dumb CI="${CI:-}" LEMLIST_DRIVERS=0 \
                PG_CONFIG="$2" \
                /bin/bash -c "cd /work/lemlist_fdw && $3"
        ' in_root "$dir" "/usr/lib/postgresql/$1/bin/pg_config" "$cmd"
}

# test_major MAJOR: build warning-free and run the test command in the root;
# prints the major's result line and adds to the totals
total_passed=0
total_failed=0
total_skipped=0
results=()
failed_any=""

test_major()
{
    local major=$1 suite log line p f s t0
    suite=$(suite_of "$major")
    log="$LOGDIR/test-$major.log"
    if ! wait_root "$major"; then
        results+=("PostgreSQL $major ($suite): FAILED: could not make the root (see $LOGDIR/root-$major.log)")
        tail -n 40 "$LOGDIR/root-$major.log" >&2 || true
        total_failed=$((total_failed + 1))
        failed_any=1
        return 0
    fi
    t0=$(date +%s)
    say "PostgreSQL $major ($suite): copying the working tree in, building with -Werror"
    copy_tree "$MATRIX_CACHE/pg$major/work/lemlist_fdw"
    if ! in_root "$major" 'make -s clean >/dev/null 2>&1; make -j2 WERROR=1 PG_CONFIG="$PG_CONFIG"' \
        >"$LOGDIR/build-$major.log" 2>&1; then
        cat "$LOGDIR/build-$major.log" >&2
        results+=("PostgreSQL $major ($suite): FAILED: does not build warning-free (-Wall -Wextra -Werror)")
        total_failed=$((total_failed + 1))
        failed_any=1
        return 0
    fi
    say "PostgreSQL $major ($suite): built warning-free; running test/run.sh"
    if in_root "$major" 'bash test/run.sh' >"$log" 2>&1; then :; fi
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    if [ -z "$line" ]; then
        tail -n 80 "$log" >&2
        results+=("PostgreSQL $major ($suite): built warning-free; FAILED: the test command printed no result")
        total_failed=$((total_failed + 1))
        failed_any=1
        return 0
    fi
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    total_skipped=$((total_skipped + ${s:-0}))
    local skipped
    skipped=$(sed -nE 's/^test ([^ ]+) +\.\.\. skipped: (.*)$/\1 (\2)/p' "$log" | paste -sd';' - | sed 's/;/; /g')
    results+=("PostgreSQL $major ($suite): built warning-free; $line${skipped:+ [skipped: $skipped]} ($(($(date +%s) - t0)) s)")
    if [ "$f" -ne 0 ]; then
        failed_any=1
        grep -E '\.\.\. FAILED' "$log" >&2 || true
        sed -n '/^----- .*regression.diffs/,/^----- end of/p' "$log" | head -n 200 >&2 || true
    fi
}

# roots are made in the background, one ahead of the major under test
declare -A ROOT_PID=()
start_root()
{
    local major=$1
    [ -z "${ROOT_PID[$major]:-}" ] || return 0
    make_root "$major" >"$LOGDIR/root-$major.log" 2>&1 &
    ROOT_PID[$major]=$!
}

wait_root()
{
    local major=$1
    start_root "$major"
    wait "${ROOT_PID[$major]}"
}

cleanup()
{
    local rc=$? pid
    if [ -n "$IN_ROOT_PID" ]; then
        pkill -KILL -P "$IN_ROOT_PID" 2>/dev/null || true
        kill -KILL "$IN_ROOT_PID" 2>/dev/null || true
    fi
    for pid in "${ROOT_PID[@]}"; do
        pkill -TERM -P "$pid" 2>/dev/null || true	# mmdebstrap
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ -z "${MATRIX_KEEP_LOGS:-}" ] && [ -z "$failed_any" ] && [ "$rc" -eq 0 ]; then
        rm -rf "$LOGDIR"
    else
        echo "matrix logs: $LOGDIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "PostgreSQL ${majors[*]}: roots in $MATRIX_CACHE, from $MIRROR"
if [ -n "$ROOTS_ONLY" ]; then
    for m in "${majors[@]}"; do
        start_root "$m"
    done
    rc=0
    for m in "${majors[@]}"; do
        if wait_root "$m"; then
            echo "PostgreSQL $m ($(suite_of "$m")): $(tail -n 1 "$LOGDIR/root-$m.log")"
        else
            echo "PostgreSQL $m ($(suite_of "$m")): could not make the root:"
            tail -n 40 "$LOGDIR/root-$m.log"
            rc=1
            failed_any=1
        fi
    done
    exit "$rc"
fi
for i in "${!majors[@]}"; do
    start_root "${majors[$i]}"
    if [ "${MATRIX_PARALLEL_BUILD:-1}" = 1 ] && [ $((i + 1)) -lt "${#majors[@]}" ]; then
        start_root "${majors[$((i + 1))]}"
    fi
    test_major "${majors[$i]}"
done

echo
for r in "${results[@]}"; do
    echo "$r"
done
if [ "$total_skipped" -gt 0 ]; then
    echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
else
    echo "$total_passed passed, $total_failed failed"
fi
[ "$total_failed" -eq 0 ]
