#!/usr/bin/env python3
"""
mock_lemlist.py
    A deterministic mock of the lemlist API routes used by lemlist_fdw.

The regression tests of lemlist_fdw run against this server, so it follows
lemlist's documentation of the batch stats route to the letter where the
documentation speaks, and is deterministic everywhere else: the same request
always gets the same bytes back.  Python 3.11 standard library only.

    mock_lemlist.py --port 18089 [--host 127.0.0.1] [--campaigns 250]
        [--latency-ms 0] [--rate-limit 20] [--rate-window-ms 2000]
        [--campaigns-shape array|paginated] [--keys K1,K2]
        [--forbidden-keys K3] [--tls-cert F --tls-key F] [--pidfile F]
        [--verbose]

The pidfile is written once the port is listening and removed on SIGTERM or
SIGINT.  Valid keys default to test-key-alpha and test-key-beta;
test-key-forbidden gets 403.

API routes (base path /api, HTTP Basic auth with an empty login and the API
key as password):

    POST /api/v2/campaigns/stats/batch
    GET  /api/campaigns?version=v2&limit=100&offset=N[&status=S][&createdBy=U]

Control routes (no auth, no rate limit, never logged):

    GET  /__mock/health             "ok"
    POST /__mock/reset              forget requests, faults and rate windows;
                                    restore the command-line configuration
    GET  /__mock/requests[?since=N] JSON array of the logged API requests:
                                    seq, method, path, body, auth, status,
                                    fault, elapsed_ms (since the last reset),
                                    and team with key_teams;
                                    status is null when nothing was answered
    GET  /__mock/config             current configuration (JSON)
    POST /__mock/config             change campaigns_shape, rate_limit,
                                    rate_window_ms, latency_ms, campaigns,
                                    key_teams (1: a key ending in digits N
                                    is team N, cam_N00001 to cam_N00000 +
                                    campaigns; its own rate limit as ever)
    POST /__mock/fault              queue a fault (see FAULT_KINDS)
    GET  /__mock/faults             the fault queue (JSON)

Design rules of this file:

- Order of processing of an API request: read the whole body; log the
  request (arrival order); take the first queued fault matching the route;
  global latency.  Faults that replace the answer (status, hang, close,
  malformed, body) stop there: they model a failure in front of the API, so
  they neither check the key nor count against the rate limit.  Otherwise:
  authentication (401/403), then rate limit (429), then method (405), then
  the route's own validation (400) and answer.  The faults latency,
  truncate, reset and mutate are applied to that normal answer (mutate only
  to a 200 JSON answer).
- The rate limit is applied after authentication: a missing, malformed or
  unknown key gets 401 (and a forbidden key 403) without using up a slot of
  anybody's window, so a client with a bad key cannot exhaust the window of a
  good one, and a 401 stays a 401 however often it is retried.  Those answers
  still carry the X-RateLimit-* headers (a full, untouched window).
- A 429 does not use up a slot either: only served requests count.
- The log entry's status is filled in before the first byte of the answer is
  written, so a client that reads /__mock/requests right after its answer
  always sees it.
- The API key is never written anywhere: not in the log, not on stderr.
- The stats route reads the body only when the request's Content-Type is
  application/json, as a Node.js JSON body parser does; any other body is
  "not a JSON object" (400 about campaignIds).  lemlist's documentation is
  silent on this; the strict reading keeps a client honest about the header.
- A hang ends when its client goes away, when its ms have passed, or at the
  next /__mock/reset.  A mutate op that does not fit the answer (a stats op
  on the campaign list, say) leaves it unchanged.
- Stats are a pure function of (campaign, startDate, endDate, sendUser,
  ABSelected, channels), computed with exact fractions.  Every campaign's
  activity lies between its createdAt (2024-01-01 .. 2025-03-31) and at the
  latest 2025-06-30T23:59:59.999Z, so any endDate after that (such as "now")
  yields the campaign's full totals.
- The numbers: each campaign has 2-5 steps; in most campaigns with three or
  more, two consecutive steps are an A/B test (abTest "A" then "B").  A date
  range scales everything by its overlap with the activity; sendUser by that
  sender's share of the campaign; ABSelected by the variant's share of the
  leads, and drops the other variant's step.  channels keeps only the steps
  of those channels (email: email; linkedin: linkedinVisit, linkedinInvite,
  linkedinSend; others: phone, manual, conditional) and scales the reached
  leads and below by the kept steps' share.  The message counters
  (messagesSent, delivered, opened, ...) are sums over the kept steps.
"""

import argparse
import base64
import datetime
import functools
import hashlib
import ipaddress
import json
import math
import os
import re
import select
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from fractions import Fraction
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

STATS_PATH = "/api/v2/campaigns/stats/batch"
CAMPAIGNS_PATH = "/api/campaigns"
MAX_BODY = 32 * 1024 * 1024
MAX_CAMPAIGNS = 99999
TEAM_ID = "tea_mockteam"
# With the config key_teams 1, a key ending in digits (regress-many-002) is a
# team of its own: team 2, whose campaigns are cam_200001 to cam_2NNNNN.  A
# key without them is team 0, cam_00001 to cam_NNNNN, as when key_teams is 0.
TEAM_SPAN = 100000

# ---------------------------------------------------------------------------
# Team data
# ---------------------------------------------------------------------------

SENDERS = (
    ("usr_alice", "alice@example.com"),
    ("usr_bob", "bob@example.com"),
    ("usr_carol", "carol@example.com"),
)
SENDER_EMAIL = dict(SENDERS)

THEMES = (
    "Outbound SaaS", "Inbound Follow-up", "Webinar Invite", "Partner Outreach",
    "Event Follow-up", "Product Launch", "Re-engagement", "Agency Prospecting",
)
LABELS = ("q1", "enterprise", "smb", "hot", "emea", "us", "test")
# Weighted so that every status shows up among a few dozen campaigns.
STATUS_SPREAD = (
    "running", "running", "running", "running", "paused", "paused",
    "draft", "ended", "ended", "archived", "errors",
)
CAMPAIGN_STATUSES = ("running", "paused", "draft", "ended", "archived", "errors")

