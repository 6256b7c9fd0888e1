#!/usr/bin/env python3
"""
bench_mock.py
    test/mock_lemlist.py as test/bench.sh runs it: the same server, options
    and behaviour (latency, rate limit, request log), with two changes that
    keep the mock's own costs out of what the benchmark measures.

    - Answers of the stats and campaigns routes are computed once per exact
      request and then replayed.  mock_lemlist.py computes statistics with
      exact fractions in pure Python: about 30 ms of CPU per 100 campaigns
      (100 ms and more on first use), serialized by the GIL.  Twenty requests
      in flight would then queue behind each other inside the mock, which is
      not what lemlist's latency looks like.  test/bench.sh warms the replay
      cache with one untimed run of each query before timing anything.
    - The listen backlog is 128 instead of socketserver's 5: with 20
      connections opened at once, the kernel would otherwise drop SYNs and
      the client would wait a whole second for the retransmission.

    The injected latency, the rate limit (counted after the latency, as in
    mock_lemlist.py), authentication, the request log and every control
    route are untouched.  Usage: the same arguments as mock_lemlist.py.
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mock_lemlist as mock  # noqa: E402

mock.MockServer.request_queue_size = 128

_lock = threading.Lock()
_answers = {}
_stats = mock.Handler._stats
_campaigns = mock.Handler._campaigns


def _replay(kind, key, compute):
    with _lock:
        hit = _answers.get((kind, key))
    if hit is None:
        answer = compute()
        hit = (answer.status, answer.body, answer.ctype, answer.obj,
               getattr(answer, "filters", None))
        with _lock:
            _answers[(kind, key)] = hit
    status, body, ctype, obj, filters = hit
    answer = mock.Answer(status, body, ctype=ctype, obj=obj)
    if filters is not None:
        answer.filters = filters
    return answer


def _cached_stats(self, body, config, fault, team):
    if fault is not None:
        return _stats(self, body, config, fault, team)
    key = (self.headers.get_content_type(), body, config["campaigns"], team)
    return _replay("stats", key, lambda: _stats(self, body, config, fault, team))


def _cached_campaigns(self, query, config, team):
    key = (query, config["campaigns"], config["campaigns_shape"], team)
    return _replay("campaigns", key, lambda: _campaigns(self, query, config, team))


mock.Handler._stats = _cached_stats
mock.Handler._campaigns = _cached_campaigns

if __name__ == "__main__":
    sys.exit(mock.main())
