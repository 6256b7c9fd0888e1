#!/usr/bin/env python3
"""
test_mock.py
    Self-test of the lemlist mock (mock_lemlist.py) and of mockctl.py.

Run from the repository root:  /usr/bin/python3 -m unittest test/test_mock.py -v
The mock runs as a subprocess on a free loopback port; each test starts from
a reset.  Standard library only; the whole file runs in a few seconds.
"""

import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mock_lemlist.py")
MOCKCTL = os.path.join(HERE, "mockctl.py")
STATS = "/api/v2/campaigns/stats/batch"
KEY = "test-key-alpha"
KEY2 = "test-key-beta"
START = "2024-01-01T00:00:00.000Z"
END = "2026-01-01T00:00:00.000Z"
RESET_RE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                      r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                      r"\d\d \d{4} \d\d:\d\d:\d\d GMT\+0000 "
                      r"\(Coordinated Universal Time\)")
STAT_KEYS = [
    "campaignId", "nbLeads", "nbLeadsLaunched", "nbLeadsReached", "nbLeadsOpened",
    "nbLeadsInteracted", "nbLeadsAnswered", "nbLeadsInterested",
    "nbLeadsNotInterested", "nbLeadsUnsubscribed", "nbLeadsInterrupted",
    "messagesSent", "messagesNotSent", "messagesBounced", "delivered", "opened",
    "clicked", "replied", "invitationAccepted", "meetingBooked", "steps"]
STEP_COUNTERS = ["invited", "sent", "delivered", "opened", "clicked", "replied",
                 "notDelivered", "bounced", "unsubscribed"]