CHANNEL_OF = {
    "email": "email",
    "linkedinVisit": "linkedin",
    "linkedinInvite": "linkedin",
    "linkedinSend": "linkedin",
    "phone": "others",
    "manual": "others",
    "conditional": "others",
}
FIRST_STEP_TYPES = ("email", "email", "email", "linkedinInvite", "linkedinVisit")
NEXT_STEP_TYPES = ("email", "email", "email", "linkedinVisit", "linkedinInvite",
                   "linkedinSend", "linkedinSend", "phone", "manual", "conditional")
CONDITION_LABELS = ("Opened email?", "Accepted invite?", "Clicked a link?",
                    "Has a phone number?")
AB_SHARES = (35, 40, 45, 55, 60, 65)    # percent of leads in variant A

MS_PER_DAY = 86400 * 1000
CREATED_FROM_MS = 1704067200000         # 2024-01-01T00:00:00.000Z
CREATED_UNTIL_MS = 1743465600000        # 2025-04-01T00:00:00.000Z (excluded)
ACTIVITY_END_MS = 1751327999999         # 2025-06-30T23:59:59.999Z

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

STAT_KEYS = (
    "nbLeads", "nbLeadsLaunched", "nbLeadsReached", "nbLeadsOpened",
    "nbLeadsInteracted", "nbLeadsAnswered", "nbLeadsInterested",
    "nbLeadsNotInterested", "nbLeadsUnsubscribed", "nbLeadsInterrupted",
    "messagesSent", "messagesNotSent", "messagesBounced", "delivered",
    "opened", "clicked", "replied", "invitationAccepted", "meetingBooked",
)


def _h(*parts):
    """Deterministic 64-bit hash of the parts (never Python's hash())."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _pick(seq, *parts):
    return seq[_h(*parts) % len(seq)]


def _pct(lo, hi, *parts):
    """A deterministic percentage in [lo, hi], as an exact fraction."""
    return Fraction(lo + _h(*parts) % (hi - lo + 1), 100)


def iso_ms(ms):
    """Milliseconds since the epoch to YYYY-MM-DDTHH:MM:SS.sssZ."""
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms % 1000)


def js_date(ts):
    """Seconds since the epoch, JavaScript Date.toString() style, in UTC."""
    t = time.gmtime(ts)
    return "%s %s %02d %04d %02d:%02d:%02d GMT+0000 (Coordinated Universal Time)" % (
        DAY_NAMES[t.tm_wday], MONTH_NAMES[t.tm_mon - 1], t.tm_mday, t.tm_year,
        t.tm_hour, t.tm_min, t.tm_sec)


def campaign_id(i):
    return "cam_%05d" % i


def campaign_index(cid, team_size, team=0):
    """The index of a team campaign ID, or None when it is not one."""
    m = re.fullmatch(r"cam_(\d{5,})", cid)
    if not m:
        return None
    i = int(m.group(1))
    first = team * TEAM_SPAN
    if i <= first or i > first + team_size or campaign_id(i) != cid:
        return None
    return i


def key_team(key, config):
    """The team of a valid key: its trailing number when key_teams is on."""
    if not config.get("key_teams") or key is None:
        return 0
    m = re.search(r"(\d+)$", key)
    return int(m.group(1)) if m else 0


@functools.lru_cache(maxsize=None)
def campaign_facts(i):
    """Immutable facts of campaign i; independent of the team size."""
    cid = campaign_id(i)
    nlabels = _h(cid, "nlabels") % 3
    labels = []
    for k in range(10):
        if len(labels) >= nlabels:
            break
        label = _pick(LABELS, cid, "label", k)
        if label not in labels:
            labels.append(label)
    created = CREATED_FROM_MS + _h(cid, "created") % (CREATED_UNTIL_MS - CREATED_FROM_MS)
    duration = (30 + _h(cid, "duration") % 336) * MS_PER_DAY
    status = "archived" if i % TEAM_SPAN == 13 else _pick(STATUS_SPREAD, cid, "status")
    return {
        "_id": cid,
        "name": "Campaign %05d - %s" % (i, _pick(THEMES, cid, "theme")),
        "labels": tuple(labels),
        "created": created,
        "activity_end": min(created + duration, ACTIVITY_END_MS),
        "createdBy": _pick(SENDERS, cid, "creator")[0],
        "status": status,
        "sequenceId": "seq_%05d" % i,
        "hasError": status == "errors",
        "archived": status == "archived",
    }


def campaign_object(i):
    """The campaign as GET /campaigns shows it, in a stable key order."""
    f = campaign_facts(i)
    return {
        "_id": f["_id"],
        "name": f["name"],
        "labels": list(f["labels"]),
        "createdAt": iso_ms(f["created"]),
        "createdBy": f["createdBy"],
        "status": f["status"],
        "sequenceId": f["sequenceId"],
        "teamId": TEAM_ID if i < TEAM_SPAN else "%s%03d" % (TEAM_ID, i // TEAM_SPAN),
        "hasError": f["hasError"],
        "archived": f["archived"],
    }


@functools.lru_cache(maxsize=None)
def campaign_plan(i):
    """The sequence and the rates behind campaign i's numbers."""
    cid = campaign_id(i)
    nsteps = 2 + _h(cid, "nsteps") % 4
    steps = []
    for s in range(1, nsteps + 1):
        types = FIRST_STEP_TYPES if s == 1 else NEXT_STEP_TYPES
        steps.append({"index": s, "taskType": _pick(types, cid, "type", s),
                      "abTest": None})
    # An A/B test on two consecutive steps (variant A then variant B) in
    # two campaigns out of three that have at least three steps.
    if nsteps >= 3 and _h(cid, "ab") % 3 != 0:
        j = 2 + _h(cid, "abpos") % (nsteps - 2)
        for step, variant in ((steps[j - 1], "A"), (steps[j], "B")):
            step["abTest"] = variant
            if step["taskType"] == "conditional":
                step["taskType"] = "email"
    for step in steps:
        s = step["index"]
        step["conditionLabel"] = (_pick(CONDITION_LABELS, cid, "cond", s)
                                  if step["taskType"] == "conditional" else None)
        step["bounce"] = _pct(0, 5, cid, "bounce", s)
        step["notDelivered"] = _pct(0, 3, cid, "notdel", s)
        step["open"] = _pct(25, 75, cid, "open", s)
        step["click"] = _pct(0, 25, cid, "click", s)
        step["reply"] = _pct(2, 20, cid, "reply", s)
        step["unsub"] = _pct(0, 3, cid, "unsub", s)
        step["accept"] = _pct(20, 60, cid, "accept", s)
    creator = campaign_facts(i)["createdBy"]
    weights = {}
    for uid, _ in SENDERS:
        weights[uid] = _h(cid, "sender", uid) % 4 + (3 if uid == creator else 0)
    return {
        "steps": steps,
        "leads": 20 + _h(cid, "leads") % 481,
        "launched": _pct(70, 100, cid, "launched"),
        "decay": _pct(70, 95, cid, "decay"),
        "reached": _pct(60, 95, cid, "reached"),
        "opened": _pct(30, 80, cid, "opened"),
        "interacted": _pct(5, 40, cid, "interacted"),
        "answered": _pct(5, 35, cid, "answered"),
        "interested": _pct(10, 50, cid, "interested"),
        "notInterested": _pct(10, 40, cid, "notInterested"),
        "unsubscribed": _pct(0, 5, cid, "unsubscribed"),
        "interrupted": _pct(0, 10, cid, "interrupted"),
        "meeting": _pct(10, 60, cid, "meeting"),
        "shareA": Fraction(_pick(AB_SHARES, cid, "shareA"), 100),
        "senderWeights": weights,
    }


