#!/usr/bin/env python3
"""
make_corpus.py
    Write the seed corpus of the fuzz harnesses into test/fuzz/corpus/.

    test/fuzz/make_corpus.py [--out DIR]

The response bodies come from the mock lemlist API itself (test/mock_lemlist.py,
imported, no server started): its normal answers, every mutate op it can
apply, and the bodies of its replacing and breaking faults (malformed, empty,
truncated or reset half-way, error statuses), plus the example of lemlist's
documentation (/work/shared/api/campaigns-stats-batch.md) and a few
hand-made edge cases (Unicode, U+0000, deep nesting, numbers at the limits).

Deterministic: running it again rewrites the same files.  Files whose names
start with "crash-" are reproducers of crashes the fuzzers found; this script
never writes nor removes them.

Directories:
    stats/         bodies of POST /v2/campaigns/stats/batch (fuzz_stats, fuzz_steps)
    campaigns/     bodies of GET /campaigns (fuzz_campaigns)
    filter_value/  one byte choosing the filter, then the value (fuzz_filter_value)
    timestamp/     eight bytes, a TimestampTz (fuzz_timestamp)
    request/       "sendUser<TAB>ABSelected<TAB>channel", then IDs (fuzz_request)
"""

import argparse
import copy
import datetime
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True          # no __pycache__ in test/
sys.path.insert(0, os.path.dirname(HERE))
import mock_lemlist as mock  # noqa: E402

# the API documentation's example answer, as the doc shows it
DOC_EXAMPLE = {
    "results": [{
        "campaignId": "cam_123", "nbLeads": 32, "nbLeadsLaunched": 32,
        "nbLeadsReached": 32, "nbLeadsOpened": 31, "nbLeadsInteracted": 4,
        "nbLeadsAnswered": 16, "nbLeadsInterested": 1, "nbLeadsNotInterested": 0,
        "nbLeadsUnsubscribed": 1, "nbLeadsInterrupted": 1, "messagesSent": 72,
        "messagesNotSent": 0, "messagesBounced": 0, "delivered": 72, "opened": 47,
        "clicked": 4, "replied": 16, "invitationAccepted": 0, "meetingBooked": 0,
        "steps": [{
            "index": 1, "sequenceId": "seq_rH5RD3fMkkt2gM3YC", "sequenceStep": 0,
            "taskType": "linkedinSend", "invited": 0, "sent": 32, "delivered": 32,
            "opened": 15, "clicked": 0, "replied": 15, "notDelivered": 0,
            "bounced": 0, "unsubscribed": 1}]}],
    "errors": []}

START = "2025-01-01T00:00:00.000Z"
END = "2025-06-30T23:59:59.999Z"
TEAM = 250


def stats_answer(ids, send_user=None, ab=None, channels=None):
    """The mock's 200 answer (as an object) and its filters, as _stats builds them."""
    params = {"campaignIds": ids, "startDate": START, "endDate": END}
    if send_user:
        params["sendUser"] = send_user
    if ab:
        params["ABSelected"] = ab
    if channels:
        params["channels"] = channels
    ids, start, end, su, ab, ch = mock.validate_stats(params)
    filters = (start, end, su, ab, ch)
    results, errors = [], []
    for cid in ids:
        i = mock.campaign_index(cid, TEAM)
        if i is None:
            errors.append({"campaignId": cid, "error": "Campaign not found"})
        elif i == 13:
            errors.append({"campaignId": cid,
                           "error": "Stats unavailable for archived campaign"})
        else:
            results.append(mock.campaign_stats(i, *filters))
    return {"results": results, "errors": errors}, filters, ids[0]


