"""Property-based fuzzing of the pure MQTT edge parsers (no servers, many examples):
`ioc.domain.telemetry.parse_message` and `ioc.casework.reports.parse_case_message` never raise,
and always answer a typed object, a rejection carrying a known reason, or a valid reading."""

from __future__ import annotations

import json
import math
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ioc.adapters.geodata_files import load_city_map
from ioc.casework.reports import DESCRIPTION_MAX, MEDIA_MAX, DepartmentUpdate, Report, is_link, parse_case_message
from ioc.domain.kinds import KINDS
from ioc.domain.telemetry import REASONS, Limits, Reading, Rejection, StatusChange, parse_message, plain_reading, split_topic
from ioc.settings import REPO_ROOT
from tests.resilience.fuzz_corpus import REPORTS, TELEMETRY, UNPUBLISHABLE_TOPICS, UPDATES

FAST = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
NOW = int(time.time() * 1000)
LIMITS = Limits()
CITY = load_city_map(REPO_ROOT / "geodata")
DEPARTMENTS = frozenset({"water_affairs", "street_lighting", "town_yangshe"})

# ---- strategies: JSON-ish values, payloads, topics -------------------------------------------------

ATTRIBUTES = sorted({a.name for k in KINDS.values() for a in k.attributes})
REPORT_FIELDS = ["report_id", "category", "lat", "lon", "description", "reported_at", "address", "reporter", "media"]
UPDATE_FIELDS = ["case_id", "action", "note", "ts"]
KEYS = st.one_of(st.sampled_from(ATTRIBUTES + REPORT_FIELDS + UPDATE_FIELDS + ["ts", "lat", "lon", "state", "name"]), st.text(max_size=12))

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**64, max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 50, 50.5, 140, 140.0001, 31.872, 120.556, NOW, NOW // 1000, NOW + 10**9, 2**53, 1e308]),
    st.text(max_size=40),
    st.sampled_from(["online", "offline", "on", "ok", "10101", "10105", "handled", "return", "acknowledge",
                     "2026-11-25T08:00:00+08:00", "2026-11-25T08:00:00", "NaN", "<script>alert(1)</script>", ""]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=20,
)
json_objects = st.dictionaries(KEYS, json_values, max_size=8)