def _floor(x):
    return int(math.floor(x))


def _step_base(plan, step):
    """Leads reaching a step over the campaign's whole life, unfiltered."""
    launched = plan["leads"] * plan["launched"]
    base = launched * plan["decay"] ** (step["index"] - 1)
    if step["abTest"] == "A":
        base *= plan["shareA"]
    elif step["abTest"] == "B":
        base *= 1 - plan["shareA"]
    return base


def _step_counters(step, recipients):
    kind = step["taskType"]
    z = {"invited": 0, "sent": 0, "delivered": 0, "opened": 0, "clicked": 0,
         "replied": 0, "notDelivered": 0, "bounced": 0, "unsubscribed": 0}
    if kind == "conditional":
        return z
    if kind == "linkedinInvite":
        z["invited"] = recipients
        z["replied"] = _floor(recipients * step["reply"] / 4)
        return z
    if kind in ("linkedinVisit", "phone", "manual"):
        z["sent"] = z["delivered"] = recipients
        if kind != "linkedinVisit":
            z["replied"] = _floor(recipients * step["reply"])
        return z
    sent = recipients
    bounced = _floor(sent * step["bounce"]) if kind == "email" else 0
    not_delivered = _floor(sent * step["notDelivered"])
    delivered = sent - bounced - not_delivered
    opened = _floor(delivered * step["open"])
    z.update(sent=sent, delivered=delivered, notDelivered=not_delivered,
             bounced=bounced, opened=opened,
             clicked=_floor(opened * step["click"]) if kind == "email" else 0,
             replied=_floor(delivered * step["reply"]),
             unsubscribed=_floor(delivered * step["unsub"]) if kind == "email" else 0)
    return z


def campaign_stats(i, start_ms, end_ms, send_user, ab, channels):
    """
    One element of results[] for campaign i under the given filters.

    send_user is a user id or None, ab "A", "B" or None, channels a set of
    channel names or None (no filter).
    """
    plan = campaign_plan(i)
    facts = campaign_facts(i)
    lo = max(start_ms, facts["created"])
    hi = min(end_ms, facts["activity_end"])
    factor = Fraction(max(0, hi - lo), facts["activity_end"] - facts["created"])
    if send_user is not None:
        weights = plan["senderWeights"]
        factor *= Fraction(weights[send_user], sum(weights.values()))
    ab_factor = Fraction(1)
    if ab == "A":
        ab_factor = plan["shareA"]
    elif ab == "B":
        ab_factor = 1 - plan["shareA"]

    steps = []
    kept_base = Fraction(0)
    total_base = Fraction(0)
    accepted = 0
    for step in plan["steps"]:
        base = _step_base(plan, step)
        if step["taskType"] != "conditional":
            total_base += base
        if ab is not None and step["abTest"] not in (None, ab):
            continue
        if channels is not None and CHANNEL_OF[step["taskType"]] not in channels:
            continue
        if step["taskType"] != "conditional":
            kept_base += base
        f = factor if step["abTest"] is not None else factor * ab_factor
        counters = _step_counters(step, _floor(base * f))
        if step["taskType"] == "linkedinInvite":
            accepted += _floor(counters["invited"] * step["accept"])
        out = {"index": step["index"], "sequenceId": facts["sequenceId"],
               "sequenceStep": step["index"] - 1}
        if step["abTest"] is not None:
            out["abTest"] = step["abTest"]
        out["taskType"] = step["taskType"]
        if step["conditionLabel"] is not None:
            out["conditionLabel"] = step["conditionLabel"]
        out.update(counters)
        steps.append(out)

    channel_factor = Fraction(1)
    if channels is not None:
        channel_factor = kept_base / total_base if total_base else Fraction(0)
    leads = _floor(plan["leads"] * factor * ab_factor)
    launched = _floor(leads * plan["launched"])
    reached = _floor(launched * plan["reached"] * channel_factor)
    answered = _floor(reached * plan["answered"])
    interested = _floor(answered * plan["interested"])
    result = {"campaignId": facts["_id"]}
    values = {
        "nbLeads": leads,
        "nbLeadsLaunched": launched,
        "nbLeadsReached": reached,
        "nbLeadsOpened": _floor(reached * plan["opened"]),
        "nbLeadsInteracted": _floor(reached * plan["opened"] * plan["interacted"]),
        "nbLeadsAnswered": answered,
        "nbLeadsInterested": interested,
        "nbLeadsNotInterested": _floor(answered * plan["notInterested"]),
        "nbLeadsUnsubscribed": _floor(reached * plan["unsubscribed"]),
        "nbLeadsInterrupted": _floor(launched * plan["interrupted"]),
        "messagesSent": sum(s["sent"] for s in steps),
        "messagesNotSent": sum(s["notDelivered"] for s in steps),
        "messagesBounced": sum(s["bounced"] for s in steps),
        "delivered": sum(s["delivered"] for s in steps),
        "opened": sum(s["opened"] for s in steps),
        "clicked": sum(s["clicked"] for s in steps),
        "replied": sum(s["replied"] for s in steps),
        "invitationAccepted": accepted,
        "meetingBooked": _floor(interested * plan["meeting"]),
    }
    for key in STAT_KEYS:
        result[key] = values[key]
    result["steps"] = steps
    return result