CAMPAIGN_KEYS = ["_id", "name", "labels", "createdAt", "createdBy", "status",
                 "sequenceId", "teamId", "hasError", "archived"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def auth_header(key):
    return "Basic " + base64.b64encode((":" + key).encode()).decode()


def start_mock(extra=()):
    """Start a mock on a free port; return (process, port)."""
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen([sys.executable, MOCK, "--port", str(port)] + list(extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return proc, port
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise RuntimeError("mock did not start")


def stop_mock(proc):
    proc.terminate()
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


class MockTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_mock()

    @classmethod
    def tearDownClass(cls):
        out, err = stop_mock(cls.proc)
        # Quiet by default, and never a key on any stream.
        if out or err:
            raise AssertionError("the mock printed:\n%s%s" % (
                out.decode(errors="replace"), err.decode(errors="replace")))

    def setUp(self):
        self.ctl("POST", "/__mock/reset")

    # -- helpers -------------------------------------------------------------

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, key=KEY, headers=None, conn=None,
                content_type="application/json", timeout=10):
        """One request; returns (status, headers dict, body text)."""
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = auth_header(key)
        if body is not None:
            if not isinstance(body, (str, bytes)):
                body = json.dumps(body, separators=(",", ":"))
            if content_type:
                h["Content-Type"] = content_type
        c = conn or self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read().decode("utf-8")
            return r.status, {k: v for k, v in r.getheaders()}, data
        finally:
            if conn is None:
                c.close()

    def stats(self, ids, **extra):
        body = {"campaignIds": ids, "startDate": START, "endDate": END}
        body.update(extra)
        status, headers, text = self.request("POST", STATS, body)
        self.assertEqual(status, 200, text)
        return json.loads(text)

    def ctl(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=data, method=method)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as r:
            return r.read().decode()

    def fault(self, **spec):
        self.ctl("POST", "/__mock/fault", spec)

    def config(self, **changes):
        self.ctl("POST", "/__mock/config", changes)

    def log(self):
        return json.loads(self.ctl("GET", "/__mock/requests"))

    def raw(self, payload, timeout=5):
        """Send raw bytes; read until EOF. Returns (bytes, exception or None)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        got = b""
        try:
            s.sendall(payload)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return got, None
                got += chunk
        except OSError as e:
            return got, e
        finally:
            s.close()

    def raw_stats(self):
        body = json.dumps({"campaignIds": ["cam_00001"], "startDate": START,
                           "endDate": END}).encode()
        return (b"POST " + STATS.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"Authorization: " + auth_header(KEY).encode() + b"\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def mockctl(self, *args, url=None):
        env = dict(os.environ)
        env["LEMLIST_MOCK_URL"] = url or "http://127.0.0.1:%d" % self.port
        return subprocess.run([sys.executable, MOCKCTL] + list(args), env=env,
                              capture_output=True, text=True, timeout=20)

    def assertRateHeaders(self, headers):
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            self.assertIn(name, headers)
        self.assertRegex(headers["X-RateLimit-Reset"], RESET_RE)
        self.assertTrue(headers["X-RateLimit-Limit"].isdigit())
        self.assertTrue(headers["X-RateLimit-Remaining"].isdigit())


class TestErrors(MockTestCase):
    def test_health(self):
        self.assertEqual(self.ctl("GET", "/__mock/health"), "ok")

    def check400(self, body, text, content_type="application/json"):
        status, headers, got = self.request("POST", STATS, body,
                                            content_type=content_type)
        self.assertEqual((status, got), (400, text), body)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertRateHeaders(headers)

    def test_400_texts(self):
        self.config(rate_limit=1000)
        ids = "Bad params: campaignIds must be a non-empty array"
        good = {"campaignIds": ["cam_00001"], "startDate": START, "endDate": END}
        for body in ([], "null", "not json", {}, {"campaignIds": []},
                     {"campaignIds": "cam_00001"}, {"campaignIds": [1]},
                     {"campaignIds": ["cam_00001", None]}):
            self.check400(body, ids)
        # Like Express: a body that is not declared JSON is not read.
        self.check400(good, ids, content_type="text/plain")
        self.check400(good, ids, content_type=None)
        self.check400(dict(good, campaignIds=["cam_%05d" % i for i in range(1, 102)]),
                      "Bad params: campaignIds must contain at most 100 items")
        dates = "Bad params: startDate and endDate are required"
        for bad in ({"startDate": None}, {"endDate": 5}, {"startDate": "yesterday"},
                    {"endDate": "2025-13-01"}, {"startDate": "2025-02-30T00:00:00Z"}):
            self.check400(dict(good, **bad), dates)
        b = dict(good)
        del b["endDate"]
        self.check400(b, dates)
        channels = ('Bad params: channels must be an array of "others", "email" '
                    'or "linkedin"')
        for bad in ("email", ["Email"], ["email", "sms"], [None]):
            self.check400(dict(good, channels=bad), channels)
        for bad in ("C", "a", "", None, 1):
            self.check400(dict(good, ABSelected=bad), "Bad params: ABSelected must be A or B")
        fmt = ("Bad param format: sendUser must be formatted as follow: "
               "<sendUserId>|<sendUserEmail>")
        for bad in ("alice@example.com", "usr_alice", "usr_alice|alice",
                    "alice|alice@example.com", "usr_alice|", 7):
            self.check400(dict(good, sendUser=bad), fmt)
        rel = "Bad params: the send user email is not related to the send user id"
        for bad in ("usr_alice|bob@example.com", "usr_nobody|alice@example.com"):
            self.check400(dict(good, sendUser=bad), rel)
        # Validation order: the first failing rule wins.
        self.check400({"campaignIds": [], "startDate": "x", "ABSelected": "C"}, ids)
        self.check400(dict(good, startDate="x", channels=["x"]), dates)
        self.check400(dict(good, channels=["x"], ABSelected="C"), channels)
        self.check400(dict(good, ABSelected="C", sendUser="x"),
                      "Bad params: ABSelected must be A or B")
        # Valid variants are accepted.
        for ok in ({"startDate": "2025-01-01"}, {"endDate": "2025-06-30T23:59:59+02:00"},
                   {"channels": []}, {"channels": ["email", "linkedin", "others"]},
                   {"ABSelected": "B"}, {"sendUser": "usr_bob|bob@example.com"}):
            status, _, text = self.request("POST", STATS, dict(good, **ok))
            self.assertEqual(status, 200, (ok, text))

    def test_401_403(self):
        good = {"campaignIds": ["cam_00001"], "startDate": START, "endDate": END}
        cases = [(None, {}, 401, "none"),
                 ("wrong-key", {}, 401, "bad"),
                 (None, {"Authorization": "Bearer " + KEY}, 401, "bad"),
                 (None, {"Authorization": "Basic !!notbase64"}, 401, "bad"),
                 (None, {"Authorization": "Basic " + base64.b64encode(
                     b"user:" + KEY.encode()).decode()}, 401, "bad"),
                 (None, {"Authorization": "Basic " + base64.b64encode(
                     KEY.encode()).decode()}, 401, "bad"),
                 ("test-key-forbidden", {}, 403, "forbidden"),
                 (KEY2, {}, 200, "ok")]
        for key, headers, status, auth in cases:
            for method, path, body in (("POST", STATS, good),
                                       ("GET", "/api/campaigns?version=v2", None)):
                got, h, text = self.request(method, path, body, key=key, headers=headers)
                self.assertEqual(got, status, (key, headers, text))
                if status == 401:
                    self.assertEqual(text, "Unauthorized")
                if status == 403:
                    self.assertEqual(text, "Forbidden")
                self.assertRateHeaders(h)
        log = self.log()
        self.assertEqual([e["auth"] for e in log][::2], [c[3] for c in cases])
        self.assertNotIn(KEY, json.dumps(log))
        self.assertNotIn(KEY2, json.dumps(log))
        self.assertNotIn("test-key-forbidden", json.dumps(log))

    def test_405_404(self):
        for method, path in (("GET", STATS), ("PUT", STATS), ("DELETE", STATS),
                             ("PATCH", STATS), ("POST", "/api/campaigns?version=v2"),
                             ("DELETE", "/api/campaigns")):
            status, h, text = self.request(method, path, "{}" if method != "GET" else None)
            self.assertEqual((status, text), (405, "Bad method"), (method, path))
            self.assertTrue(h["Content-Type"].startswith("text/plain"))
            self.assertRateHeaders(h)
        status, h, text = self.request("HEAD", STATS)
        self.assertEqual((status, text), (405, ""))
        for path in ("/api/v2/campaigns/stats", "/api/campaign", "/", "/api",
                     "/v2/campaigns/stats/batch", "/api/team"):
            status, h, text = self.request("GET", path)
            self.assertEqual((status, text), (404, "Not found"), path)
        self.assertEqual(self.request("BREW", "/api/x")[0:3:2], (404, "Not found"))


class TestRateLimit(MockTestCase):
    def test_window(self):
        defaults = json.loads(self.ctl("GET", "/__mock/config"))
        self.assertEqual((defaults["rate_limit"], defaults["rate_window_ms"]), (20, 2000))
        self.config(rate_window_ms=10000)      # room for a slow machine
        c = self.conn()
        remaining = []
        for n in range(20):
            status, h, _ = self.request("GET", "/api/campaigns?version=v2&limit=1",
                                        conn=c)
            self.assertEqual(status, 200)
            self.assertRateHeaders(h)
            self.assertEqual(h["X-RateLimit-Limit"], "20")
            remaining.append(int(h["X-RateLimit-Remaining"]))
        self.assertEqual(remaining, list(range(19, -1, -1)))
        status, h, text = self.request("POST", STATS, {"campaignIds": ["cam_00001"],
                                                       "startDate": START, "endDate": END},
                                       conn=c)
        self.assertEqual((status, text), (429, "Too many requests"))
        self.assertRateHeaders(h)
        self.assertEqual(h["X-RateLimit-Remaining"], "0")
        self.assertIn(int(h["Retry-After"]), range(1, 11))
        c.close()
        # Per key: another key has its own window; bad keys do not count.
        self.assertEqual(self.request("GET", "/api/campaigns", key=KEY2)[0], 200)
        self.assertEqual(self.request("GET", "/api/campaigns", key="nope")[0], 401)
        # Control routes are never limited nor logged.
        self.assertEqual(self.ctl("GET", "/__mock/health"), "ok")
        self.assertEqual([e["status"] for e in self.log()], [200] * 20 + [429, 200, 401])

    def test_window_reset_and_config(self):
        self.config(rate_limit=3, rate_window_ms=600)
        statuses = [self.request("GET", "/api/campaigns")[0] for _ in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])
        status, h, _ = self.request("GET", "/api/campaigns")
        self.assertEqual(h["Retry-After"], "1")            # ceil, at least 1
        self.assertEqual(h["X-RateLimit-Limit"], "3")
        time.sleep(0.65)
        status, h, _ = self.request("GET", "/api/campaigns")
        self.assertEqual((status, h["X-RateLimit-Remaining"]), (200, "2"))
        # Unknown keys get 401 without using the window up.
        for _ in range(5):
            self.assertEqual(self.request("GET", "/api/campaigns", key="zzz")[0], 401)
        self.assertEqual(self.request("GET", "/api/campaigns")[0], 200)
        # reset restores the command-line values and forgets windows.
        self.ctl("POST", "/__mock/reset")
        self.assertEqual(json.loads(self.ctl("GET", "/__mock/config"))["rate_limit"], 20)
        status, h, _ = self.request("GET", "/api/campaigns")
        self.assertEqual(h["X-RateLimit-Remaining"], "19")


class TestStats(MockTestCase):
    def test_results_and_errors(self):
        ids = ["cam_00003", "cam_00001", "cam_99999", "cam_00013", "cam_00001",
               "cam_1", "", "cam_00251", "cam_00002"]
        out = self.stats(ids)
        self.assertEqual(list(out), ["results", "errors"])
        self.assertEqual([r["campaignId"] for r in out["results"]],
                         ["cam_00003", "cam_00001", "cam_00002"])
        self.assertEqual(out["errors"], [
            {"campaignId": "cam_99999", "error": "Campaign not found"},
            {"campaignId": "cam_00013", "error": "Stats unavailable for archived campaign"},
            {"campaignId": "cam_1", "error": "Campaign not found"},
            {"campaignId": "", "error": "Campaign not found"},
            {"campaignId": "cam_00251", "error": "Campaign not found"}])
        out = self.stats(["cam_%05d" % i for i in range(1, 101)])
        self.assertEqual(len(out["results"]), 99)
        seen_types = set()
        seen_ab = False
        for r in out["results"]:
            self.assertEqual(list(r), STAT_KEYS)
            self.assertTrue(all(isinstance(r[k], int) and r[k] >= 0
                                for k in STAT_KEYS[1:-1]))
            leads = [r[k] for k in STAT_KEYS[1:5]]
            self.assertEqual(leads, sorted(leads, reverse=True))
            self.assertTrue(2 <= len(r["steps"]) <= 5)
            self.assertEqual(r["messagesSent"], sum(s["sent"] for s in r["steps"]))
            n = r["campaignId"][4:]
            for k, s in enumerate(r["steps"]):
                self.assertEqual(s["index"], k + 1)
                self.assertEqual(s["sequenceStep"], k)
                self.assertEqual(s["sequenceId"], "seq_" + n)
                keys = ["index", "sequenceId", "sequenceStep"]
                if "abTest" in s:
                    self.assertIn(s["abTest"], ("A", "B"))
                    keys.append("abTest")
                    seen_ab = True
                keys.append("taskType")
                if s["taskType"] == "conditional":
                    keys.append("conditionLabel")
                self.assertEqual(list(s), keys + STEP_COUNTERS)
                seen_types.add(s["taskType"])
                self.assertLessEqual(s["delivered"], s["sent"])
                self.assertLessEqual(s["opened"], s["delivered"])
                self.assertLessEqual(s["clicked"], s["opened"])
        self.assertTrue(seen_ab)
        self.assertEqual(seen_types, {"email", "linkedinVisit", "linkedinInvite",
                                      "linkedinSend", "phone", "manual", "conditional"})

    def test_filters_change_numbers(self):
        ids = ["cam_%05d" % i for i in range(1, 31)]

        def totals(**f):
            out = self.stats(ids, **f)
            return {r["campaignId"]: r for r in out["results"]}

        full = totals()
        a = totals(ABSelected="A")
        b = totals(ABSelected="B")
        self.assertNotEqual(json.dumps(a), json.dumps(b))
        for cid, r in full.items():
            self.assertLessEqual(a[cid]["nbLeads"] + b[cid]["nbLeads"], r["nbLeads"])
            self.assertNotIn("B", [s.get("abTest") for s in a[cid]["steps"]])
            self.assertNotIn("A", [s.get("abTest") for s in b[cid]["steps"]])
        narrow = totals(startDate="2025-01-01T00:00:00.000Z",
                        endDate="2025-02-01T00:00:00.000Z")
        self.assertLess(sum(r["nbLeads"] for r in narrow.values()),
                        sum(r["nbLeads"] for r in full.values()))
        self.assertTrue(all(narrow[c]["nbLeads"] <= full[c]["nbLeads"] for c in full))
        empty = totals(startDate="2023-01-01T00:00:00.000Z",
                       endDate="2023-12-31T23:59:59.999Z")
        self.assertEqual(sum(r["messagesSent"] + r["nbLeads"] for r in empty.values()), 0)
        # "now" as endDate gives the full totals: activity ends mid-2025.
        later = totals(endDate="2031-05-05T10:00:00.000Z")
        self.assertEqual(later, full)
        kinds = {"email": {"email"},
                 "linkedin": {"linkedinVisit", "linkedinInvite", "linkedinSend"},
                 "others": {"phone", "manual", "conditional"}}
        for channel, types in kinds.items():
            got = totals(channels=[channel])
            steps = [s["taskType"] for r in got.values() for s in r["steps"]]
            self.assertTrue(steps)
            self.assertTrue(set(steps) <= types, (channel, steps))
        both = totals(channels=["email", "others"])
        self.assertNotEqual(json.dumps(both), json.dumps(full))
        users = [totals(sendUser=u) for u in ("usr_alice|alice@example.com",
                                              "usr_bob|bob@example.com",
                                              "usr_carol|carol@example.com")]
        self.assertEqual(len({json.dumps(u) for u in users}), 3)
        for cid, r in full.items():
            self.assertLessEqual(sum(u[cid]["nbLeads"] for u in users), r["nbLeads"])

    def test_determinism(self):
        body = {"campaignIds": ["cam_00001", "cam_00042", "cam_00200"],
                "startDate": "2024-06-01T00:00:00.000Z",
                "endDate": "2025-03-01T00:00:00.000Z",
                "sendUser": "usr_alice|alice@example.com", "ABSelected": "A",
                "channels": ["email", "linkedin"]}
        first = self.request("POST", STATS, body)[2]
        self.assertEqual(first, self.request("POST", STATS, body)[2])
        # Team size does not change a campaign's numbers.
        self.config(campaigns=20000)
        self.assertEqual(first, self.request("POST", STATS, body)[2])
        # Golden values, so that the generator cannot drift unnoticed (the
        # FDW's expected files depend on it).
        r = self.stats(["cam_00001"], startDate="2025-01-01T00:00:00.000Z",
                       endDate="2026-01-01T00:00:00.000Z")["results"][0]
        self.assertEqual((r["nbLeads"], r["messagesSent"], len(r["steps"])), (62, 109, 4))
        self.assertEqual(json.loads(first)["results"][0]["campaignId"], "cam_00001")


class TestCampaigns(MockTestCase):
    def get(self, query):
        status, h, text = self.request("GET", "/api/campaigns?" + query)
        self.assertEqual(status, 200, text)
        self.assertRateHeaders(h)
        return json.loads(text)

    def test_sort_by_created_at(self):
        default = [c["_id"] for c in self.get("limit=100")]
        newest = self.get("limit=100&sortBy=createdAt&sortOrder=desc")
        stamps = [c["createdAt"] for c in newest]
        self.assertEqual(stamps, sorted(stamps, reverse=True))
        self.assertNotEqual([c["_id"] for c in newest], default[:100])
        oldest = self.get("limit=5&offset=2&sortBy=createdAt&sortOrder=asc")
        everyone = self.get("limit=100&offset=0&sortBy=createdAt")
        self.assertEqual(oldest, everyone[2:7])
        self.assertEqual([c["createdAt"] for c in everyone],
                         sorted(c["createdAt"] for c in everyone))

    def test_array_shape_and_paging(self):
        page = self.get("version=v2&limit=100&offset=0")
        self.assertIsInstance(page, list)
        self.assertEqual(len(page), 100)
        self.assertEqual(page[0]["_id"], "cam_00001")
        for c in page:
            self.assertEqual(list(c), CAMPAIGN_KEYS)
            self.assertRegex(c["createdAt"],
                             r"^202[45]-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(c["createdBy"], ("usr_alice", "usr_bob", "usr_carol"))
            self.assertEqual(c["teamId"], "tea_mockteam")
            self.assertEqual(c["sequenceId"], "seq_" + c["_id"][4:])
            self.assertLessEqual(len(c["labels"]), 2)
            self.assertEqual(c["archived"], c["status"] == "archived")
            self.assertIsInstance(c["hasError"], bool)
        self.assertEqual(page[12]["status"], "archived")
        ids = [c["_id"] for c in page]
        ids += [c["_id"] for c in self.get("version=v2&limit=100&offset=100")]
        last = self.get("version=v2&limit=100&offset=200")
        self.assertEqual(len(last), 50)
        ids += [c["_id"] for c in last]
        self.assertEqual(ids, ["cam_%05d" % i for i in range(1, 251)])
        self.assertEqual(self.get("version=v2&limit=100&offset=250"), [])
        self.assertEqual(len(self.get("version=v2")), 100)
        self.assertEqual(len(self.get("version=v2&limit=500")), 100)
        self.assertEqual([c["_id"] for c in self.get("version=v2&limit=3&offset=5")],
                         ["cam_00006", "cam_00007", "cam_00008"])
        statuses = {c["status"] for c in self.get("limit=100")}
        self.assertEqual(statuses, {"running", "paused", "draft", "ended", "archived",
                                    "errors"})
        running = self.get("version=v2&status=running&limit=100&offset=0")
        self.assertTrue(running and all(c["status"] == "running" for c in running))
        bob = self.get("version=v2&createdBy=usr_bob&status=paused")
        self.assertTrue(bob and all(c["createdBy"] == "usr_bob" and c["status"] == "paused"
                                    for c in bob))
        self.assertEqual(self.get("status=nonsense"), [])
        status, _, text = self.request("GET", "/api/campaigns?limit=abc")
        self.assertEqual(status, 400)

    def test_paginated_shape(self):
        self.config(campaigns_shape="paginated")
        out = self.get("version=v2&limit=100&offset=0")
        self.assertEqual(list(out), ["campaigns", "pagination"])
        self.assertEqual(out["pagination"], {"totalRecords": 250, "currentPage": 1,
                                             "nextPage": 2, "totalPage": 3})
        out = self.get("version=v2&limit=100&offset=200")
        self.assertEqual(len(out["campaigns"]), 50)
        self.assertEqual(out["pagination"], {"totalRecords": 250, "currentPage": 3,
                                             "nextPage": 3, "totalPage": 3})
        out = self.get("version=v2&limit=100&offset=100&createdBy=usr_alice")
        p = out["pagination"]
        self.assertEqual(p["currentPage"], 2)
        self.assertEqual(p["totalRecords"], len([c for c in self.get(
            "version=v2&limit=100&offset=0&createdBy=usr_alice")["campaigns"]])
            + len(out["campaigns"]) + len(self.get(
                "version=v2&limit=100&offset=200&createdBy=usr_alice")["campaigns"]))

    def test_big_team(self):
        self.config(campaigns=20000)
        last = self.get("version=v2&limit=100&offset=19900")
        self.assertEqual(len(last), 100)
        self.assertEqual(last[-1]["_id"], "cam_20000")
        self.assertEqual(self.get("version=v2&limit=100&offset=20000"), [])
        out = self.stats(["cam_20000", "cam_20001"])
        self.assertEqual(out["results"][0]["campaignId"], "cam_20000")
        self.assertEqual(out["errors"], [{"campaignId": "cam_20001",
                                          "error": "Campaign not found"}])
        self.config(campaigns=5)
        self.assertEqual(len(self.get("limit=100")), 5)


class TestKeyTeams(MockTestCase):
    """config key_teams 1: a key ending in digits N is a team of its own."""

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_mock(["--keys", "%s,agency-team-7" % KEY])

    def test_each_key_its_team(self):
        self.ctl("POST", "/__mock/config", {"key_teams": 1, "campaigns": 20})
        status, _, text = self.request("GET", "/api/campaigns?version=v2&limit=100",
                                       key="agency-team-7")
        self.assertEqual(status, 200, text)
        listed = [c["_id"] for c in json.loads(text)]
        self.assertEqual(listed, ["cam_%d" % (700000 + i) for i in range(1, 21)])
        self.assertEqual(json.loads(text)[0]["teamId"], "tea_mockteam007")
        body = {"campaignIds": ["cam_700001", "cam_00001", "cam_700013", "cam_700021"],
                "startDate": START, "endDate": END}
        status, _, text = self.request("POST", STATS, body, key="agency-team-7")
        out = json.loads(text)
        self.assertEqual([r["campaignId"] for r in out["results"]], ["cam_700001"])
        self.assertEqual([e["campaignId"] for e in out["errors"]],
                         ["cam_00001", "cam_700013", "cam_700021"])
        self.assertEqual(out["errors"][1]["error"], "Stats unavailable for archived campaign")
        # a key without digits is team 0; the log says each request's team
        out = self.stats(["cam_00001", "cam_700001"])
        self.assertEqual([r["campaignId"] for r in out["results"]], ["cam_00001"])
        log = json.loads(self.ctl("GET", "/__mock/requests"))
        self.assertEqual([r.get("team") for r in log], [7, 7, 0])
        # off (the default), every key sees the one team and the log has no team
        self.ctl("POST", "/__mock/config", {"key_teams": 0})
        status, _, text = self.request("POST", STATS, body, key="agency-team-7")
        self.assertEqual([r["campaignId"] for r in json.loads(text)["results"]],
                         ["cam_00001"])
        self.assertNotIn("team", json.loads(self.ctl("GET", "/__mock/requests"))[-1])
        with self.assertRaises(urllib.error.HTTPError):
            self.ctl("POST", "/__mock/config", {"key_teams": 2})


class TestFaults(MockTestCase):
    def test_status_fifo_times_route(self):
        self.fault(route="stats", kind="status", status=503, times=2)
        self.fault(route="any", kind="status", status=429, headers={"Retry-After": "1"})
        self.fault(route="campaigns", kind="status", status=500, body="boom")
        # campaigns request skips the stats fault, takes the "any" one.
        status, h, text = self.request("GET", "/api/campaigns")
        self.assertEqual((status, text, h["Retry-After"]), (429, "Too many requests", "1"))
        self.assertRateHeaders(h)
        status, _, text = self.request("GET", "/api/campaigns")
        self.assertEqual((status, text), (500, "boom"))
        self.assertEqual(self.request("GET", "/api/campaigns")[0], 200)
        body = {"campaignIds": ["cam_00001"], "startDate": START, "endDate": END}
        statuses = [self.request("POST", STATS, body)[0] for _ in range(3)]
        self.assertEqual(statuses, [503, 503, 200])
        self.assertEqual(json.loads(self.ctl("GET", "/__mock/faults")), [])
        self.fault(kind="status", status=502, times=-1)
        self.assertEqual([self.request("GET", "/api/campaigns")[0] for _ in range(3)],
                         [502] * 3)
        self.assertEqual(len(json.loads(self.ctl("GET", "/__mock/faults"))), 1)
        log = self.log()
        self.assertEqual([(e["status"], e["fault"]) for e in log],
                         [(429, "status"), (500, "status"), (200, None), (503, "status"),
                          (503, "status"), (200, None)] + [(502, "status")] * 3)

    def test_bad_fault_specs(self):
        for spec in ({"kind": "nope"}, {"kind": "status"}, {"kind": "mutate"},
                     {"kind": "mutate", "op": "nope"}, {"kind": "close", "route": "x"},
                     {"kind": "close", "times": 0}, {"kind": "latency", "ms": "1"},
                     {"kind": "status", "stauts": 500, "status": 500}):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                self.fault(**spec)
            self.assertEqual(cm.exception.code, 400)

    def test_latency(self):
        self.fault(kind="latency", ms=500)
        t = time.monotonic()
        self.assertEqual(self.request("GET", "/api/campaigns")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.5)
        t = time.monotonic()
        self.request("GET", "/api/campaigns")
        self.assertLess(time.monotonic() - t, 0.4)
        self.config(latency_ms=500)
        t = time.monotonic()
        self.assertEqual(self.request("GET", "/api/campaigns")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.5)
        t = time.monotonic()
        self.ctl("GET", "/__mock/health")              # control routes: no latency
        self.assertLess(time.monotonic() - t, 0.4)

    def test_hang(self):
        self.fault(kind="hang", ms=5000)
        result = {}

        def hang():
            try:
                self.request("GET", "/api/campaigns", timeout=0.6)
            except (socket.timeout, TimeoutError) as e:
                result["err"] = e
        t = threading.Thread(target=hang)
        t.start()
        time.sleep(0.1)
        # Other requests are served while one hangs.
        t0 = time.monotonic()
        self.assertEqual(self.request("GET", "/api/campaigns")[0], 200)
        self.assertLess(time.monotonic() - t0, 2.0)
        t.join()
        self.assertIn("err", result)
        # With a short ms, the mock closes the connection without an answer.
        self.fault(kind="hang", ms=200)
        t0 = time.monotonic()
        got, err = self.raw(self.raw_stats())
        self.assertEqual(got, b"")
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)
        self.assertEqual([(e["status"], e["fault"]) for e in self.log()],
                         [(None, "hang"), (200, None), (None, "hang")])

    def test_truncate_reset_close(self):
        self.fault(kind="truncate")
        got, err = self.raw(self.raw_stats())
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertIsNone(err)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"))
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        self.assertEqual(len(body), length // 2)
        self.fault(kind="reset")
        got, err = self.raw(self.raw_stats())
        self.assertTrue(got.startswith(b"HTTP/1.1 200"))
        self.assertIsInstance(err, ConnectionResetError)
        self.fault(kind="close")
        got, err = self.raw(self.raw_stats())
        self.assertEqual((got, err), (b"", None))
        c = self.conn()
        self.fault(kind="close")
        with self.assertRaises(http.client.RemoteDisconnected):
            self.request("GET", "/api/campaigns", conn=c)
        c.close()
        self.assertEqual([(e["status"], e["fault"]) for e in self.log()],
                         [(200, "truncate"), (200, "reset"), (None, "close"),
                          (None, "close")])

    def test_malformed_and_body(self):
        self.fault(kind="malformed")
        status, h, text = self.request("GET", "/api/campaigns")
        self.assertEqual((status, h["Content-Type"], text),
                         (200, "text/html", "<html>Bad Gateway</html>"))
        self.fault(kind="malformed", body="oops", content_type="text/plain")
        status, h, text = self.request("GET", "/api/campaigns")
        self.assertEqual((status, h["Content-Type"], text), (200, "text/plain", "oops"))
        self.fault(kind="body", body='{"results":[{"campaignId":"x"}]')
        status, h, text = self.request("GET", "/api/campaigns")
        self.assertEqual((status, text), (200, '{"results":[{"campaignId":"x"}]'))
        self.assertTrue(h["Content-Type"].startswith("application/json"))

    def mutated(self, op, ids=("cam_00001", "cam_00002"), **extra):
        self.fault(kind="mutate", op=op, **extra)
        status, h, text = self.request("POST", STATS, {"campaignIds": list(ids),
                                                       "startDate": START, "endDate": END})
        self.assertEqual(status, 200)
        self.assertEqual(int(h["Content-Length"]), len(text.encode()))
        return text

    def test_mutate_stats(self):
        normal = self.stats(["cam_00001", "cam_00002"])
        self.assertIsInstance(json.loads(self.mutated("results_not_array"))["results"], dict)
        for op, value in (("counter_string", "12"), ("counter_float", 12.5),
                          ("counter_negative", -3), ("counter_huge", 9999999999)):
            out = json.loads(self.mutated(op))
            self.assertEqual(out["results"][0]["nbLeads"], value)
            self.assertEqual(out["results"][1], normal["results"][1])
        self.assertNotIn("campaignId", json.loads(self.mutated("missing_campaign_id"))
                         ["results"][0])
        self.assertIsInstance(json.loads(self.mutated("steps_not_array"))
                              ["results"][0]["steps"], str)
        out = json.loads(self.mutated("extra_id"))
        self.assertEqual([r["campaignId"] for r in out["results"]],
                         ["cam_00001", "cam_00002", "cam_99999"])
        out = json.loads(self.mutated("drop_id"))
        self.assertEqual([r["campaignId"] for r in out["results"]], ["cam_00002"])
        out = json.loads(self.mutated("drop_id", ids=["cam_77777", "cam_00001"]))
        self.assertEqual((len(out["results"]), out["errors"]), (1, []))
        out = json.loads(self.mutated("duplicate_id"))
        self.assertEqual([r["campaignId"] for r in out["results"]],
                         ["cam_00001", "cam_00001", "cam_00002"])
        text = self.mutated("huge", bytes=200000)
        self.assertEqual(len(text), 200000)
        self.assertEqual(json.loads(text)["results"], normal["results"])
        text = self.mutated("huge")
        self.assertEqual(len(text), 10 * 1024 * 1024)
        # A mutate fault leaves a non-200 answer alone (and is not logged as applied).
        self.fault(kind="mutate", op="counter_string")
        status, _, text = self.request("POST", STATS, {"campaignIds": []})
        self.assertEqual(status, 400)
        self.assertIsNone(self.log()[-1]["fault"])

    def test_mutate_campaigns(self):
        for shape in ("array", "paginated"):
            self.config(campaigns_shape=shape)
            self.fault(kind="mutate", op="campaigns_not_array", route="campaigns")
            self.assertEqual(self.request("GET", "/api/campaigns?limit=5")[2], '{"foo":1}')
            self.fault(kind="mutate", op="campaign_missing_id", route="campaigns")
            out = json.loads(self.request("GET", "/api/campaigns?limit=5")[2])
            items = out if shape == "array" else out["campaigns"]
            self.assertNotIn("_id", items[0])
            self.assertIn("_id", items[1])
            self.fault(kind="mutate", op="campaigns_reverse", route="campaigns")
            out = json.loads(self.request("GET", "/api/campaigns?limit=5")[2])
            items = out if shape == "array" else out["campaigns"]
            self.assertEqual([c["_id"] for c in items],
                             ["cam_%05d" % i for i in range(5, 0, -1)])
            self.fault(kind="mutate", op="huge", bytes=50000, route="campaigns")
            text = self.request("GET", "/api/campaigns?limit=5")[2]
            self.assertEqual(len(text), 50000)
            json.loads(text)

    def test_echo_and_texts(self):
        # a misbehaving API: the body echoes the request's key and header
        self.fault(kind="status", status=502, echo=True,
                   body="key={{api_key}} auth={{authorization}}")
        status, _, text = self.request("POST", STATS, {"campaignIds": ["cam_00001"]})
        self.assertEqual(status, 502)
        basic = "Basic " + base64.b64encode(b":test-key-alpha").decode()
        self.assertEqual(text, "key=test-key-alpha auth=" + basic)
        # inside JSON, as JSON writes it; and errors[] messages, a result's ID
        out = json.loads(self.mutated("error_text", ids=["cam_00013"],
                                      text='no "{{api_key}}"', echo=True))
        self.assertEqual(out["errors"][0]["error"], 'no "test-key-alpha"')
        out = json.loads(self.mutated("error_text", ids=["cam_00013"], text="ab", bytes=5))
        self.assertEqual(out["errors"][0]["error"], "ababa")
        out = json.loads(self.mutated("result_id_text", ids=["cam_00001"],
                                      text="{{api_key}}", echo=True))
        self.assertEqual(out["results"][0]["campaignId"], "test-key-alpha")
        # without echo the placeholders stay as they are; the key is never logged
        self.fault(kind="status", status=500, body="{{api_key}}")
        self.assertEqual(self.request("POST", STATS, {"campaignIds": []})[2], "{{api_key}}")
        self.assertNotIn("test-key-alpha", json.dumps(self.log()))

    def test_mutate_pagination(self):
        self.config(campaigns_shape="paginated", campaigns=250)
        self.fault(kind="mutate", op="pagination_claims_end", route="campaigns")
        out = json.loads(self.request("GET", "/api/campaigns?limit=100")[2])
        self.assertEqual(len(out["campaigns"]), 100)
        self.assertEqual(out["pagination"], {"totalRecords": 250, "currentPage": 1,
                                             "nextPage": None, "totalPage": 1})
        self.fault(kind="mutate", op="total_records_more", route="campaigns")
        out = json.loads(self.request("GET", "/api/campaigns?limit=100&offset=200")[2])
        self.assertEqual(len(out["campaigns"]), 50)
        self.assertEqual(out["pagination"]["totalRecords"], 300)
        self.fault(kind="mutate", op="total_records_fewer", route="campaigns")
        out = json.loads(self.request("GET", "/api/campaigns?limit=100")[2])
        self.assertEqual(out["pagination"]["totalRecords"], 249)
        # the plain array has no pagination to lie with: left as it is
        self.config(campaigns_shape="array")
        self.fault(kind="mutate", op="pagination_claims_end", route="campaigns")
        self.assertEqual(len(json.loads(self.request("GET", "/api/campaigns?limit=100")[2])), 100)


class TestProtocolAndLog(MockTestCase):
    def test_keepalive_and_expect(self):
        c = self.conn()
        for _ in range(3):
            self.assertEqual(self.request("GET", "/api/campaigns?limit=1", conn=c)[0], 200)
        sock = c.sock
        self.assertEqual(self.request("POST", STATS, {"campaignIds": ["cam_00001"],
                                                      "startDate": START, "endDate": END},
                                      conn=c)[0], 200)
        self.assertIs(c.sock, sock)
        c.close()
        # Expect: 100-continue (libcurl sends it for big bodies) and chunked bodies.
        body = json.dumps({"campaignIds": ["cam_%05d" % i for i in range(1, 101)],
                           "startDate": START, "endDate": END}).encode()
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n"
                "Expect: 100-continue\r\nConnection: close\r\n\r\n"
                % (STATS, auth_header(KEY), len(body))).encode()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(head)
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100"))
        s.sendall(body)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()
        self.assertIn(b"HTTP/1.1 200", got)
        chunked = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: close\r\n\r\n" % (STATS, auth_header(KEY))).encode()
        part = b'{"campaignIds":["cam_00001"],"startDate":"2025-01-01","endDate":"2026-01-01"}'
        chunked += b"%x\r\n%s\r\n0\r\n\r\n" % (len(part), part)
        got, _ = self.raw(chunked)
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:200])
        self.assertEqual(self.log()[-1]["body"], part.decode())

    def test_request_log(self):
        body = '{"campaignIds":["cam_00001"],"startDate":"%s","endDate":"%s"}' % (START, END)
        self.request("POST", STATS, body)
        self.request("GET", "/api/campaigns?version=v2&limit=100&offset=0")
        self.request("GET", "/api/nowhere")
        self.request("POST", STATS, body, key="bad")
        self.fault(kind="status", status=500, route="stats")
        self.request("POST", STATS, body)
        log = self.log()
        self.assertEqual([list(e)[:7] for e in log],
                         [["seq", "method", "path", "body", "auth", "status", "fault"]] * 5)
        self.assertEqual([(e["seq"], e["method"], e["path"], e["body"], e["auth"],
                           e["status"], e["fault"]) for e in log], [
            (1, "POST", STATS, body, "ok", 200, None),
            (2, "GET", "/api/campaigns?version=v2&limit=100&offset=0", None, "ok", 200, None),
            (3, "GET", "/api/nowhere", None, "ok", 404, None),
            (4, "POST", STATS, body, "bad", 401, None),
            (5, "POST", STATS, body, "ok", 500, "status")])
        since = json.loads(self.ctl("GET", "/__mock/requests?since=3"))
        self.assertEqual([e["seq"] for e in since], [4, 5])
        self.ctl("POST", "/__mock/reset")
        self.assertEqual(self.log(), [])
        self.request("GET", "/api/campaigns")
        self.assertEqual(self.log()[0]["seq"], 1)

    def test_control_errors(self):
        for method, path, payload in (("POST", "/__mock/config", {"nope": 1}),
                                      ("POST", "/__mock/config", {"rate_limit": "5"}),
                                      ("POST", "/__mock/config", {"campaigns_shape": "x"}),
                                      ("POST", "/__mock/config", [1])):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                self.ctl(method, path, payload)
            self.assertEqual(cm.exception.code, 400)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.ctl("GET", "/__mock/reset")
        self.assertEqual(cm.exception.code, 405)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.ctl("GET", "/__mock/nothing")
        self.assertEqual(cm.exception.code, 404)
        self.assertEqual(self.log(), [])


class TestMockctl(MockTestCase):
    def test_commands(self):
        r = self.mockctl("health")
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"))
        r = self.mockctl("config", "rate_limit=5", "campaigns_shape=paginated")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        cfg = json.loads(self.mockctl("config").stdout)
        self.assertEqual((cfg["rate_limit"], cfg["campaigns_shape"]), (5, "paginated"))
        r = self.mockctl("fault", "status", "route=stats", "status=429", "times=2",
                         "header:Retry-After=1", "body=slow down")
        self.assertEqual(r.returncode, 0, r.stderr)
        faults = json.loads(self.mockctl("faults").stdout)
        self.assertEqual(faults, [{"route": "stats", "kind": "status", "status": 429,
                                   "times": 2, "headers": {"Retry-After": "1"},
                                   "body": "slow down"}])
        body = '{"campaignIds":["cam_00001"],"startDate":"%s","endDate":"%s"}' % (START, END)
        self.request("POST", STATS, body)
        self.request("GET", "/api/campaigns?version=v2&limit=100&offset=0")
        self.request("POST", STATS, body)
        self.request("POST", STATS, body)
        r = self.mockctl("requests")
        self.assertEqual(r.stdout.splitlines(), [
            "POST %s 429 fault=status %s" % (STATS, body),
            "GET /api/campaigns?version=v2&limit=100&offset=0 200",
            "POST %s 429 fault=status %s" % (STATS, body),
            "POST %s 200 %s" % (STATS, body)])
        self.assertNotIn("\t", r.stdout)
        self.assertNotIn("\\", r.stdout)
        self.assertEqual(self.mockctl("requests", "--count").stdout, "4\n")
        self.assertEqual(self.mockctl("requests", "--count", "--route", "stats").stdout, "3\n")
        self.assertEqual(self.mockctl("requests", "--route", "campaigns").stdout,
                         "GET /api/campaigns?version=v2&limit=100&offset=0 200\n")
        self.assertEqual(self.mockctl("requests", "--since", "3").stdout,
                         "POST %s 200 %s\n" % (STATS, body))
        self.assertEqual(self.mockctl("reset").returncode, 0)
        self.assertEqual(self.mockctl("requests", "--count").stdout, "0\n")
        self.assertEqual(json.loads(self.mockctl("config").stdout)["rate_limit"], 20)
        r = self.mockctl("fault", "mutate", "op=nope")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("op", r.stderr)
        r = self.mockctl("config", "nonsense")
        self.assertNotEqual(r.returncode, 0)
        r = self.mockctl("health", url="http://127.0.0.1:%d" % free_port())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot reach the mock", r.stderr)
        self.assertEqual(r.stdout, "")
        r = subprocess.run([sys.executable, MOCKCTL, "--url",
                            "http://127.0.0.1:%d" % self.port, "health"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.stdout, "ok\n")

    def test_one_line_per_request(self):
        self.request("POST", STATS, '{\n\t"campaignIds": []\n}')
        out = self.mockctl("requests").stdout
        self.assertEqual(out.count("\n"), 1)
        self.assertNotIn("\t", out)


@unittest.skipUnless(shutil.which("openssl"), "openssl is needed to make a certificate")
class TestTLS(unittest.TestCase):
    def test_https(self):
        tmp = tempfile.mkdtemp()
        try:
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "2",
                            "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            pidfile = os.path.join(tmp, "mock.pid")
            proc, port = start_mock(["--tls-cert", cert, "--tls-key", key,
                                     "--pidfile", pidfile])
            try:
                with open(pidfile) as f:
                    self.assertEqual(int(f.read()), proc.pid)
                ctx = ssl.create_default_context(cafile=cert)
                ctx.check_hostname = False
                c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                for _ in range(2):                      # keep-alive over TLS
                    c.request("GET", "/api/campaigns?limit=1",
                              headers={"Authorization": auth_header(KEY)})
                    r = c.getresponse()
                    self.assertEqual(r.status, 200)
                    self.assertEqual(len(json.loads(r.read())), 1)
                c.close()
                # A plain-HTTP client does not stall the server.
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\n\r\n")
                c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                c.request("GET", "/__mock/health")
                self.assertEqual(c.getresponse().read(), b"ok")
                c.close()
                s.close()
            finally:
                out, err = stop_mock(proc)
            self.assertFalse(os.path.exists(pidfile))
            self.assertEqual((out, err), (b"", b""))
        finally:
            shutil.rmtree(tmp)


class TestCommandLine(unittest.TestCase):
    def test_refuses_non_loopback(self):
        r = subprocess.run([sys.executable, MOCK, "--host", "0.0.0.0", "--port", "1"],
                           capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("loopback", r.stderr)

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            r = subprocess.run([sys.executable, MOCK, "--port", str(s.getsockname()[1])],
                               capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot listen", r.stderr)

    def test_options(self):
        proc, port = start_mock(["--campaigns", "7", "--keys", "k1,k2",
                                 "--forbidden-keys", "k3", "--rate-limit", "2",
                                 "--rate-window-ms", "5000", "--latency-ms", "1"])
        try:
            def get(key):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/api/campaigns", headers={"Authorization": auth_header(key)})
                r = c.getresponse()
                body = r.read()
                c.close()
                return r.status, body
            self.assertEqual(get(KEY)[0], 401)
            self.assertEqual(get("k3")[0], 403)
            status, body = get("k1")
            self.assertEqual((status, len(json.loads(body))), (200, 7))
            self.assertEqual([get("k2")[0] for _ in range(3)], [200, 200, 429])
        finally:
            stop_mock(proc)


if __name__ == "__main__":
    unittest.main()