def encode(value) -> bytes:
    """JSON text the way a careless sender writes it: NaN/Infinity allowed, big integers verbatim."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


payloads = st.one_of(
    json_objects.map(encode),
    json_values.map(encode),
    st.binary(max_size=300),
    st.sampled_from([p for _t, p, _r in TELEMETRY.values()] + [p for _t, p, _r in REPORTS.values() if isinstance(p, bytes)]),
)
segments = st.one_of(
    st.sampled_from(sorted(KINDS) + ["nz-f-1", "..", ".", "", "+", "#", "a/b", "噪声", "NOISE", "x" * 65, "reports", "departments"]),
    st.text(max_size=20),
)
device_topics = st.builds(lambda k, d, c: f"ioc/v1/{k}/{d}/{c}", segments, segments,
                          st.sampled_from(["telemetry", "status", "Telemetry", "telemetry/", "", "updates"]))
case_topics = st.one_of(
    st.builds(lambda s: f"ioc/v1/reports/{s}", segments),
    st.builds(lambda d: f"ioc/v1/departments/{d}/updates", st.one_of(st.sampled_from(sorted(DEPARTMENTS)), segments)),
)
any_topic = st.one_of(device_topics, case_topics, st.text(max_size=80), st.sampled_from(UNPUBLISHABLE_TOPICS))


def check_message(message, topic: str, payload: bytes) -> None:
    """One of the three typed answers; a rejection with a known reason and the raw input kept;
    a reading only with attributes of its kind, each valid."""
    assert isinstance(message, (Reading, StatusChange, Rejection)), type(message)
    if isinstance(message, Rejection):
        assert message.reason in REASONS
        assert message.detail and isinstance(message.detail, str)
        assert (message.topic, message.payload) == (topic, payload)
        return
    parts = split_topic(topic)
    assert parts is not None and parts[0] == message.kind and parts[1] == message.device_id
    if isinstance(message, Reading):
        kind = KINDS[message.kind]
        names = {a.name for a in kind.attributes}
        assert message.values and set(message.values) <= names
        assert all(v is not None for v in message.values.values())
        assert all(math.isfinite(v) for v in message.values.values() if isinstance(v, float))
        assert NOW - LIMITS.max_age_ms <= message.ts_ms <= NOW + LIMITS.max_future_ms
        fast = plain_reading(message.kind, message.device_id, payload, NOW, LIMITS)
        assert fast is None or fast == message  # the hot path never disagrees with the full parser
    else:
        assert message.location is None or (-90 <= message.location.lat <= 90 and -180 <= message.location.lon <= 180)


# ---- telemetry and status ---------------------------------------------------------------------------

@FAST
@given(topic=device_topics, payload=payloads)
def test_parse_message_never_raises_on_any_device_topic_and_payload(topic, payload):
    check_message(parse_message(topic, payload, NOW, LIMITS), topic, payload)


@FAST
@given(kind=st.sampled_from(sorted(k for k in KINDS if KINDS[k].telemetry)), values=json_objects)
def test_a_real_devices_telemetry_is_a_valid_reading_or_a_reasoned_rejection(kind, values):
    topic, payload = f"ioc/v1/{kind}/fz-{kind}-1/telemetry", encode(values)
    message = parse_message(topic, payload, NOW, LIMITS)
    check_message(message, topic, payload)
    assert not isinstance(message, StatusChange)
    if isinstance(message, Rejection):
        assert message.device_id == f"fz-{kind}-1"


@FAST
@given(kind=st.sampled_from(sorted(KINDS)), raw=st.binary(max_size=200))
def test_raw_bytes_on_a_real_topic_are_never_a_crash(kind, raw):
    for channel in ("telemetry", "status"):
        topic = f"ioc/v1/{kind}/fz-raw-1/{channel}"
        check_message(parse_message(topic, raw, NOW, LIMITS), topic, raw)


@FAST
@given(topic=any_topic, payload=payloads)
def test_arbitrary_topics_are_refused_with_bad_topic_or_parsed(topic, payload):
    message = parse_message(topic, payload, NOW, LIMITS)
    check_message(message, topic, payload)
    if split_topic(topic) is None:
        assert isinstance(message, Rejection) and message.reason == "bad_topic"


@pytest.mark.parametrize("topic", UNPUBLISHABLE_TOPICS)
def test_wildcard_and_nul_topics_are_refused_by_every_parser(topic):
    payload = b'{"LAeq": 50}'
    assert parse_message(topic, payload, NOW, LIMITS).reason == "bad_topic"
    assert parse_case_message(topic, orjson.dumps({"case_id": "C-1", "action": "handled"}), NOW, CITY, DEPARTMENTS).reason \
        in ("bad_report", "bad_update")


@pytest.mark.parametrize("name", sorted(n for n, (_t, _p, r) in TELEMETRY.items() if r not in ("outside_city", "unknown_device")))
def test_each_telemetry_corpus_entry_is_refused_with_its_reason_by_the_pure_parser(name):
    topic, payload, reason = TELEMETRY[name]
    message = parse_message(topic, payload, NOW, LIMITS)
    assert isinstance(message, Rejection) and message.reason == reason, (name, message)


# ---- case reports and department updates -------------------------------------------------------------

def check_case_message(message, topic: str, payload: bytes) -> None:
    assert isinstance(message, (Report, DepartmentUpdate, Rejection)), type(message)
    if isinstance(message, Rejection):
        assert message.reason in REASONS and message.detail
        assert (message.topic, message.payload) == (topic, payload)
        assert len(message.detail) <= 500
    elif isinstance(message, Report):
        assert topic == f"ioc/v1/reports/{message.source}"
        assert 1 <= len(message.report_id) <= 128 and message.report_id.isprintable()
        assert len(message.description) <= DESCRIPTION_MAX and len(message.media) <= MEDIA_MAX
        assert all(is_link(m) and m.startswith(("http://", "https://")) for m in message.media)
        assert CITY.district_at(message.lon, message.lat) is not None
        assert message.reported_ms <= message.received_ms
    else:
        assert topic == f"ioc/v1/departments/{message.department}/updates" and message.department in DEPARTMENTS
        assert message.action in ("acknowledge", "handle", "return") and message.case_id
        assert message.action != "return" or message.note


report_objects = st.fixed_dictionaries(
    {"report_id": st.one_of(st.text(max_size=10), st.integers(), json_values),
     "category": st.one_of(st.sampled_from(["10101", "10105", "20301", "99999", ""]), json_values),
     "lat": st.one_of(st.floats(31.7, 32.1), json_values), "lon": st.one_of(st.floats(120.4, 120.9), json_values)},
    optional={"description": st.one_of(st.text(max_size=60), json_values), "reported_at": json_values,
              "media": st.one_of(st.lists(st.sampled_from(["https://a/1.jpg", "javascript:x", "/m/1"]), max_size=12), json_values),
              "address": json_values, "reporter": json_values, "extra": json_values},
)
update_objects = st.fixed_dictionaries(
    {"case_id": st.one_of(st.text(max_size=10), json_values),
     "action": st.one_of(st.sampled_from(["acknowledge", "handled", "return", "close"]), json_values)},
    optional={"note": st.one_of(st.text(max_size=30), json_values), "ts": json_values, "extra": json_values},
)


@FAST
@given(topic=case_topics, payload=st.one_of(payloads, report_objects.map(encode), update_objects.map(encode)))
def test_parse_case_message_never_raises(topic, payload):
    check_case_message(parse_case_message(topic, payload, NOW, CITY, DEPARTMENTS), topic, payload)


@FAST
@given(body=report_objects)
def test_a_report_is_a_valid_report_or_a_reasoned_rejection(body):
    topic, payload = "ioc/v1/reports/hotline", encode(body)
    check_case_message(parse_case_message(topic, payload, NOW, CITY, DEPARTMENTS), topic, payload)


@FAST
@given(body=update_objects)
def test_an_update_is_a_valid_update_or_a_reasoned_rejection(body):
    topic, payload = "ioc/v1/departments/water_affairs/updates", encode(body)
    check_case_message(parse_case_message(topic, payload, NOW, CITY, DEPARTMENTS), topic, payload)


@pytest.mark.parametrize("name", sorted(n for n, (_t, _p, r) in {**REPORTS, **UPDATES}.items() if r != "update_refused"))
def test_each_case_corpus_entry_is_refused_with_its_reason_by_the_pure_parser(name):
    topic, payload, reason = {**REPORTS, **UPDATES}[name]
    payload = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    message = parse_case_message(topic, payload, NOW, CITY, DEPARTMENTS)
    assert isinstance(message, Rejection) and message.reason == reason, (name, message)


@pytest.mark.parametrize("report_id, kept", [("k" * 100 + "a" * 28, "k" * 100 + "a" * 28), (20261125001, "20261125001"),
                                              ("  hl-7  ", "hl-7")])
def test_a_report_id_is_kept_whole_up_to_128_characters_and_an_integer_is_its_digits(report_id, kept):
    body = {"report_id": report_id, "category": "10101", "lat": 31.872, "lon": 120.556}
    message = parse_case_message("ioc/v1/reports/hotline", orjson.dumps(body), NOW, CITY, DEPARTMENTS)
    assert isinstance(message, Report) and message.report_id == kept