@functools.lru_cache(maxsize=64)
def team_facts(team_size, team=0):
    """(index, status, createdBy) of every campaign of a team of that size."""
    first = team * TEAM_SPAN
    return tuple((i, campaign_facts(i)["status"], campaign_facts(i)["createdBy"])
                 for i in range(first + 1, first + team_size + 1))


# ---------------------------------------------------------------------------
# Request validation
# ---------------------------------------------------------------------------

class BadRequest(Exception):
    pass


ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?")
SEND_USER_RE = re.compile(r"(usr_[A-Za-z0-9_-]+)\|([^\s@|]+@[^\s@|]+\.[A-Za-z]{2,})")


def parse_iso_ms(text):
    """An ISO 8601 date or date-time to ms since the epoch; None if invalid."""
    if not isinstance(text, str):
        return None
    m = ISO_RE.fullmatch(text)
    if not m:
        return None
    year, month, day, hh, mi, ss, frac, tz = m.groups()
    try:
        d = datetime.datetime(int(year), int(month), int(day), int(hh or 0),
                              int(mi or 0), int(ss or 0),
                              tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    ms = int(d.timestamp()) * 1000 + (int((frac or "0")[:3].ljust(3, "0")))
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            return None
        ms -= sign * (hours * 60 + minutes) * 60000
    return ms


def validate_stats(params):
    """Check a stats request body in lemlist's order; raise BadRequest."""
    ids = params.get("campaignIds") if isinstance(params, dict) else None
    if (not isinstance(ids, list) or not ids
            or not all(isinstance(x, str) for x in ids)):
        raise BadRequest("Bad params: campaignIds must be a non-empty array")
    if len(ids) > 100:
        raise BadRequest("Bad params: campaignIds must contain at most 100 items")
    start = parse_iso_ms(params.get("startDate"))
    end = parse_iso_ms(params.get("endDate"))
    if start is None or end is None:
        raise BadRequest("Bad params: startDate and endDate are required")
    channels = None
    if "channels" in params:
        ch = params["channels"]
        if (not isinstance(ch, list)
                or not all(isinstance(x, str) and x in ("email", "linkedin", "others")
                           for x in ch)):
            raise BadRequest('Bad params: channels must be an array of "others", '
                             '"email" or "linkedin"')
        channels = set(ch) if ch else None
    ab = None
    if "ABSelected" in params:
        ab = params["ABSelected"]
        if ab not in ("A", "B"):
            raise BadRequest("Bad params: ABSelected must be A or B")
    send_user = None
    if "sendUser" in params:
        su = params["sendUser"]
        m = SEND_USER_RE.fullmatch(su) if isinstance(su, str) else None
        if not m:
            raise BadRequest("Bad param format: sendUser must be formatted as "
                             "follow: <sendUserId>|<sendUserEmail>")
        uid, email = m.groups()
        if SENDER_EMAIL.get(uid, "").lower() != email.lower():
            raise BadRequest("Bad params: the send user email is not related "
                             "to the send user id")
        send_user = uid
    unique = list(dict.fromkeys(ids))
    return unique, start, end, send_user, ab, channels


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------

FAULT_KINDS = ("status", "latency", "hang", "truncate", "reset", "close",
               "malformed", "body", "mutate")
REPLACING_FAULTS = ("status", "hang", "close", "malformed", "body")
FAULT_KEYS = ("route", "kind", "times", "status", "body", "headers", "ms", "op",
              "bytes", "content_type", "text", "echo")
MUTATE_OPS = ("results_not_array", "counter_string", "counter_float",
              "counter_negative", "counter_huge", "missing_campaign_id",
              "steps_not_array", "extra_id", "drop_id", "duplicate_id", "huge",
              "campaigns_not_array", "campaign_missing_id", "campaigns_reverse",
              "pagination_claims_end", "total_records_more", "total_records_fewer",
              "error_text", "result_id_text")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_fault(spec):
    """Validate a fault description; return it normalised or raise ValueError."""
    if not isinstance(spec, dict):
        raise ValueError("fault must be a JSON object")
    unknown = sorted(set(spec) - set(FAULT_KEYS))
    if unknown:
        raise ValueError("unknown fault key %r; valid keys: %s"
                         % (unknown[0], ", ".join(FAULT_KEYS)))
    f = dict(spec)
    f.setdefault("route", "any")
    f.setdefault("times", 1)
    if f["route"] not in ("stats", "campaigns", "any"):
        raise ValueError('route must be "stats", "campaigns" or "any"')
    if f.get("kind") not in FAULT_KINDS:
        raise ValueError("kind must be one of: " + ", ".join(FAULT_KINDS))
    if not _is_int(f["times"]) or (f["times"] < 1 and f["times"] != -1):
        raise ValueError("times must be a positive integer or -1")
    for key in ("ms", "bytes"):
        if key in f and (not _is_int(f[key]) or f[key] < 0):
            raise ValueError("%s must be a non-negative integer" % key)
    kind = f["kind"]
    if kind == "status":
        if not _is_int(f.get("status")) or not 100 <= f["status"] <= 599:
            raise ValueError("status fault needs an integer status between 100 and 599")
    if kind == "mutate" and f.get("op") not in MUTATE_OPS:
        raise ValueError("mutate fault needs op, one of: " + ", ".join(MUTATE_OPS))
    if "body" in f and not isinstance(f["body"], str):
        raise ValueError("body must be a string")
    if "text" in f and not isinstance(f["text"], str):
        raise ValueError("text must be a string")
    if f.get("op") in ("error_text", "result_id_text") and "text" not in f:
        raise ValueError("mutate op %s needs text" % f["op"])
    if "headers" in f:
        h = f["headers"]
        if not isinstance(h, dict) or not all(isinstance(k, str) for k in h):
            raise ValueError("headers must be a JSON object")
        f["headers"] = {k: str(v) for k, v in h.items()}
    for key in ("content_type",):
        if key in f and not isinstance(f[key], str):
            raise ValueError("%s must be a string" % key)
    return f


def default_status_body(status):
    texts = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden",
             404: "Not found", 405: "Bad method", 429: "Too many requests",
             500: "Internal Server Error", 502: "Bad Gateway",
             503: "Service Unavailable", 504: "Gateway Timeout"}
    if status in texts:
        return texts[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status %d" % status


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def apply_mutation(route, op, obj, requested, fault):
    """Apply a mutate op to a normal 200 answer; return the new body bytes."""
    if route == "stats" and isinstance(obj, dict):
        results = obj.get("results")
        first = results[0] if isinstance(results, list) and results else None
        if op == "results_not_array":
            obj["results"] = {str(n): r for n, r in enumerate(results)}
        elif op in ("counter_string", "counter_float", "counter_negative",
                    "counter_huge") and first is not None:
            first["nbLeads"] = {"counter_string": "12", "counter_float": 12.5,
                                "counter_negative": -3,
                                "counter_huge": 9999999999}[op]
        elif op == "missing_campaign_id" and first is not None:
            del first["campaignId"]
        elif op == "steps_not_array" and first is not None:
            first["steps"] = "steps"
        elif op == "extra_id":
            results.append(campaign_stats(99999, *requested))
        elif op == "drop_id" and fault.get("_first_id") is not None:
            gone = fault["_first_id"]
            obj["results"] = [r for r in results if r.get("campaignId") != gone]
            obj["errors"] = [e for e in obj["errors"] if e.get("campaignId") != gone]
        elif op == "duplicate_id" and first is not None:
            results.insert(1, json.loads(json.dumps(first)))
        elif op == "error_text" and isinstance(obj.get("errors"), list):
            # the text, repeated to "bytes" characters when given
            text = fault["text"]
            if fault.get("bytes"):
                text = (text * (fault["bytes"] // max(len(text), 1) + 1))[:fault["bytes"]]
            for e in obj["errors"]:
                e["error"] = text
        elif op == "result_id_text" and first is not None:
            first["campaignId"] = fault["text"]
    elif route == "campaigns":
        items = obj if isinstance(obj, list) else obj.get("campaigns")
        if op == "campaigns_not_array":
            obj = {"foo": 1}
        elif op == "campaign_missing_id" and items:
            del items[0]["_id"]
        elif op == "campaigns_reverse" and items:
            items.reverse()             # a page in the opposite order
        elif isinstance(obj, dict) and isinstance(obj.get("pagination"), dict):
            # a pagination object that lies: this is the last page (whatever
            # the page holds), or the team is larger or smaller than it is
            pagination = obj["pagination"]
            if op == "pagination_claims_end":
                pagination["nextPage"] = None
                pagination["totalPage"] = pagination["currentPage"]
            elif op == "total_records_more":
                pagination["totalRecords"] += 50
            elif op == "total_records_fewer":
                pagination["totalRecords"] -= 1
    if op == "huge":
        target = fault.get("bytes", 10 * 1024 * 1024)
        holder = obj if isinstance(obj, dict) else (obj[0] if obj else None)
        base = len(_dumps(obj))
        if holder is None:
            return _dumps(obj) + b" " * max(0, target - base)
        holder["padding"] = ""
        overhead = len(_dumps(obj)) - base
        holder["padding"] = "x" * max(0, target - base - overhead)
    return _dumps(obj)


# ---------------------------------------------------------------------------
# Server state
# ---------------------------------------------------------------------------

CONFIG_KEYS = ("campaigns_shape", "rate_limit", "rate_window_ms", "latency_ms",
               "campaigns", "key_teams")


def check_config(changes):
    if not isinstance(changes, dict):
        raise ValueError("config must be a JSON object")
    for key, value in changes.items():
        if key not in CONFIG_KEYS:
            raise ValueError("unknown config key %r; valid keys: %s"
                             % (key, ", ".join(CONFIG_KEYS)))
        if key == "campaigns_shape":
            if value not in ("array", "paginated"):
                raise ValueError('campaigns_shape must be "array" or "paginated"')
        elif not _is_int(value):
            raise ValueError("%s must be an integer" % key)
        elif key in ("rate_limit", "rate_window_ms") and value < 1:
            raise ValueError("%s must be at least 1" % key)
        elif key == "latency_ms" and value < 0:
            raise ValueError("latency_ms must not be negative")
        elif key == "campaigns" and not 0 <= value <= MAX_CAMPAIGNS:
            raise ValueError("campaigns must be between 0 and %d" % MAX_CAMPAIGNS)
        elif key == "key_teams" and value not in (0, 1):
            raise ValueError("key_teams must be 0 or 1")


class MockState:
    """Everything the handler threads share, behind one lock."""

    def __init__(self, defaults, keys, forbidden_keys, verbose):
        check_config(defaults)
        self.defaults = dict(defaults)
        self.keys = set(keys)
        self.forbidden = set(forbidden_keys)
        self.verbose = verbose
        self.lock = threading.Lock()
        self.stop_hangs = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.config = dict(self.defaults)
            self.log = []
            self.seq = 0
            self.faults = []
            self.buckets = {}
            self.t0 = time.monotonic()
            self.stop_hangs.set()
            self.stop_hangs = threading.Event()

    def set_config(self, changes):
        check_config(changes)
        with self.lock:
            if any(k in changes for k in ("rate_limit", "rate_window_ms")):
                self.buckets = {}
            self.config.update(changes)
            return dict(self.config)

    def get_config(self):
        with self.lock:
            return dict(self.config)

    def add_fault(self, spec):
        fault = check_fault(spec)
        with self.lock:
            self.faults.append(fault)
            return len(self.faults)

    def list_faults(self):
        with self.lock:
            return [dict(f) for f in self.faults]

    def take_fault(self, route):
        """Consume one use of the first queued fault matching the route."""
        with self.lock:
            for n, f in enumerate(self.faults):
                if f["route"] in ("any", route):
                    if f["times"] > 0:
                        f["times"] -= 1
                        if f["times"] == 0:
                            del self.faults[n]
                    return dict(f)
        return None

    def log_request(self, method, path, body, auth):
        with self.lock:
            self.seq += 1
            entry = {"seq": self.seq, "method": method, "path": path,
                     "body": body, "auth": auth, "status": None, "fault": None,
                     "elapsed_ms": int((time.monotonic() - self.t0) * 1000)}
            self.log.append(entry)
            return entry

    def requests(self, since=0):
        with self.lock:
            return [dict(e) for e in self.log if e["seq"] > since]

    def rate(self, bucket, count):
        """
        Rate-limit bookkeeping for one key.

        Returns (allowed, headers).  With count false the window is only
        looked at (answers that do not reach the API).
        """
        now = time.monotonic()
        with self.lock:
            limit = self.config["rate_limit"]
            window = self.config["rate_window_ms"] / 1000.0
            b = self.buckets.get(bucket) if bucket is not None else None
            if b is None or now >= b[0] + window:
                b = [now, 0]
                if count and bucket is not None:
                    self.buckets[bucket] = b
            allowed = True
            if count:
                if b[1] >= limit:
                    allowed = False
                else:
                    b[1] += 1
            remaining = max(0, limit - b[1])
            reset_in = b[0] + window - now
        headers = [("X-RateLimit-Limit", str(limit)),
                   ("X-RateLimit-Remaining", str(remaining)),
                   ("X-RateLimit-Reset", js_date(math.ceil(time.time() + reset_in)))]
        if not allowed:
            headers.insert(0, ("Retry-After", str(max(1, math.ceil(reset_in)))))
        return allowed, headers


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class Answer:
    def __init__(self, status, body, ctype="text/plain; charset=utf-8",
                 headers=None, obj=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.ctype = ctype
        self.headers = list(headers or [])
        self.obj = obj


JSON_TYPE = "application/json; charset=utf-8"


class BodyError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock_lemlist/1.0"
    timeout = 300               # idle keep-alive connections go away
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle and
    # the client's delayed ACK would add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True

    # -- plumbing ------------------------------------------------------------

    def setup(self):
        ctx = self.server.ssl_context
        if ctx is not None:
            self.request.settimeout(10)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            if self.server.ssl_context is not None:
                try:
                    self.request.close()
                except OSError:
                    pass

    def log_message(self, format, *args):
        pass

    def version_string(self):
        return self.server_version

    def __getattr__(self, name):
        # Every method, known or not, goes through _dispatch (405s included).
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    @property
    def state(self):
        return self.server.state

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower() != "chunked":
                raise BodyError(501, "Unsupported transfer encoding")
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BodyError(400, "Bad chunk")
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise BodyError(413, "Payload too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return None
        if not re.fullmatch(r"[0-9]+", cl.strip()):
            raise BodyError(400, "Bad Content-Length")
        n = int(cl)
        if n > MAX_BODY:
            raise BodyError(413, "Payload too large")
        data = self.rfile.read(n)
        if len(data) != n:
            raise BodyError(400, "Incomplete body")
        return data

    def _send(self, answer, part=None):
        """Write an answer; part, when given, is how many body bytes to send."""
        self._answered = True
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.ctype)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body if part is None else answer.body[:part])

    def _abort(self):
        """Reset the connection: SO_LINGER 0, then close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def _hang(self, ms):
        """Answer nothing for up to ms, or until the client goes or a reset."""
        deadline = time.monotonic() + ms / 1000.0
        stop = self.state.stop_hangs
        sock = self.connection
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                readable, _, _ = select.select([sock], [], [], min(left, 0.05))
                if readable and not sock.recv(4096):
                    break
            except ssl.SSLWantReadError:
                continue
            except (OSError, ValueError):
                break
        self.close_connection = True

    # -- dispatch ------------------------------------------------------------

    def _dispatch(self):
        try:
            body = self._read_body()
        except BodyError as e:
            self.close_connection = True
            self._send(Answer(e.status, e.text, headers=[("Connection", "close")]))
            return
        split = urlsplit(self.path)
        self._answered = False
        try:
            if split.path.startswith("/__mock/"):
                self._control(split.path, split.query, body)
            else:
                self._api(split.path, split.query, body)
        except OSError:
            raise
        except Exception:
            # A bug of the mock: tell the client rather than drop it.
            if not self._answered:
                self.close_connection = True
                self._send(Answer(500, "mock_lemlist internal error",
                                  headers=[("Connection", "close")]))
            raise

    def _auth(self):
        """('ok'|'none'|'bad'|'forbidden', key or None)."""
        value = self.headers.get("Authorization")
        if value is None:
            return "none", None
        scheme, _, cred = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return "bad", None
        try:
            text = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "bad", None
        login, colon, key = text.partition(":")
        if not colon or login != "":
            return "bad", None
        if key in self.state.forbidden:
            return "forbidden", key
        if key in self.state.keys:
            return "ok", key
        return "bad", None

    def _api(self, path, query, body):
        state = self.state
        route = {STATS_PATH: "stats", CAMPAIGNS_PATH: "campaigns"}.get(path)
        auth, key = self._auth()
        body_text = None if not body else body.decode("utf-8", errors="replace")
        entry = state.log_request(self.command, self.path, body_text, auth)
        self._entry = entry
        fault = state.take_fault(route) if route is not None else None
        kind = fault["kind"] if fault else None
        entry["fault"] = kind
        latency = state.get_config()["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)
        if kind == "latency":
            time.sleep(fault.get("ms", 1000) / 1000.0)

        if route is None:
            answer = Answer(404, "Not found")
        elif kind in REPLACING_FAULTS:
            answer = self._fault_answer(fault, key if auth == "ok" else None)
            if answer is None:
                if state.verbose:
                    self._verbose(entry)
                if kind == "hang":
                    self._hang(fault.get("ms", 60000))
                else:
                    self.close_connection = True
                return
        else:
            answer = self._normal(route, auth, key, query, body, fault)
            if kind == "mutate" and answer.status != 200:
                entry["fault"] = kind = None    # nothing to mutate

        if answer is not None and fault and fault.get("echo"):
            answer.body = self._echo(answer.body)
        entry["status"] = answer.status
        if state.verbose:
            self._verbose(entry)
        if kind == "truncate":
            self._send(answer, part=len(answer.body) // 2)
            self.close_connection = True
        elif kind == "reset":
            self._send(answer, part=len(answer.body) // 2)
            self._abort()
        else:
            self._send(answer)

    def _echo(self, body):
        """A misbehaving API or proxy: the body with {{api_key}} replaced by
        the key the request carried and {{authorization}} by its
        Authorization header's value (never logged)."""
        value = self.headers.get("Authorization") or ""
        key = ""
        try:
            key = base64.b64decode(value.partition(" ")[2].strip()).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            pass
        raw = body if isinstance(body, bytes) else str(body).encode("utf-8")
        # as JSON would carry them: the key inside a JSON string
        if raw[:1] in (b"{", b"["):
            key_text = json.dumps(key)[1:-1]
            value_text = json.dumps(value)[1:-1]
        else:
            key_text, value_text = key, value
        return raw.replace(b"{{api_key}}", key_text.encode("utf-8")).replace(
            b"{{authorization}}", value_text.encode("utf-8"))

    def _verbose(self, entry):
        sys.stderr.write("mock_lemlist: #%d %s %s -> %s auth=%s fault=%s\n" % (
            entry["seq"], entry["method"], entry["path"], entry["status"],
            entry["auth"], entry["fault"]))
        sys.stderr.flush()

    def _fault_answer(self, fault, key):
        kind = fault["kind"]
        if kind in ("hang", "close"):
            return None
        _, rate_headers = self.state.rate(key, count=False)
        if kind == "status":
            status = fault["status"]
            extra = list(fault.get("headers", {}).items())
            names = {n.lower() for n, _ in extra}
            headers = [h for h in rate_headers if h[0].lower() not in names] + extra
            return Answer(status, fault.get("body", default_status_body(status)),
                          headers=headers)
        if kind == "malformed":
            return Answer(200, fault.get("body", "<html>Bad Gateway</html>"),
                          ctype=fault.get("content_type", "text/html"),
                          headers=rate_headers)
        return Answer(200, fault.get("body", ""), ctype=JSON_TYPE,
                      headers=rate_headers)

    def _normal(self, route, auth, key, query, body, fault):
        state = self.state
        if auth != "ok":
            _, headers = state.rate(None, count=False)
            if auth == "forbidden":
                return Answer(403, "Forbidden", headers=headers)
            return Answer(401, "Unauthorized", headers=headers)
        allowed, headers = state.rate(key, count=True)
        if not allowed:
            return Answer(429, "Too many requests", headers=headers)
        expected = "POST" if route == "stats" else "GET"
        if self.command != expected:
            return Answer(405, "Bad method", headers=headers)
        config = state.get_config()
        team = key_team(key, config)
        if config.get("key_teams"):
            self._entry["team"] = team
        try:
            if route == "stats":
                answer = self._stats(body, config, fault, team)
            else:
                answer = self._campaigns(query, config, team)
        except BadRequest as e:
            return Answer(400, str(e), headers=headers)
        answer.headers = headers
        if fault and fault["kind"] == "mutate":
            answer.body = apply_mutation(route, fault["op"], answer.obj,
                                         getattr(answer, "filters", None), fault)
        return answer

    def _stats(self, body, config, fault, team):
        params = None
        # Like an Express json() body parser: only application/json is read.
        if self.headers.get_content_type() == "application/json" and body:
            try:
                params = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                params = None
        ids, start, end, send_user, ab, channels = validate_stats(params)
        filters = (start, end, send_user, ab, channels)
        results = []
        errors = []
        for cid in ids:
            i = campaign_index(cid, config["campaigns"], team)
            if i is None:
                errors.append({"campaignId": cid, "error": "Campaign not found"})
            elif i % TEAM_SPAN == 13:
                errors.append({"campaignId": cid,
                               "error": "Stats unavailable for archived campaign"})
            else:
                results.append(campaign_stats(i, *filters))
        if fault is not None:
            fault["_first_id"] = ids[0]
        obj = {"results": results, "errors": errors}
        answer = Answer(200, _dumps(obj), ctype=JSON_TYPE, obj=obj)
        answer.filters = filters
        return answer

    def _campaigns(self, query, config, team):
        q = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}

        def number(name, default):
            text = q.get(name)
            if text is None:
                return default
            if not re.fullmatch(r"[0-9]+", text):
                raise BadRequest("Bad params: %s must be a positive integer" % name)
            return int(text)

        limit = min(number("limit", 100), 100)
        offset = number("offset", 0)
        if limit < 1:
            raise BadRequest("Bad params: limit must be a positive integer")
        status = q.get("status")
        creator = q.get("createdBy")
        chosen = [i for i, st, by in team_facts(config["campaigns"], team)
                  if (status is None or st == status)
                  and (creator is None or by == creator)]
        # sortBy=createdAt orders by creation, sortOrder=desc newest first
        # (anything else ascending); ties keep the default order
        if q.get("sortBy") == "createdAt":
            chosen.sort(key=lambda i: campaign_facts(i)["created"],
                        reverse=q.get("sortOrder") == "desc")
        page = [campaign_object(i) for i in chosen[offset:offset + limit]]
        if config["campaigns_shape"] == "array":
            obj = page
        else:
            total = len(chosen)
            pages = -(-total // limit)
            current = offset // limit + 1
            obj = {"campaigns": page,
                   "pagination": {"totalRecords": total, "currentPage": current,
                                  "nextPage": current if current >= pages else current + 1,
                                  "totalPage": pages}}
        return Answer(200, _dumps(obj), ctype=JSON_TYPE, obj=obj)

    # -- control -------------------------------------------------------------

    def _control(self, path, query, body):
        state = self.state
        routes = {"/__mock/health": ("GET",), "/__mock/reset": ("POST",),
                  "/__mock/requests": ("GET",), "/__mock/config": ("GET", "POST"),
                  "/__mock/fault": ("POST",), "/__mock/faults": ("GET",)}
        if path not in routes:
            self._send(Answer(404, "Not found"))
            return
        if self.command not in routes[path]:
            self._send(Answer(405, "Bad method"))
            return
        payload = None
        if self.command == "POST" and path in ("/__mock/config", "/__mock/fault"):
            try:
                payload = json.loads((body or b"").decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._send(Answer(400, "body must be a JSON object"))
                return
        try:
            if path == "/__mock/health":
                answer = Answer(200, "ok")
            elif path == "/__mock/reset":
                state.reset()
                answer = Answer(200, "ok")
            elif path == "/__mock/requests":
                since = parse_qs(query).get("since", ["0"])[0]
                since = int(since) if re.fullmatch(r"[0-9]+", since) else 0
                answer = Answer(200, _dumps(state.requests(since)), ctype=JSON_TYPE)
            elif path == "/__mock/config" and self.command == "GET":
                answer = Answer(200, _dumps(state.get_config()), ctype=JSON_TYPE)
            elif path == "/__mock/config":
                answer = Answer(200, _dumps(state.set_config(payload)), ctype=JSON_TYPE)
            elif path == "/__mock/fault":
                answer = Answer(200, _dumps({"queued": state.add_fault(payload)}),
                                ctype=JSON_TYPE)
            else:
                answer = Answer(200, _dumps(state.list_faults()), ctype=JSON_TYPE)
        except ValueError as e:
            answer = Answer(400, str(e))
        self._send(answer)


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer.server_bind would look the host up in DNS (getfqdn).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        # Clients that vanish mid-answer are part of the job: quiet, unless
        # --verbose.  Anything else is a bug of the mock: say so.
        if self.state.verbose or not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class MockServer6(MockServer):
    address_family = socket.AF_INET6


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv):
    p = argparse.ArgumentParser(description="Mock of the lemlist API for lemlist_fdw tests.")
    p.add_argument("--port", type=int, default=18089)
    p.add_argument("--host", default="127.0.0.1", help="a loopback address")
    p.add_argument("--campaigns", type=int, default=250, help="team size")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--rate-limit", type=int, default=20)
    p.add_argument("--rate-window-ms", type=int, default=2000)
    p.add_argument("--campaigns-shape", choices=("array", "paginated"), default="array")
    p.add_argument("--keys", default="test-key-alpha,test-key-beta",
                   help="valid API keys, comma separated")
    p.add_argument("--forbidden-keys", default="test-key-forbidden",
                   help="keys that get 403, comma separated")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--pidfile")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if not _loopback(args.host):
        p.error("--host must be a loopback address")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    defaults = {"campaigns_shape": args.campaigns_shape, "rate_limit": args.rate_limit,
                "rate_window_ms": args.rate_window_ms, "latency_ms": args.latency_ms,
                "campaigns": args.campaigns}
    split = lambda s: [k for k in (x.strip() for x in s.split(",")) if k]
    try:
        state = MockState(defaults, split(args.keys), split(args.forbidden_keys),
                          args.verbose)
    except ValueError as e:
        sys.stderr.write("mock_lemlist: %s\n" % e)
        return 2
    ssl_context = None
    if args.tls_cert:
        try:
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as e:
            sys.stderr.write("mock_lemlist: cannot load the TLS certificate or key: %s\n" % e)
            return 2
    cls = MockServer6 if ":" in args.host else MockServer
    # Bind, write the pidfile, and only then listen: whoever can connect can
    # also read the pidfile.
    server = cls((args.host, args.port), Handler, bind_and_activate=False)
    server.state = state
    server.ssl_context = ssl_context
    try:
        server.server_bind()
    except OSError as e:
        sys.stderr.write("mock_lemlist: cannot listen on %s:%d: %s\n"
                         % (args.host, args.port, e.strerror or e))
        server.server_close()
        return 1

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if args.pidfile:
            tmp = "%s.%d.tmp" % (args.pidfile, os.getpid())
            with open(tmp, "w") as f:
                f.write("%d\n" % os.getpid())
            os.replace(tmp, args.pidfile)
        try:
            server.server_activate()
        except OSError as e:
            sys.stderr.write("mock_lemlist: cannot listen on %s:%d: %s\n"
                             % (args.host, args.port, e.strerror or e))
            return 1
        if args.verbose:
            sys.stderr.write("mock_lemlist: listening on %s://%s:%d\n" % (
                "https" if ssl_context else "http", args.host,
                server.server_address[1]))
            sys.stderr.flush()
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
