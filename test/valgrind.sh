#!/usr/bin/env bash
# test/valgrind.sh: the pg_regress suites with every backend under valgrind
#
# Builds and installs the extension like test/run.sh, starts the mock and a
# throw-away cluster whose postmaster (and so every backend it forks) runs
# under valgrind memcheck, runs the pg_regress suites, stops the cluster so
# that each process writes its leak report, and reads the logs (one per
# process).  It reports every invalid access (invalid read, write or free,
# use of uninitialised memory, overlapping copies) and every "definitely
# lost" block whose stack goes through lemlist_fdw, and exits non-zero if
# there is any.  What valgrind finds in PostgreSQL itself is counted, not
# judged: test/valgrind.supp hides the known cases.
#
# Slow (about 8 minutes for what test/run.sh does in 3, on 2 vCPUs) and
# not part of test/run.sh.  Suite failures are printed and their diffs kept,
# not counted: time bounds do not survive valgrind (cancel's, and faults'
# 200 ms for a terminated backend to be gone: under valgrind it takes about
# a second, its leak check included).
#
#   test/valgrind.sh                      every suite of the Makefile
#   REGRESS="setup scan" test/valgrind.sh only these (include setup)
#   VALGRIND_OUT=DIR                      where to keep the logs (default: a new
#                                         /tmp/lemlist_valgrind.XXXXXX)
#   VALGRIND_OPTS="..."                   more valgrind options
# See test/lib.sh for PG_CONFIG, PGPORT_TEST, MOCK_PORT, SKIP_DEPS, SKIP_BUILD.
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    -h | --help)
        sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    "") ;;
    *) die "unexpected argument \"$1\" (try --help)" ;;
esac

cd "$LEMLIST_ROOT"
started=$(date +%s)
setup_workdir
install_deps
if ! command -v valgrind >/dev/null; then
    is_root || die "valgrind is not installed (apt-get install valgrind)"
    say "installing valgrind"
    run_quiet "$WORKDIR/apt-valgrind.log" apt-get install -y --no-install-recommends valgrind \
        || die "could not install valgrind"
fi
build_install

OUT=${VALGRIND_OUT:-$(mktemp -d /tmp/lemlist_valgrind.XXXXXX)}
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.log
# the server runs as postgres when we are root: it must write the logs
if is_root; then
    chown -R postgres: "$OUT"
fi

# The program pg_ctl starts instead of postgres.  --trace-children=yes would
# follow an exec; the shells and Pythons of COPY ... FROM PROGRAM (the mock's
# control CLI) are skipped, as they are not ours and are slow under valgrind.
# --fullpath-after= prints full source paths, which is how our frames are
# told apart from PostgreSQL's (it has a json.c too).
cat >"$WORKDIR/postgres-valgrind" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --trace-children=yes \\
    --trace-children-skip='/bin/sh,/usr/bin/sh,/bin/dash,/usr/bin/dash,*python*' \\
    --track-origins=yes --leak-check=full --show-leak-kinds=definite \\
    --errors-for-leak-kinds=definite --error-limit=no --num-callers=40 \\
    --read-inline-info=yes --fullpath-after= --child-silent-after-fork=no \\
    --suppressions="$LEMLIST_ROOT/test/valgrind.supp" \\
    --log-file="$OUT/logs/%p.log" ${VALGRIND_OPTS:-} \\
    "$(pg_bin postgres)" "\$@"
EOF
chmod a+rx "$WORKDIR/postgres-valgrind"
is_root && chown postgres: "$WORKDIR/postgres-valgrind"

# the same mocks and logging as test/run.sh: the tls suite needs the https
# mock, the secrets suite reads a log of every statement and message
start_mock
if declare -F start_tls_mock >/dev/null; then
    start_tls_mock
fi
LOG_EVERYTHING=1
# autovacuum off: fewer processes, less time, nothing the suites rely on
POSTGRES_WRAPPER="$WORKDIR/postgres-valgrind" PG_START_TIMEOUT=600 \
    PG_EXTRA_CONF="# added by test/valgrind.sh
autovacuum = off
jit = off" \
    start_cluster

say "running pg_regress under valgrind: make installcheck${REGRESS:+ REGRESS=\"$REGRESS\"} (slow)"
make_args=(PG_CONFIG="$PG_CONFIG" PGHOST="$WORKDIR" PGPORT="$PGPORT_TEST" PGUSER=postgres)
if [ -n "${REGRESS:-}" ]; then
    make_args+=(REGRESS="$REGRESS")
fi
# pg_regress writes into the source tree: work on a copy, not to disturb
# test/run.sh running at the same time
rsync -a --exclude .git --exclude results "$LEMLIST_ROOT/" "$WORKDIR/tree/" 2>/dev/null \
    || cp -a "$LEMLIST_ROOT/." "$WORKDIR/tree/"
