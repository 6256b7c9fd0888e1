#!/usr/bin/env python3
"""test/drivers/psycopg_test.py: lemlist_fdw through psycopg 3

What a Python notebook or a BI backend written in Python sends: a
server-side cursor read a few rows at a time, parameters bound in binary,
date and datetime parameters, a statement prepared past psycopg's prepare
threshold.  Each case runs the driver's form, then the same query with its
values written as literals (the answer psql gets), and checks that both
return the same rows and send the same requests to the mock, and how many.

Run by test/drivers/drivers.sh (PGHOST, PGPORT, PGDATABASE, PGUSER and
LEMLIST_MOCK_URL from the environment); prints one "ok N - what" or
"not ok N - what" line per check, exits non-zero when one failed.
"""
import datetime as dt
import os
import sys

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driverlib import Checks, first_difference, fresh_mock, mock_requests, TEAM  # noqa: E402

checks = Checks()


def rows_of(cur):
    return [tuple(r) for r in cur.fetchall()]


def literal_answer(conn, sql):
    """Rows and requests of sql, written with literals, on a fresh mock."""
    fresh_mock()
    with conn.cursor() as cur:
        cur.execute(sql)
        rows = rows_of(cur)
    return rows, mock_requests()


def compare(what, conn, rows, requests, literal_sql, want_rows, want_requests):
    """rows and requests (of the driver's form) against the literal query's."""
    lit_rows, lit_requests = literal_answer(conn, literal_sql)
    checks.ok(len(rows) == want_rows, "%s: %d rows" % (what, want_rows),
              "got %d" % len(rows))
    checks.ok(rows == lit_rows, "%s: the rows of the literal query" % what,
              first_difference(rows, lit_rows))
    checks.ok(len(requests) == want_requests, "%s: %d requests" % (what, want_requests),
              "got %d:\n%s" % (len(requests), "\n".join(requests)))
    checks.ok(requests == lit_requests, "%s: the requests of the literal query" % what,
              "driver:\n%s\nliteral:\n%s" % ("\n".join(requests), "\n".join(lit_requests)))


def read_cursor(conn, name, sql, first_n, first_requests, what):
    """Fetch first_n rows of a named cursor on sql, checking that they cost
    first_requests requests, then the rest: every row, and the requests."""
    fresh_mock()
    with conn.transaction():
        with conn.cursor(name=name) as cur:
            cur.itersize = first_n
            cur.execute(sql)
            first = cur.fetchmany(first_n)
            checks.ok(len(first) == first_n and len(mock_requests()) == first_requests, what,
                      "%d rows, requests:\n%s" % (len(first), "\n".join(mock_requests())))
            rows = [tuple(r) for r in first] + rows_of(cur)
    return rows, mock_requests()


