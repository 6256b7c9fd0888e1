#!/usr/bin/env python3
"""test/drivers/driverlib.py: the mock, as the drivers' tests see it

fresh_mock() forgets the mock's requests and sets its team to TEAM
campaigns (and a rate limit the tests do not wait on); mock_requests() are
the requests logged since, one line each in test/mockctl.py's format,
sorted (a request set's requests run in parallel), with "now" (the endDate
of a query that gives none) masked as <now>.  Checks prints the TAP-like
lines of a test program.

psycopg_test.py imports it; the Java and Node.js tests run it:

    driverlib.py fresh       fresh_mock()
    driverlib.py requests    mock_requests(), one a line

($LEMLIST_MOCK_URL is the mock's root URL.)
"""
import datetime as dt
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import mockctl  # noqa: E402

TEAM = 1500
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _url():
    return os.environ["LEMLIST_MOCK_URL"]


def fresh_mock():
    mockctl.call(_url(), "POST", "/__mock/reset")
    mockctl.call(_url(), "POST", "/__mock/config", {"campaigns": TEAM, "rate_limit": 1000})


def _mask_now(line):
    now = dt.datetime.now(dt.timezone.utc)

    def mask(m):
        t = dt.datetime.strptime(m.group(0), "%Y-%m-%dT%H:%M:%S.%fZ")
        t = t.replace(tzinfo=dt.timezone.utc)
        return "<now>" if abs((now - t).total_seconds()) < 600 else m.group(0)
    return _STAMP.sub(mask, line)


def mock_requests():
    log = json.loads(mockctl.call(_url(), "GET", "/__mock/requests"))
    return sorted(_mask_now(mockctl.format_request(r)) for r in log)


def first_difference(got, want):
    """Where two lists of rows part, in words."""
    for n, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return "row %d: %r, where the literal query gives %r" % (n + 1, a, b)
    return "%d rows, where the literal query gives %d" % (len(got), len(want))


class Checks:
    """TAP-like lines: "ok N - what", or "not ok N - what" and the detail."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, passed, what, detail=""):
        self.count += 1
        print("%s %d - %s" % ("ok" if passed else "not ok", self.count, what))
        if not passed:
            self.failed += 1
            for line in str(detail).splitlines():
                print("#   " + (line if len(line) <= 200 else line[:200] + "..."))
        sys.stdout.flush()

    def done(self):
        print("# %d checks, %d failed" % (self.count, self.failed))
        return 1 if self.failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["fresh"]:
        fresh_mock()
    elif sys.argv[1:] == ["requests"]:
        for line in mock_requests():
            print(line)
    else:
        sys.exit("usage: driverlib.py fresh | requests")
