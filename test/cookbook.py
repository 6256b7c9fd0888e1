#!/usr/bin/env python3
"""test/cookbook.py: run the README's cookbook verbatim and compare its output

The "Cookbook" section of README.md alternates ```sql blocks with the output
blocks psql prints for them.  This runs every sql block, in order, in a fresh
database of the throw-away cluster, against the mock (the cookbook's mock URL
is rewritten to the running mock's), and checks that each output block that
follows a sql block is exactly what psql printed (trailing blanks aside).

Usage: cookbook.py README.md   (PGHOST, PGPORT, PGUSER and LEMLIST_MOCK_URL
from the environment, as test/run.sh sets them)
"""
import os
import re
import subprocess
import sys

COOKBOOK_URL = "http://127.0.0.1:18089"


def blocks(readme):
    """(sql, expected output or None) pairs of the Cookbook section."""
    text = open(readme, encoding="utf-8").read()
    start = text.index("## Cookbook")
    section = text[start:text.index("\n## ", start + 1)]
    fenced = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    pairs = []
    for i, (lang, body) in enumerate(fenced):
        if lang != "sql":
            continue
        following = fenced[i + 1] if i + 1 < len(fenced) else None
        expected = following[1] if following and following[0] == "" else None
        pairs.append((body, expected))
    return pairs


def psql(db, sql):
    out = subprocess.run(["psql", "-X", "-d", db, "-c", sql],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, check=False)
    return out.returncode, out.stdout


def normalize(text):
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def main():
    mock = os.environ["LEMLIST_MOCK_URL"].rstrip("/")
    db = "lemlist_cookbook"
    # whatever the suites left configured or queued, start from a clean mock
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "mockctl.py"),
                    "--url", mock, "reset"], check=True)
    for stmt in ("DROP DATABASE IF EXISTS %s" % db, "CREATE DATABASE %s" % db):
        rc, out = psql("postgres", stmt)
        if rc != 0:
            sys.exit("cookbook: %s failed: %s" % (stmt, out))

    failures = 0
    for n, (sql, expected) in enumerate(blocks(sys.argv[1]), 1):
        rc, out = psql(db, sql.replace(COOKBOOK_URL, mock))
        if rc != 0 or "ERROR" in out:
            print("cookbook block %d failed:\n%s\n%s" % (n, sql, out))
            failures += 1
            continue
        if expected is None:
            continue
        # psql prints a command tag for statements without rows; the
        # README shows only the rows of the last query of a block
        got = normalize(out)
        want = normalize(expected)
        if not got.endswith(want):
            print("cookbook block %d: output differs\n--- README\n%s\n--- psql\n%s"
                  % (n, want, got))
            failures += 1

    psql("postgres", "DROP DATABASE IF EXISTS %s" % db)
    print("cookbook: %d blocks, %d failed" % (len(blocks(sys.argv[1])), failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