def server_side_cursor(conn):
    """A named cursor read a few rows at a time: the first rows cost one page
    (and a batch, for statistics)."""
    sql = ("SELECT campaign_id, name, created_at FROM lemlist.campaigns"
           " ORDER BY created_at DESC")
    rows, requests = read_cursor(conn, "newest_first", sql, 10, 1,
                                 "server-side cursor: the first 10 rows cost one page")
    # the list's pages, and the empty one that ends it
    compare("server-side cursor read to the end", conn, rows, requests, sql,
            TEAM, TEAM // 100 + 1)

    # campaign statistics through a cursor: the first rows cost a page and a
    # batch; read to the end, every campaign but the archived cam_00013,
    # which has none
    sql = ("SELECT campaign_id, nb_leads, opened FROM lemlist.campaign_stats"
           " WHERE start_date >= '2025-02-01'")
    rows, requests = read_cursor(conn, "all_stats", sql, 20, 2,
                                 "server-side cursor on campaign_stats: the first 20 rows"
                                 " cost a page and a batch")
    compare("server-side cursor on campaign_stats", conn, sorted(rows), requests,
            sql + " ORDER BY campaign_id", TEAM - 1, 2 * (TEAM // 100) + 1)


def binary_parameters(conn):
    """%b placeholders: an array of IDs, a date and an aware datetime, in binary."""
    ids = ["cam_%05d" % i for i in range(1, 131)] + ["cam_00007", "cam_00042"]
    sql = ("SELECT campaign_id, nb_leads, opened, replied FROM lemlist.campaign_stats"
           " WHERE campaign_id = ANY(%b) AND start_date >= %b AND end_date <= %b"
           " ORDER BY campaign_id")
    fresh_mock()
    with conn.cursor(binary=True) as cur:
        cur.execute(sql, [ids, dt.date(2025, 1, 15),
                          dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)])
        rows = rows_of(cur)
    requests = mock_requests()
    literal = ("SELECT campaign_id, nb_leads, opened, replied FROM lemlist.campaign_stats"
               " WHERE campaign_id IN (%s) AND start_date >= '2025-01-15'"
               " AND end_date <= '2025-06-01 12:00+00' ORDER BY campaign_id"
               % ", ".join("'%s'" % i for i in ids))
    # 130 distinct IDs, one of which (archived) has no statistics
    compare("binary parameters", conn, rows, requests, literal, 129, 2)


def date_parameters(conn):
    """date parameters bind as date; the session's time zone decides the instant."""
    sql = ("SELECT campaign_id, start_date, end_date, nb_leads FROM lemlist.campaign_stats"
           " WHERE campaign_id = %s AND start_date >= %s AND end_date < %s")
    for tz in ("UTC", "America/New_York"):
        conn.execute("SET TimeZone = '%s'" % tz)
        fresh_mock()
        with conn.cursor() as cur:
            cur.execute(sql, ["cam_00003", dt.date(2025, 2, 1), dt.date(2025, 4, 1)])
            rows = rows_of(cur)
        compare("date parameters, TimeZone %s" % tz, conn, rows, mock_requests(),
                "SELECT campaign_id, start_date, end_date, nb_leads FROM lemlist.campaign_stats"
                " WHERE campaign_id = 'cam_00003' AND start_date >= date '2025-02-01'"
                " AND end_date < date '2025-04-01'", 1, 1)
    conn.execute("RESET TimeZone")


def prepared_statements(conn):
    """The same query 8 times: psycopg prepares it from the 6th (prepare_threshold
    5), and the last two run PostgreSQL's generic plan."""
    sql = ("SELECT campaign_id, step_index, sent, delivered FROM lemlist.campaign_step_stats"
           " WHERE campaign_id = %s AND start_date >= %s ORDER BY step_index")
    conn.prepare_threshold = 5
    for i in range(1, 9):
        cid = "cam_%05d" % (i + 20)
        if i == 7:
            conn.execute("SET plan_cache_mode = force_generic_plan")
        fresh_mock()
        with conn.cursor() as cur:
            cur.execute(sql, [cid, dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)])
            rows = rows_of(cur)
        requests = mock_requests()
        lit_rows, lit_requests = literal_answer(
            conn, sql.replace("%s", "'%s'" % cid, 1).replace("%s", "'2025-01-01 00:00+00'"))
        checks.ok(rows == lit_rows and len(rows) >= 2 and requests == lit_requests
                  and len(requests) == 1,
                  "execution %d of a statement (%s, %s plan): its campaign's steps, one request"
                  % (i, "prepared" if i > 5 else "not prepared", "generic" if i > 6 else "custom"),
                  "rows %r, literal %r\nrequests %r" % (rows, lit_rows, requests))
    prepared, generic = conn.execute(
        "SELECT count(*), max(to_jsonb(s) ->> 'generic_plans') FROM pg_prepared_statements AS s"
        " WHERE statement LIKE '%lemlist.campaign_step_stats%'").fetchone()
    # (generic_plans is counted from PostgreSQL 14 on)
    checks.ok(prepared == 1 and generic in (None, "2"),
              "psycopg prepared it on the server; its last two executions ran a generic plan",
              "%d prepared, generic_plans %s" % (prepared, generic))
    conn.execute("RESET plan_cache_mode")


def main():
    with psycopg.connect(autocommit=True) as conn:
        for case in (server_side_cursor, binary_parameters, date_parameters,
                     prepared_statements):
            case(conn)
    return checks.done()


if __name__ == "__main__":
    sys.exit(main())
