#!/usr/bin/env python3
"""
mockctl.py
    Command-line control of mock_lemlist.py, for the regression tests.

    mockctl.py [--url URL] reset
    mockctl.py [--url URL] requests [--route stats|campaigns] [--count] [--since SEQ]
    mockctl.py [--url URL] config [key=value ...]
    mockctl.py [--url URL] fault KIND [key=value ...]
    mockctl.py [--url URL] health
    mockctl.py [--url URL] faults
    mockctl.py [--url URL] wait [--timeout SECONDS]

URL is the mock's root (not /api); it defaults to $LEMLIST_MOCK_URL, else
http://127.0.0.1:18089.  Output is deterministic so that it can be part of
pg_regress expected files: "requests" prints one line per logged request,
"METHOD PATH STATUS [team=N] [fault=K] BODY" (team=N, the key's team, when
the mock's config key_teams is 1), with the body exactly as the mock
received it (carriage returns, line feeds and tabs, should a body hold any,
become spaces so that a request stays on one line).  reset, config and fault
print nothing when they succeed.  Any failure goes to stderr with a non-zero
exit status.  The mock never sees nor logs an API key, so neither does this.
"""

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:18089"
ROUTE_PATHS = {"stats": "/api/v2/campaigns/stats/batch", "campaigns": "/api/campaigns"}
# Fault keys whose values stay text even when they look like numbers.
TEXT_KEYS = ("route", "kind", "op", "body", "content_type", "text")

# Loopback only: never go through an http_proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MockError(Exception):
    pass


def call(base, method, path, payload=None, timeout=10.0):
    """One request to the mock's control routes; returns the body as text."""
    data = None
    headers = {}
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base.rstrip("/") + path, data=data,
                                 headers=headers, method=method)
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", errors="replace").strip()
        raise MockError("mock answered %d: %s" % (e.code, text))
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise MockError("cannot reach the mock at %s: %s" % (base, reason))


def parse_value(key, text):
    if key not in TEXT_KEYS and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


def parse_pairs(pairs, allow_headers):
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise MockError("expected key=value, got %r" % pair)
        if allow_headers and key.lower().startswith("header:"):
            name = key[len("header:"):]
            if not name:
                raise MockError("expected header:NAME=value, got %r" % pair)
            out.setdefault("headers", {})[name] = value
        else:
            out[key] = parse_value(key, value)
    return out


def one_line(text):
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def format_request(r):
    parts = [r["method"], one_line(r["path"]),
             "-" if r["status"] is None else str(r["status"])]
    if r.get("team") is not None:
        parts.append("team=%d" % r["team"])
    if r.get("fault"):
        parts.append("fault=%s" % r["fault"])
    if r.get("body") is not None:
        parts.append(one_line(r["body"]))
    return " ".join(parts)


def route_of(path):
    plain = path.split("?", 1)[0]
    for name, route_path in ROUTE_PATHS.items():
        if plain == route_path:
            return name
    return None


def cmd_requests(base, args):
    since = args.since or 0
    log = json.loads(call(base, "GET", "/__mock/requests?since=%d" % since))
    if args.route:
        log = [r for r in log if route_of(r["path"]) == args.route]
    if args.count:
        print(len(log))
    else:
        for r in log:
            print(format_request(r))


def cmd_wait(base, args):
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            call(base, "GET", "/__mock/health", timeout=1.0)
            return
        except MockError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def main(argv=None):
    p = argparse.ArgumentParser(description="Control the lemlist mock.")
    p.add_argument("--url", default=os.environ.get("LEMLIST_MOCK_URL") or DEFAULT_URL,
                   help="the mock's root URL (default $LEMLIST_MOCK_URL or %s)"
                   % DEFAULT_URL)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("reset", help="forget requests, faults, rate windows, config changes")
    r = sub.add_parser("requests", help="print the logged API requests")
    r.add_argument("--route", choices=sorted(ROUTE_PATHS))
    r.add_argument("--count", action="store_true", help="print only how many")
    r.add_argument("--since", type=int, metavar="SEQ", help="only requests after SEQ")
    c = sub.add_parser("config", help="change the configuration (none: print it)")
    c.add_argument("pairs", nargs="*", metavar="key=value")
    f = sub.add_parser("fault", help="queue a fault")
    f.add_argument("kind")
    f.add_argument("pairs", nargs="*", metavar="key=value")
    sub.add_parser("health", help="print ok when the mock answers")
    sub.add_parser("faults", help="print the fault queue as JSON")
    w = sub.add_parser("wait", help="wait until the mock answers")
    w.add_argument("--timeout", type=float, default=10.0)
    args = p.parse_args(argv)
    base = args.url

    try:
        if args.command == "reset":
            call(base, "POST", "/__mock/reset")
        elif args.command == "requests":
            cmd_requests(base, args)
        elif args.command == "config":
            if args.pairs:
                call(base, "POST", "/__mock/config", parse_pairs(args.pairs, False))
            else:
                print(call(base, "GET", "/__mock/config"))
        elif args.command == "fault":
            spec = parse_pairs(args.pairs, True)
            spec["kind"] = args.kind
            call(base, "POST", "/__mock/fault", spec)
        elif args.command == "health":
            print(call(base, "GET", "/__mock/health").strip())
        elif args.command == "faults":
            print(call(base, "GET", "/__mock/faults"))
        elif args.command == "wait":
            cmd_wait(base, args)
    except MockError as e:
        sys.stderr.write("mockctl: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
