#!/usr/bin/env bash
# test/fuzz/run.sh: build the libFuzzer harnesses of lemlist_fdw and run each
# for DURATION seconds
#
# Harnesses (sources in test/fuzz/, seeds in test/fuzz/corpus/):
#   stats          lemlist_parse_stats, without steps         (fuzz_json.c)
#   steps          lemlist_parse_stats, with steps            (fuzz_json.c)
#   campaigns      lemlist_parse_campaigns                    (fuzz_json.c)
#                  each checked against the jansson decoder it replaced
#                  (test/fuzz/oracle.c)
#   filter_value   lemlist_check_filter_value                 (fuzz_literals.c)
#   timestamp      lemlist_format_timestamp                   (fuzz_literals.c)
#   request        lemlist_json_stats_request                 (fuzz_literals.c)
# Each is built with clang -fsanitize=fuzzer,address,undefined from the real
# src/json.c, jsonread.c, literals.c and resources.c, test/fuzz/stubs.c standing
# in for the backend.  Crashes, sanitizer reports, leaks and broken
# invariants all stop a harness and leave a reproducer.
#
#   test/fuzz/run.sh [DURATION]         default 60 seconds per harness
#   HARNESSES="stats steps" ...         only these
#   FUZZ_WORKDIR=DIR                    where to build and write (default: new
#                                       /tmp/lemlist_fuzz.XXXXXX, kept)
#   MERGE=1                             add the inputs that found new coverage
#                                       to test/fuzz/corpus/ (minimised)
#   COVERAGE=0                          skip the line coverage report
#   FUZZ_JOBS=N                         parallel fuzzing jobs per harness (default 1)
# Reproduce a crash: $FUZZ_WORKDIR/fuzz_<harness> <file>; add the file to
# test/fuzz/corpus/<dir>/ as crash-<what> once fixed, so every run replays it.
# Exits non-zero if any harness found a problem.
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$FUZZ_DIR/../.." && pwd -P)
# the server whose headers and libpgcommon the harnesses use: PG_CONFIG, or
# the major test/install-deps.sh --print-major names
PG_MAJOR=$(bash "$ROOT/test/install-deps.sh" --print-major)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
ALL_HARNESSES="stats steps campaigns filter_value timestamp request"

case "${1:-}" in
    -h | --help)
        sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac
DURATION=${1:-60}
[[ "$DURATION" =~ ^[0-9]+$ ]] || { echo "error: DURATION must be a number of seconds" >&2; exit 2; }
HARNESSES=${HARNESSES:-$ALL_HARNESSES}

say()
{
    printf '==> %s\n' "$*"
}

die()
{
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------
# what each harness is made of
# ---------------------------------------------------------------------------
harness_source()
{
    case "$1" in
        stats | steps | campaigns) echo fuzz_json.c ;;
        filter_value | timestamp | request) echo fuzz_literals.c ;;
        *) die "unknown harness \"$1\" (known: $ALL_HARNESSES)" ;;
    esac
}

harness_target()
{
    case "$1" in
        stats) echo FUZZ_STATS ;;
        steps) echo FUZZ_STEPS ;;
        campaigns) echo FUZZ_CAMPAIGNS ;;
        filter_value) echo FUZZ_FILTER_VALUE ;;
        timestamp) echo FUZZ_TIMESTAMP ;;
        request) echo FUZZ_REQUEST ;;
    esac
}

harness_seeds()
{
    case "$1" in
        stats | steps) echo "$FUZZ_DIR/corpus/stats" ;;
        *) echo "$FUZZ_DIR/corpus/$1" ;;
    esac
}

harness_options()
{
    case "$1" in
        stats | steps | campaigns) echo "-dict=$FUZZ_DIR/json.dict -max_len=16384" ;;
        filter_value) echo "-dict=$FUZZ_DIR/literals.dict -max_len=256" ;;
        timestamp) echo "-max_len=8" ;;
        request) echo "-dict=$FUZZ_DIR/literals.dict -max_len=4096" ;;
    esac
}

# ---------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------
need_packages=()
command -v clang >/dev/null || need_packages+=(clang)
command -v llvm-profdata >/dev/null || need_packages+=(llvm)
[ -f /usr/include/jansson.h ] || need_packages+=(libjansson-dev)
[ -x "$PG_CONFIG" ] || need_packages+=("postgresql-server-dev-$PG_MAJOR")
if command -v clang >/dev/null; then
    clang_rt=$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
    [ -f "$clang_rt" ] || need_packages+=("libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev")
