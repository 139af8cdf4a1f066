"""Hostile input for the fuzz suite (`tests/resilience/test_fuzz_*.py`): MQTT payloads and topics
with the reason each must be dead-lettered with, and text for the HTTP doors that must be stored
as text and come back escaped.

Each entry: name -> (topic, payload, reason). Topics use the devices, sources and departments
the tests set up: `nz-f-1` is a noise sensor born in 杨舍镇 before the corpus is sent.
Extends tests/integration/test_bad_input.py (one sample per reason) with the nasty cases.
"""

from __future__ import annotations

import itertools
import time

BORN = "nz-f-1"  # the noise sensor the telemetry corpus talks about (born first)
T = f"ioc/v1/noise/{BORN}/telemetry"
S = f"ioc/v1/noise/{BORN}/status"
NOW_MS = int(time.time() * 1000)  # corpus built at import: every ts below is far outside the window anyway

MEGABYTE = b'{"LAeq": 50, "pad": "' + b"x" * (1 << 20) + b'"}'

# ---- telemetry and status (the ingest worker) ----------------------------------------------------

TELEMETRY: dict[str, tuple[str, bytes, str]] = {
    # encoding
    "invalid utf-8 start": (T, b'\xff\xfe{"LAeq": 50}', "not_utf8"),
    "overlong utf-8 slash": (T, b'{"LAeq": 50, "n": "\xc0\xaf"}', "not_utf8"),
    "lone utf-16 surrogate as bytes": (T, b'{"LAeq": 50, "n": "\xed\xa0\x80"}', "not_utf8"),
    "escaped lone surrogate": (T, b'{"LAeq": 50, "n": "\\ud800"}', "not_json"),
    "utf-8 bom": (T, b'\xef\xbb\xbf{"LAeq": 50}', "not_json"),
    # shape
    "empty payload": (T, b"", "not_json"),
    "whitespace only": (T, b" \r\n\t ", "not_json"),
    "truncated object": (T, b'{"LAeq": 5', "not_json"),
    "single quotes": (T, b"{'LAeq': 50}", "not_json"),
    "trailing comma": (T, b'{"LAeq": 50,}', "not_json"),
    "two objects": (T, b'{"LAeq": 50}{"LAeq": 51}', "not_json"),
    "json null": (T, b"null", "not_object"),
    "json string": (T, b'"LAeq"', "not_object"),
    "json number": (T, b"50", "not_object"),
    "json array": (T, b"[]", "not_object"),
    "10,000 levels of [": (T, b"[" * 10_000, "too_large"),  # above IOC_INGEST_MAX_PAYLOAD (8 KiB) before parsing
    "4,000 levels of [ inside an object": (T, b'{"LAeq": ' + b"[" * 4_000 + b"]" * 4_000 + b"}", "not_json"),
    "1 MB payload": (T, MEGABYTE, "too_large"),
    # numbers
    "NaN": (T, b'{"LAeq": NaN}', "non_finite"),
    "Infinity": (T, b'{"LAeq": Infinity}', "non_finite"),
    "-Infinity": (T, b'{"LAeq": -Infinity}', "non_finite"),
    "1e400 overflows a double": (T, b'{"LAeq": 1e400}', "not_json"),
    "2**70": (T, b'{"LAeq": %d}' % 2**70, "out_of_range"),
    "-2**63": (T, b'{"LAeq": %d}' % -2**63, "out_of_range"),
    "2**70 as an integer attribute": ("ioc/v1/air_quality/aq-f-1/telemetry", b'{"airQualityIndex": %d, "lat": 31.87, "lon": 120.553}' % 2**70, "wrong_type"),
    "float as an integer attribute": ("ioc/v1/air_quality/aq-f-1/telemetry", b'{"airQualityIndex": 50.5, "lat": 31.87, "lon": 120.553}', "wrong_type"),
    "negative zero below range": ("ioc/v1/water_level/wl-f-1/telemetry", b'{"waterLevel": -5.0000001, "lat": 31.87, "lon": 120.553}', "out_of_range"),
    # types and fields
    "number as string": (T, b'{"LAeq": "50"}', "wrong_type"),
    "boolean as number": (T, b'{"LAeq": true}', "wrong_type"),
    "number in a list": (T, b'{"LAeq": [50]}', "wrong_type"),
    "number in an object": (T, b'{"LAeq": {"value": 50}}', "wrong_type"),
    "null attribute": (T, b'{"LAeq": null}', "wrong_type"),
    "unknown attribute": (T, b'{"LAeq": 50, "__proto__": {"admin": true}}', "unknown_attribute"),
    "nul in attribute name": (T, b'{"LAeq": 50, "\\u0000": 1}', "unknown_attribute"),
    "no attribute": (T, b'{}', "empty"),
    "only ts": (T, b'{"ts": %d}' % NOW_MS, "empty"),
    "duplicate keys, last one wrong": (T, b'{"LAeq": 50, "LAeq": "loud"}', "wrong_type"),  # last key wins, as in orjson and Python
    "ts boolean": (T, b'{"ts": true, "LAeq": 50}', "bad_timestamp"),
    "ts words": (T, b'{"ts": "yesterday", "LAeq": 50}', "bad_timestamp"),
    "ts without offset": (T, b'{"ts": "2026-11-25T08:00:00", "LAeq": 50}', "bad_timestamp"),
    "ts object": (T, b'{"ts": {"$date": 1}, "LAeq": 50}', "bad_timestamp"),
    "ts 2**63": (T, b'{"ts": %d, "LAeq": 50}' % 2**63, "timestamp_skew"),
    "ts 1e300": (T, b'{"ts": 1e300, "LAeq": 50}', "timestamp_skew"),
    "ts year 1": (T, b'{"ts": "0001-01-01T00:00:00+14:00", "LAeq": 50}', "timestamp_skew"),
    "ts year 9999": (T, b'{"ts": "9999-12-31T23:59:59-23:59", "LAeq": 50}', "timestamp_skew"),
    "ts epoch seconds": (T, b'{"ts": %d, "LAeq": 50}' % (NOW_MS // 1000), "bad_timestamp"),
    "lat as string": (T, b'{"lat": "31.87", "lon": 120.55, "LAeq": 50}', "bad_location"),
    "lat without lon": (T, b'{"lat": 31.87, "LAeq": 50}', "bad_location"),
    "lat 1e308": (T, b'{"lat": 1e308, "lon": 1e308, "LAeq": 50}', "bad_location"),
    # status
    "status without state": (S, b'{"lat": 31.87, "lon": 120.553}', "missing_field"),
    "status state null": (S, b'{"state": null}', "missing_field"),
    "status state list": (S, b'{"state": ["online"]}', "out_of_range"),
    "status state upper case": (S, b'{"state": "ONLINE"}', "out_of_range"),
    "status name object": (S, b'{"state": "online", "name": {"zh": "x"}}', "wrong_type"),
    "status firmware number": (S, b'{"state": "online", "firmware": 2}', "wrong_type"),
    "status lat 91": (S, b'{"state": "online", "lat": 91, "lon": 120.5}', "bad_location"),
    "status NaN location": (S, b'{"state": "online", "lat": NaN, "lon": 120.5}', "non_finite"),
    "status extra field": (S, b'{"state": "online", "role": "admin"}', "unknown_attribute"),
    "status in Shanghai": ("ioc/v1/noise/nz-f-sh/status", b'{"state": "online", "lat": 31.23, "lon": 121.47}', "outside_city"),
    "telemetry of a device never born": ("ioc/v1/noise/nz-f-ghost/telemetry", b'{"LAeq": 50}', "unknown_device"),
    # topics the broker accepts (the ingest subscribes ioc/v1/+/+/telemetry and …/status)
    "device ..": ("ioc/v1/noise/../telemetry", b'{"LAeq": 50}', "bad_topic"),
    "device .": ("ioc/v1/noise/./telemetry", b'{"LAeq": 50}', "bad_topic"),
    "empty device": ("ioc/v1/noise//telemetry", b'{"LAeq": 50}', "bad_topic"),
    "empty kind": (f"ioc/v1//{BORN}/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "kind with dots": ("ioc/v1/../nz-f-2/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "unicode kind": ("ioc/v1/噪声/nz-f-2/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "unicode device": ("ioc/v1/noise/噪声-1/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "upper-case kind": ("ioc/v1/NOISE/nz-f-2/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "device with space": ("ioc/v1/noise/nz f/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "device with markup": ("ioc/v1/noise/<script>alert(1)<%2Fscript>/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "device of 65 characters": ("ioc/v1/noise/" + "n" * 65 + "/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "topic of 65,000 characters": ("ioc/v1/noise/" + "n" * 64_970 + "/telemetry", b'{"LAeq": 50}', "bad_topic"),
    "unknown kind": ("ioc/v1/toaster/tt-f-1/telemetry", b'{"temperature": 200}', "unknown_kind"),
    "telemetry of a status-only kind": ("ioc/v1/gateway/gw-f-1/telemetry", b'{"calls": 1}', "unknown_kind"),
}

# Topics an MQTT client cannot get through: paho refuses wildcards; Mosquitto closes the
# connection of a client that publishes a control character or NUL in a topic (and the client's
# QoS 1 retry then loops). The parsers refuse them too (checked without a broker).
UNPUBLISHABLE_TOPICS = [
    "ioc/v1/noise/+/telemetry", "ioc/v1/+/+/telemetry", f"ioc/v1/noise/{BORN}/#", "ioc/v1/#", "#", "+",
    f"ioc/v1/noise/{BORN}\x00/telemetry", f"ioc/v1/noise/{BORN}\n/telemetry", "ioc/v1/reports/hot\x1bline",
    "ioc/v1/reports/+", "ioc/v1/departments/+/updates",
]

# ---- case reports and department updates (the case worker) ---------------------------------------

R = "ioc/v1/reports/hotline"
U = "ioc/v1/departments/water_affairs/updates"
GOOD_REPORT = {"report_id": "fz-good-1", "category": "10101", "lat": 31.872, "lon": 120.556, "description": "井盖丢失"}


_serial = itertools.count(1)


def report(**changes) -> dict:
    """The good report with `changes` (a field set to ... is left out), under a report id of its own."""
    body = {**GOOD_REPORT, "report_id": f"fz-{next(_serial)}", **changes}
    return {k: v for k, v in body.items() if v is not ...}


REPORTS: dict[str, tuple[str, object, str]] = {  # payload: bytes, or a dict sent as JSON
    "not utf-8": (R, b'{"report_id": "\xff"}', "not_utf8"),
    "not json": (R, b"report_id=1&category=10101", "not_json"),
    "empty": (R, b"", "not_json"),
    "bom": (R, b'\xef\xbb\xbf{"report_id": "x"}', "not_json"),
    "array": (R, b"[1, 2]", "not_object"),
    "null": (R, b"null", "not_object"),
    "NaN lat": (R, b'{"report_id": "n1", "category": "10101", "lat": NaN, "lon": 120.556}', "non_finite"),
    "deep nesting": (R, b'{"report_id": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "not_json"),
    "over 64 KiB": (R, b'{"report_id": "big", "description": "' + b"x" * 70_000 + b'"}', "too_large"),
    "1 MB": (R, MEGABYTE, "too_large"),
    "missing report_id": (R, report(report_id=...), "bad_report"),
    "missing category": (R, report(category=...), "bad_report"),
    "missing lat": (R, report(lat=...), "bad_report"),
    "report_id empty": (R, report(report_id=""), "bad_report"),
    "report_id boolean": (R, report(report_id=True), "bad_report"),
    "report_id object": (R, report(report_id={"$ne": ""}), "bad_report"),
    "report_id control characters": (R, report(report_id="a\x00b"), "bad_report"),
    "report_id 129 characters": (R, report(report_id="r" * 129), "bad_report"),
    "category number": (R, report(category=10101), "bad_report"),
    "category unknown": (R, report(category="99999"), "unknown_category"),
    "category sql": (R, report(category="10101' OR 1=1 --"), "unknown_category"),
    "lat string": (R, report(lat="31.872"), "bad_report"),
    "lat 2**63": (R, report(lat=2**63), "bad_report"),
    "lat out of range": (R, report(lat=-91), "bad_report"),
    "outside the city": (R, report(lat=39.9, lon=116.4), "outside_city"),
    "description 4,001 characters": (R, report(description="x" * 4001), "bad_report"),
    "description object": (R, report(description={"zh": "x"}), "bad_report"),
    "media not a list": (R, report(media="http://x"), "bad_report"),
    "media javascript": (R, report(media=["javascript:alert(1)"]), "bad_report"),
    "media 11 links": (R, report(media=["https://x/"] * 11), "bad_report"),
    "media relative": (R, report(media=["/m/1.jpg"]), "bad_report"),
    "media scheme-relative": (R, report(media=["//evil.example/x"]), "bad_report"),
    "media without a host": (R, report(media=["https:///x"]), "bad_report"),
    "reporter 101 characters": (R, report(reporter="王" * 101), "bad_report"),
    "address 201 characters": (R, report(address="路" * 201), "bad_report"),
    "reported_at in a day": (R, report(reported_at=NOW_MS + 86_400_000), "bad_report"),
    "reported_at boolean": (R, report(reported_at=False), "bad_report"),
    "unknown field": (R, report(priority="urgent"), "bad_report"),
    "source with dots": ("ioc/v1/reports/..", report(), "bad_report"),
    "source empty": ("ioc/v1/reports/", report(), "bad_report"),
    "source unicode": ("ioc/v1/reports/热线", report(), "bad_report"),
    "source upper case": ("ioc/v1/reports/HOTLINE", report(), "bad_report"),
    "source 33 characters": ("ioc/v1/reports/" + "s" * 33, report(), "bad_report"),
    "source of 65,000 characters": ("ioc/v1/reports/" + "s" * 65_000, report(), "bad_report"),
}

UPDATES: dict[str, tuple[str, object, str]] = {
    "not json": (U, b"handled", "not_json"),
    "not utf-8": (U, b'{"case_id": "\xfe"}', "not_utf8"),
    "array": (U, b'["handled"]', "not_object"),
    "over 64 KiB": (U, b'{"case_id": "c", "note": "' + b"x" * 70_000 + b'"}', "too_large"),
    "missing case_id": (U, {"action": "handled"}, "bad_update"),
    "case_id blank": (U, {"case_id": " \r\n", "action": "acknowledge"}, "bad_update"),
    "case_id number": (U, {"case_id": 1, "action": "handled"}, "bad_update"),
    "action unknown": (U, {"case_id": "C-1", "action": "close"}, "bad_update"),
    "action null": (U, {"case_id": "C-1", "action": None}, "bad_update"),
    "return without note": (U, {"case_id": "C-1", "action": "return"}, "bad_update"),
    "note 5,000 characters": (U, {"case_id": "C-1", "action": "handled", "note": "n" * 5000}, "bad_update"),
    "unknown field": (U, {"case_id": "C-1", "action": "handled", "by": "admin"}, "bad_update"),
    "unknown department": ("ioc/v1/departments/no_such_bureau/updates", {"case_id": "C-1", "action": "handled"}, "bad_update"),
    "department ..": ("ioc/v1/departments/../updates", {"case_id": "C-1", "action": "handled"}, "bad_update"),
    "department unicode": ("ioc/v1/departments/水务/updates", {"case_id": "C-1", "action": "handled"}, "bad_update"),
    "unknown case": (U, {"case_id": "C-does-not-exist", "action": "handled"}, "update_refused"),
}

# ---- text that must be stored as text and come back escaped ----------------------------------------

SCRIPT_TEXTS = [
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{7*7}}",
    '"><img src=x onerror=alert(1)>',
    "${jndi:ldap://x/a}",
    "</script><script>alert('ioc')</script>",
    "Robert'); DROP TABLE cases;--",
    "\u202eevil\u0000nul",
]