def campaigns_answer(offset, limit, shape):
    chosen = [i for i, _, _ in mock.team_facts(TEAM)]
    page = [mock.campaign_object(i) for i in chosen[offset:offset + limit]]
    if shape == "array":
        return page
    total = len(chosen)
    pages = -(-total // limit)
    current = offset // limit + 1
    return {"campaigns": page,
            "pagination": {"totalRecords": total, "currentPage": current,
                           "nextPage": current if current >= pages else current + 1,
                           "totalPage": pages}}


def dumps(obj):
    return mock._dumps(obj)


class Writer:
    def __init__(self, out):
        self.out = out
        self.count = 0

    def put(self, sub, name, data):
        d = os.path.join(self.out, sub)
        os.makedirs(d, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        self.count += 1


def stats_seeds(w):
    ids = ["cam_00001", "cam_00002", "cam_00013", "cam_99999"]
    w.put("stats", "doc_example.json", dumps(DOC_EXAMPLE))
    w.put("stats", "doc_example_pretty.json", json.dumps(DOC_EXAMPLE, indent=2))
    obj, filters, first = stats_answer(ids)
    w.put("stats", "mock_ok.json", dumps(obj))
    w.put("stats", "mock_filters.json", dumps(stats_answer(
        ["cam_00002", "cam_00003"], "usr_alice|alice@example.com", "A", ["email"])[0]))
    w.put("stats", "mock_errors_only.json", dumps(stats_answer(["cam_00013", "cam_99999"])[0]))
    w.put("stats", "empty_results.json", '{"results":[],"errors":[]}')

    # every mutate op of the mock, applied to the normal answer
    for op in mock.MUTATE_OPS:
        if op.startswith("campaign"):
            continue                    # campaign list ops leave stats unchanged
        body = copy.deepcopy(obj)
        fault = {"kind": "mutate", "op": op, "_first_id": first, "bytes": 2048}
        w.put("stats", "mutate_%s.json" % op,
              mock.apply_mutation("stats", op, body, filters, fault))

    # the replacing and breaking faults
    normal = dumps(obj)
    w.put("stats", "fault_malformed.html", "<html>Bad Gateway</html>")
    w.put("stats", "fault_body_empty", b"")
    w.put("stats", "fault_truncate.json", normal[:len(normal) // 2])
    w.put("stats", "fault_truncate_1byte.json", normal[:1])
    for status in (400, 429, 500, 502, 503):
        w.put("stats", "fault_status_%d.txt" % status, mock.default_status_body(status))

    # edge cases written by hand
    w.put("stats", "edge_unicode.json", dumps({
        "results": [{"campaignId": "cam_\u00e9\u4e2d\U0001F600", "nbLeads": 1,
                     "extraField": "caf\u00e9 \"quoted\" \\ back",
                     "steps": [{"index": -1, "sequenceId": "seq_\u00fc",
                                "abTest": None, "taskType": "email", "sent": 0,
                                "extraField": [1, "a", None, {"b": 2.5}]}]}],
        "errors": [{"campaignId": "cam_x", "error": "\u00e9chec"},
                   {"campaignId": "cam_y"}, {"campaignId": "cam_z", "error": None}]}))
    w.put("stats", "edge_nul_in_extra.json",
          '{"results":[{"campaignId":"cam_1","extraField":"a\\u0000b"}],"errors":[]}')
    w.put("stats", "edge_nul_in_id.json",
          '{"results":[{"campaignId":"cam_\\u0000"}],"errors":[]}')
    w.put("stats", "edge_numbers.json",
          '{"results":[{"campaignId":"c","nbLeads":9223372036854775807,'
          '"extraField":1e308,"steps":[{"index":-9223372036854775808,'
          '"sent":0,"extraField":-0.0}]}]}')
    w.put("stats", "edge_overflow.json",
          '{"results":[{"campaignId":"c","nbLeads":9223372036854775808}]}')
    w.put("stats", "edge_deep.json",
          '{"results":[{"campaignId":"c","extraField":' + "[" * 600 + "]" * 600 + "}]}")
    # the depth limit: the body is depth 1, results[] 2, a result 3, so
    # 2045 nested arrays in a field reach depth 2048 (the most allowed)
    for name, n in (("edge_depth_limit.json", 2045), ("edge_depth_over.json", 2046)):
        w.put("stats", name, '{"results":[{"campaignId":"c","extraField":%s%s}]}'
              % ("[" * n, "]" * n))
    w.put("stats", "edge_null_fields.json",
          '{"results":[{"campaignId":"c","nbLeads":null,"steps":null}],"errors":null}')
    w.put("stats", "edge_duplicate_keys.json",
          '{"results":[{"campaignId":"a","campaignId":"b","nbLeads":1,"nbLeads":2}]}')
    w.put("stats", "edge_bad_utf8.json",
          b'{"results":[{"campaignId":"cam_\xff"}]}')
    w.put("stats", "edge_nul_byte.json", b'{"results":[]}\x00')
    w.put("stats", "edge_trailing.json", '{"results":[]} {}')
    w.put("stats", "edge_steps_mixed.json",
          '{"results":[{"campaignId":"c","steps":[{"index":1},3,null]}]}')
    w.put("stats", "edge_object_fields.json",
          '{"results":[{"campaignId":"c","extraField":{"a":[1,{"b":null}]},'
          '"steps":[{"index":1,"extraField":{"x":"\u00e9"}}]}],"errors":[]}')
    # nulls and wrong types where objects and documented types are expected
    w.put("stats", "edge_null_result.json", '{"results":[null],"errors":[]}')
    w.put("stats", "edge_null_step.json", '{"results":[{"campaignId":"c","steps":[null]}]}')
    w.put("stats", "edge_null_error.json", '{"results":[],"errors":[null]}')
    w.put("stats", "edge_step_index_string.json",
          '{"results":[{"campaignId":"c","steps":[{"index":"1","sent":true}]}]}')
    w.put("stats", "edge_error_message_number.json",
          '{"results":[],"errors":[{"campaignId":"c","error":404}]}')
    w.put("stats", "edge_labels.json",
          '{"results":[{"campaignId":"c","steps":[{"index":1,"abTest":["A"]}]}]}')
    # every escape, in keys and values, with white space between tokens
    w.put("stats", "edge_escapes.json",
          '{ "results" : [ { "campaign\\u0049d" : "c\\t\\u00e9\\/\\ud83d\\ude00" ,\n'
          '  "nbLeads" : 1 , "extraField" : [ "a\\"b" , "\\b\\f\\n\\r\\\\" , -0 , 1.50 , 1E+2 ] ,\r\n'
          '  "steps" : [ { "sequenceId" : "s\\u0041" , "index" : -0 , "sent" : 0 ,\t"x" : 1e-400 } ] } ] ,'
          ' "errors" : [ { "error" : "e\\n" , "campaignId" : "d" } ] }')
    w.put("stats", "edge_duplicate_read_field.json",
          '{"results":[{"campaignId":"c","nbLeads":1,"nbLeads":2}]}')


def campaigns_seeds(w):
    w.put("campaigns", "mock_array.json", dumps(campaigns_answer(0, 5, "array")))
    w.put("campaigns", "mock_paginated.json", dumps(campaigns_answer(0, 5, "paginated")))
    w.put("campaigns", "mock_last_page.json", dumps(campaigns_answer(245, 100, "paginated")))
    w.put("campaigns", "empty_array.json", "[]")
    w.put("campaigns", "empty_paginated.json",
          '{"campaigns":[],"pagination":{"totalRecords":0,"currentPage":1,'
          '"nextPage":1,"totalPage":0}}')
    for op in ("campaigns_not_array", "campaign_missing_id", "huge"):
        for shape in ("array", "paginated"):
            body = campaigns_answer(0, 3, shape)
            fault = {"kind": "mutate", "op": op, "bytes": 2048}
            w.put("campaigns", "mutate_%s_%s.json" % (op, shape),
                  mock.apply_mutation("campaigns", op, body, None, fault))
    normal = dumps(campaigns_answer(0, 3, "array"))
    w.put("campaigns", "fault_malformed.html", "<html>Bad Gateway</html>")
    w.put("campaigns", "fault_body_empty", b"")
    w.put("campaigns", "fault_truncate.json", normal[:len(normal) // 2])
    w.put("campaigns", "edge_labels.json",
          '[{"_id":"cam_1","labels":["a\\"b","c\\\\d",null,"\u00e9",""],'
          '"hasError":true,"createdAt":"2025-01-01T00:00:00.000Z"}]')
    w.put("campaigns", "edge_object_fields.json",
          '[{"_id":"cam_1","extraField":{"k":true,"l":[]},"labels":[]},'
          '{"_id":"cam_2","labels":{"a":1}}]')
    w.put("campaigns", "edge_null_campaign.json", '[null]')
    w.put("campaigns", "edge_has_error_number.json", '[{"_id":"c","hasError":1}]')
    w.put("campaigns", "edge_pagination_array.json", '{"campaigns":[],"pagination":[]}')
    w.put("campaigns", "edge_bad_types.json",
          '[{"_id":"cam_1","labels":"x","hasError":"yes","name":3}]')
    w.put("campaigns", "edge_pagination.json",
          '{"campaigns":[],"pagination":{"totalRecords":-1,"currentPage":2147483648,'
          '"nextPage":"2","totalPage":1.5}}')
    w.put("campaigns", "edge_pagination_null.json",
          '{"campaigns":[{"_id":"c"}],"pagination":null}')
    w.put("campaigns", "edge_escapes.json",
          '[ {"_\\u0069d":"c\\t1\\u00e9\\/\\ud83d\\ude00", "name":"a\\"b\\\\c\\n",\n'
          ' "labels":["x\\u0041",null,"\\b\\f\\r"], "extraField":{"k":[1,2.50,"\\u00e9"], "e":"é"}}\n]')


def filter_seeds(w):
    # first byte: LemlistFilterKind (lemlist_fdw.h): 4 send_user, 5 ab_selected, 6 channel
    for n, (kind, value) in enumerate([
            (4, "usr_alice|alice@example.com"), (4, "usr_|a@b"), (4, "usr_x|@b"),
            (4, "usr_x|a@"), (4, "usr_x|a@b@c"), (4, "usr_x|a@b|c"), (4, "usr x|a@b"),
            (4, "usr_x|a@b\t"), (4, "usr_x"), (4, "|"), (4, ""),
            (5, "A"), (5, "B"), (5, "C"), (5, "a"), (5, "AB"),
            (6, "email"), (6, "linkedin"), (6, "others"), (6, "Email"), (6, "email "),
            (1, "cam_00001"), (7, "running"), (8, "usr_alice"), (0, "x")]):
        w.put("filter_value", "value_%02d" % n, bytes([kind]) + value.encode("utf-8"))


def pg_timestamp(*args):
    """A UTC date-time as a TimestampTz: microseconds since 2000-01-01."""
    delta = datetime.datetime(*args) - datetime.datetime(2000, 1, 1)
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def timestamp_seeds(w):
    year9999_last = pg_timestamp(9999, 12, 31, 23, 59, 59, 999999)
    values = {
        "epoch2000": 0,
        "minus_one_usec": -1,
        "api_start": pg_timestamp(2025, 1, 1),
        "api_end": pg_timestamp(2025, 6, 30, 23, 59, 59, 999999),
        "leap_day_2024": pg_timestamp(2024, 2, 29, 12, 30, 15, 123456),
        "before_1970": pg_timestamp(1969, 12, 31, 23, 59, 59, 999500),
        "year1": pg_timestamp(1, 1, 1),
        "year0_last": pg_timestamp(1, 1, 1) - 1,
        "year9999_last": year9999_last,
        "year10000": year9999_last + 1,
        "minus_infinity": -(2 ** 63),
        "infinity": 2 ** 63 - 1,
        "most_negative_finite": -(2 ** 63) + 1,
    }
    for name, v in values.items():
        w.put("timestamp", name, struct.pack("<q", v))


def request_seeds(w):
    w.put("request", "ids_only", "\t\t\ncam_00001\ncam_00002")
    w.put("request", "all_filters", "usr_alice|alice@example.com\tA\temail\ncam_00001")
    w.put("request", "unicode", "usr_\u00e9|\u00e9@b\tB\tlinkedin\ncam_\"q\"\\\ncam_\u4e2d\U0001F600")
    w.put("request", "no_ids", "\t\tothers")
    w.put("request", "control_chars", "\x01\t\x7f\t\x1f\n\x08\x0c")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[2].strip())
    p.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = p.parse_args(argv)
    w = Writer(args.out)
    stats_seeds(w)
    campaigns_seeds(w)
    filter_seeds(w)
    timestamp_seeds(w)
    request_seeds(w)
    print("wrote %d seed files under %s" % (w.count, args.out))


if __name__ == "__main__":
    main()