fi
if [ ${#need_packages[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing packages: ${need_packages[*]} (install them, or run as root)"
    say "installing ${need_packages[*]}"
    apt-get install -y --no-install-recommends "${need_packages[@]}" >/dev/null
    if ! command -v clang >/dev/null || \
        ! [ -f "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a" ]; then
        apt-get install -y --no-install-recommends \
            "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev" >/dev/null
    fi
fi

WORK=${FUZZ_WORKDIR:-$(mktemp -d /tmp/lemlist_fuzz.XXXXXX)}
mkdir -p "$WORK"/{obj,obj-cov,logs,crashes,profiles}

INCLUDES=(-I"$ROOT/src" -I"$FUZZ_DIR" -I"$("$PG_CONFIG" --includedir-server)")
COMMON_FLAGS=(-g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -Wall -Wno-ignored-attributes
    -Wno-unused-command-line-argument -ffunction-sections -fdata-sections)
FUZZ_FLAGS=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
COV_FLAGS=(-fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping)
# Debian keeps libpgcommon.a and libpgport.a in pkglibdir, others in libdir
PGLIBDIR=$("$PG_CONFIG" --pkglibdir)
[ -f "$PGLIBDIR/libpgcommon.a" ] || PGLIBDIR=$("$PG_CONFIG" --libdir)
[ -f "$PGLIBDIR/libpgcommon.a" ] || die "libpgcommon.a not found (postgresql-server-dev-$PG_MAJOR)"

# the pure functions of libpgcommon the code uses: encoding checks, the
# encoding name table, shortest float output
(cd "$WORK/obj" && ar x "$PGLIBDIR/libpgcommon.a" wchar.o encnames.o d2s.o)
PGCOMMON=("$WORK/obj/wchar.o" "$WORK/obj/encnames.o" "$WORK/obj/d2s.o")

# link_harness NAME KIND(fuzz|cov): compile and link one harness.  A first
# link lists the backend functions the linked files reference but the
# harness never reaches (IMPORT FOREIGN SCHEMA of resources.c); they become
# functions that abort with their name.
# -rdynamic exports the executable's symbols as the postgres binary does, so
# that stubs.c's json_object shadows jansson's as PostgreSQL's does.
link_harness()
{
    local h=$1 kind=$2 flags out src target objdir log undefined
    if [ "$kind" = fuzz ]; then
        flags=("${COMMON_FLAGS[@]}" "${FUZZ_FLAGS[@]}")
        out="$WORK/fuzz_$h"
        objdir="$WORK/obj"
    else
        flags=("${COMMON_FLAGS[@]}" "${COV_FLAGS[@]}")
        out="$WORK/cov_$h"
        objdir="$WORK/obj-cov"
    fi
    src=$(harness_source "$h")
    target=$(harness_target "$h")
    log="$WORK/logs/build-$kind-$h.log"
    local objs=()
    for f in "$ROOT/src/json.c" "$ROOT/src/jsonread.c" "$ROOT/src/literals.c" \
        "$ROOT/src/resources.c" "$FUZZ_DIR/stubs.c" "$FUZZ_DIR/oracle.c"; do
        local o
        o="$objdir/$(basename "$f" .c).o"
        if [ ! -f "$o" ] || [ "$f" -nt "$o" ]; then
            clang "${flags[@]}" "${INCLUDES[@]}" -c "$f" -o "$o" >>"$log" 2>&1 \
                || { cat "$log" >&2; die "could not compile $f"; }
        fi
        objs+=("$o")
    done
    clang "${flags[@]}" "${INCLUDES[@]}" -D"FUZZ_TARGET=$target" \
        -c "$FUZZ_DIR/$src" -o "$objdir/harness_$h.o" >>"$log" 2>&1 \
        || { cat "$log" >&2; die "could not compile $src for $h"; }
    objs+=("$objdir/harness_$h.o")

    : >"$objdir/unreached.c"
    if ! clang "${flags[@]}" "${objs[@]}" "${PGCOMMON[@]}" "$PGLIBDIR/libpgport.a" \
        -ljansson -rdynamic -Wl,--gc-sections -o "$out" >"$objdir/link.log" 2>&1; then
        undefined=$(grep -o "undefined reference to \`[A-Za-z_][A-Za-z0-9_]*'" "$objdir/link.log" \
            | sed "s/.*\`\(.*\)'/\1/" | sort -u)
        [ -n "$undefined" ] || { cat "$objdir/link.log" >&2; die "could not link $out"; }
        {
            echo '/* generated by test/fuzz/run.sh: backend functions the harness never reaches */'
            echo '#include <stdio.h>'
            echo '#include <stdlib.h>'
            for s in $undefined; do
                printf 'void %s(void);\nvoid %s(void) { fprintf(stderr, "fuzz: unreachable %s called\\n"); abort(); }\n' \
                    "$s" "$s" "$s"
            done
        } >"$objdir/unreached.c"
        clang "${flags[@]}" -w -c "$objdir/unreached.c" -o "$objdir/unreached.o"
        clang "${flags[@]}" "${objs[@]}" "$objdir/unreached.o" "${PGCOMMON[@]}" \
            "$PGLIBDIR/libpgport.a" -ljansson -rdynamic -Wl,--gc-sections -o "$out" >>"$log" 2>&1 \
            || { cat "$log" >&2; die "could not link $out"; }
        echo "$undefined" >"$WORK/logs/unreached-$h.txt"
    fi
}

say "building ${HARNESSES// /, } in $WORK ($(clang --version | head -n 1))"
for h in $HARNESSES; do
    link_harness "$h" fuzz
done

# ---------------------------------------------------------------------------
# fuzzing
# ---------------------------------------------------------------------------
status=0
summary=()
for h in $HARNESSES; do
    seeds=$(harness_seeds "$h")
    mkdir -p "$WORK/corpus/$h"
    log="$WORK/logs/fuzz-$h.log"
    say "fuzzing $h for ${DURATION}s (seeds: ${seeds#"$ROOT"/})"
    rc=0
    # -jobs runs the fuzzing in child processes logging to fuzz-N.log in the
    # current directory: only when asked for, and from the logs directory
    jobs=()
    if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
        jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
    fi
    # shellcheck disable=SC2046
    (cd "$WORK/logs" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$WORK/fuzz_$h" $(harness_options "$h") \
        -max_total_time="$DURATION" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 ${jobs[@]+"${jobs[@]}"} \
        -artifact_prefix="$WORK/crashes/$h-" \
        "$WORK/corpus/$h" "$seeds") >"$log" 2>&1 || rc=$?
    if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
        cat "$WORK/logs"/fuzz-[0-9]*.log >>"$log" 2>/dev/null || true
        rm -f "$WORK/logs"/fuzz-[0-9]*.log
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)
    if [ "$rc" -ne 0 ]; then
        status=1
        summary+=("$(printf '%-13s FAILED (exit %d) after %s runs; see %s' "$h" "$rc" "${runs:-?}" "$log")")
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz:|stubs:)|runtime error' "$log" | head -n 5 | sed 's/^/    /'
        ls "$WORK/crashes/$h-"* 2>/dev/null | sed 's/^/    reproducer: /' || true
    else
        summary+=("$(printf '%-13s ok  %10s runs  %7s exec/s  %s' "$h" "${runs:-?}" "${speed:-?}" "${cov:-}")")
    fi
    if [ "${MERGE:-}" = 1 ] && [ "$rc" -eq 0 ]; then
        "$WORK/fuzz_$h" $(harness_options "$h") -merge=1 "$seeds" "$WORK/corpus/$h" \
            >"$WORK/logs/merge-$h.log" 2>&1 || die "merging the corpus of $h failed"
    fi
done

# ---------------------------------------------------------------------------
# line coverage of the fuzzed files, over seeds + everything the fuzzers kept
# ---------------------------------------------------------------------------
if [ "${COVERAGE:-1}" = 1 ]; then
    say "measuring line coverage over the corpora"
    profiles=()
    for h in $HARNESSES; do
        link_harness "$h" cov
        LLVM_PROFILE_FILE="$WORK/profiles/$h.profraw" \
            "$WORK/cov_$h" -runs=0 $(harness_options "$h") \
            "$WORK/corpus/$h" "$(harness_seeds "$h")" >"$WORK/logs/cov-$h.log" 2>&1 || true
        [ -f "$WORK/profiles/$h.profraw" ] && profiles+=("$WORK/profiles/$h.profraw")
    done
    if [ ${#profiles[@]} -gt 0 ]; then
        llvm-profdata merge -sparse "${profiles[@]}" -o "$WORK/profiles/all.profdata"
        objects=()
        first=""
        for h in $HARNESSES; do
            if [ -z "$first" ]; then first="$WORK/cov_$h"; else objects+=(-object "$WORK/cov_$h"); fi
        done
        llvm-cov report "$first" "${objects[@]}" -instr-profile="$WORK/profiles/all.profdata" \
            "$ROOT/src/jsonread.c" "$ROOT/src/json.c" "$ROOT/src/literals.c" >"$WORK/logs/coverage.txt" 2>&1 || true
        llvm-cov report "$first" "${objects[@]}" -instr-profile="$WORK/profiles/all.profdata" \
            -show-functions "$ROOT/src/jsonread.c" "$ROOT/src/json.c" "$ROOT/src/literals.c" \
            >"$WORK/logs/coverage-functions.txt" 2>&1 || true
        llvm-cov show "$first" "${objects[@]}" -instr-profile="$WORK/profiles/all.profdata" \
            "$ROOT/src/jsonread.c" "$ROOT/src/json.c" "$ROOT/src/literals.c" >"$WORK/logs/coverage-lines.txt" 2>&1 || true
        sed -n '1,2p;/json.c\|jsonread.c\|literals.c\|^TOTAL/p' "$WORK/logs/coverage.txt" | sed 's/^/    /'
        # the fuzzed functions of literals.c (the filter kinds are not fuzzed)
        grep -E '^(lemlist_check_filter_value|valid_send_user|is_whitespace|lemlist_format_timestamp|lemlist_filter_name) ' \
            "$WORK/logs/coverage-functions.txt" | sed 's/^/    /' || true
    fi
fi

say "summary (work directory: $WORK)"
printf '  %s\n' "${summary[@]}"
if [ "$status" -ne 0 ]; then
    echo "FAILED: see the reproducers above"
else
    echo "no crash, no leak, no broken invariant"
fi
exit "$status"