regress_rc=0
make -s -C "$WORKDIR/tree" installcheck "${make_args[@]}" >"$OUT/installcheck.log" 2>&1 \
    || regress_rc=$?
grep -E '^(test |     )[^ ]+ +\.\.\. ' "$OUT/installcheck.log" || true
if [ "$regress_rc" -ne 0 ]; then
    for diffs in "$WORKDIR/tree/results/regression.diffs" "$WORKDIR/tree/regression.diffs"; do
        [ -s "$diffs" ] && cp "$diffs" "$OUT/regression.diffs"
    done
    say "some suites failed under valgrind (timing assertions do): $OUT/regression.diffs"
fi

say "stopping the cluster: every process writes its leak report"
as_pg "$(pg_bin pg_ctl)" -D "$PGDATA_TEST" -m fast -w -t 600 stop >/dev/null \
    || warn "could not stop the cluster"
PG_STARTED=""
cp "$WORKDIR/postgres.log" "$OUT/postgres.log" 2>/dev/null || true

say "reading $(find "$OUT/logs" -name '*.log' | wc -l) valgrind logs in $OUT/logs"
rc=0
"$LEMLIST_PYTHON" - "$OUT/logs" "$LEMLIST_ROOT/src/" "$OUT/report.txt" <<'PYEOF' || rc=$?
import os
import re
import sys

logdir, ours_prefix, report_path = sys.argv[1:4]
# frames of our code: our sources (full paths) or, without debug info, our .so
OURS = re.compile(re.escape(ours_prefix) + r"|lemlist_fdw\.so")
PREFIX = re.compile(r"^==(\d+)== ?(.*)$")
KINDS = [
    ("invalid read", re.compile(r"^Invalid read of size")),
    ("invalid write", re.compile(r"^Invalid write of size")),
    ("invalid free", re.compile(r"^(Invalid free|Mismatched free)")),
    ("uninitialised", re.compile(r"^(Conditional jump or move depends on uninitialised"
                                 r"|Use of uninitialised value"
                                 r"|Syscall param .* uninitialised)")),
    ("overlap", re.compile(r"^Source and destination overlap")),
    ("fishy argument", re.compile(r"^Argument '.*' of function .* has a fishy")),
    ("definitely lost", re.compile(r"definitely lost in loss record")),
]


def blocks(path):
    """The error blocks of one log: lists of lines, without the ==PID== prefix."""
    current = []
    with open(path, errors="replace") as f:
        for line in f:
            m = PREFIX.match(line.rstrip("\n"))
            if not m:
                continue
            text = m.group(2)
            if text.strip() == "":
                if current:
                    yield current
                current = []
            else:
                current.append(text)
    if current:
        yield current


ours, others = [], {}
processes = 0
for name in sorted(os.listdir(logdir)):
    if not name.endswith(".log"):
        continue
    processes += 1
    path = os.path.join(logdir, name)
    for block in blocks(path):
        kind = None
        for k, rx in KINDS:
            if any(rx.search(line) for line in block[:2]):
                kind = k
                break
        if kind is None:
            continue
        if any(OURS.search(line) for line in block):
            ours.append((name, kind, block))
        else:
            others[kind] = others.get(kind, 0) + 1

with open(report_path, "w") as out:
    for name, kind, block in ours:
        out.write("----- %s: %s -----\n" % (name, kind))
        out.write("\n".join(block) + "\n")

print("processes: %d" % processes)
print("problems through lemlist_fdw code: %d" % len(ours))
for kind in sorted({k for _, k, _ in ours}):
    print("  %-16s %d" % (kind, sum(1 for _, k, _ in ours if k == kind)))
print("problems elsewhere (PostgreSQL, libraries; not judged): %d" % sum(others.values()))
for kind in sorted(others):
    print("  %-16s %d" % (kind, others[kind]))
if ours:
    print()
    with open(report_path) as f:
        lines = f.read().splitlines()
    print("\n".join(lines[:400]))
    if len(lines) > 400:
        print("... (%d more lines in %s)" % (len(lines) - 400, report_path))
sys.exit(1 if ours else 0)
PYEOF

elapsed=$(($(date +%s) - started))
say "valgrind run took $((elapsed / 60)) min $((elapsed % 60)) s; logs kept in $OUT"
if [ "$rc" -ne 0 ]; then
    echo "FAILED: valgrind found problems in lemlist_fdw code (see $OUT/report.txt)"
    exit 1
fi
echo "no invalid access and nothing definitely lost through lemlist_fdw code"
