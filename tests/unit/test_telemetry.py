"""Specification of the MQTT edge (ioc.domain.telemetry): every message becomes exactly one
Reading, StatusChange or Rejection, and every rejection names a reason a sender can act on."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.domain.kinds import KINDS, Attribute
from ioc.domain.telemetry import (
    REASONS,
    Limits,
    Location,
    Reading,
    Rejection,
    StatusChange,
    parse_location,
    parse_message,
    parse_timestamp,
)

NOW = 1_746_000_000_000  # 2025-04-30T08:00:00Z, epoch ms
LIMITS = Limits()
TELEMETRY_KINDS = sorted(k for k, kind in KINDS.items() if kind.telemetry)
# Produced later in the pipeline (ioc.ingest.batch), never by parse_message.
PIPELINE_REASONS = {"outside_city", "unknown_device", "duplicate", "rate_limited"}
# Produced by the case worker's report and department-update intake (ioc.casework.reports).
CASE_REASONS = {"bad_report", "unknown_category", "bad_update", "update_refused"}


def valid_value(attr: Attribute):
    if attr.type == "integer":
        return int((attr.minimum + attr.maximum) // 2)
    if attr.type == "number":
        return (attr.minimum + attr.maximum) / 2
    if attr.type == "boolean":
        return True
    return attr.choices[0]


def valid_values(kind_id: str) -> dict:
    return {a.name: valid_value(a) for a in KINDS[kind_id].attributes}


def telemetry(kind: str = "noise", device: str = "dev-1") -> str:
    return f"ioc/v1/{kind}/{device}/telemetry"


def status(kind: str = "noise", device: str = "dev-1") -> str:
    return f"ioc/v1/{kind}/{device}/status"


def parse(topic: str, payload, received_ms: int = NOW, limits: Limits = LIMITS):
    if not isinstance(payload, bytes):
        payload = json.dumps(payload).encode()
    return parse_message(topic, payload, received_ms, limits)


def assert_rejected(message, reason: str) -> Rejection:
    assert isinstance(message, Rejection), message
    assert message.reason == reason, (message.reason, message.detail)
    assert message.detail.strip(), "a rejection must say what is wrong"
    return message


# --- accepted messages ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", TELEMETRY_KINDS)
def test_a_valid_reading_of_every_telemetry_kind_becomes_a_reading(kind):
    values = valid_values(kind)
    message = parse(telemetry(kind, "dev-1"), {"ts": NOW - 1000, **values})
    assert message == Reading("dev-1", kind, NOW - 1000, values, None, NOW)


KIND_ATTRIBUTES = [(k, a) for k in TELEMETRY_KINDS for a in KINDS[k].attributes]


@pytest.mark.parametrize("kind, attr", KIND_ATTRIBUTES, ids=[f"{k}.{a.name}" for k, a in KIND_ATTRIBUTES])
def test_a_reading_may_report_any_single_attribute_of_its_kind(kind, attr):
    message = parse(telemetry(kind), {attr.name: valid_value(attr)})
    assert isinstance(message, Reading)
    assert message.values == {attr.name: valid_value(attr)}


NUMERIC = [(k, a) for k, a in KIND_ATTRIBUTES if a.is_numeric]


@pytest.mark.parametrize("kind, attr", NUMERIC, ids=[f"{k}.{a.name}" for k, a in NUMERIC])
@pytest.mark.parametrize("bound", ["minimum", "maximum"])
def test_numeric_range_bounds_are_inclusive(kind, attr, bound):
    value = getattr(attr, bound)
    value = int(value) if attr.type == "integer" else value
    assert isinstance(parse(telemetry(kind), {attr.name: value}), Reading)


def test_a_located_reading_carries_its_location():
    message = parse(telemetry(), {"LAeq": 55.5, "lat": 31.87, "lon": 120.55})
    assert isinstance(message, Reading)
    assert message.location == Location(31.87, 120.55)
    assert message.values == {"LAeq": 55.5}


def test_a_reading_without_ts_is_stamped_with_the_received_time():
    message = parse(telemetry(), {"LAeq": 55})
    assert isinstance(message, Reading)
    assert message.ts_ms == NOW == message.received_ms


@pytest.mark.parametrize("ts, expected", [
    ("2025-04-30T15:59:00+08:00", NOW - 60_000),
    ("2025-04-30T07:59:00Z", NOW - 60_000),
    ("2025-04-30T07:59:00.250+00:00", NOW - 59_750),
    (NOW - 60_000, NOW - 60_000),
])
def test_iso_8601_with_offset_and_epoch_ms_are_converted_to_epoch_ms(ts, expected):
    message = parse(telemetry(), {"ts": ts, "LAeq": 55})
    assert isinstance(message, Reading)
    assert message.ts_ms == expected


@pytest.mark.parametrize("state, online", [("online", True), ("offline", False)])
def test_a_status_message_becomes_a_status_change(state, online):
    message = parse(status("gateway", "gw-1"), {"state": state})
    assert message == StatusChange("gw-1", "gateway", online, None, None, NOW, {})


def test_a_birth_carries_location_name_and_descriptive_fields():
    birth = {"state": "online", "lat": 31.87, "lon": 120.55, "name": "Lamp 7", "address": "Renmin Rd",
             "model": "SL-2", "firmware": "1.4.0", "ts": NOW}
    message = parse(status("streetlight", "sl-7"), birth)
    assert isinstance(message, StatusChange)
    assert message.online is True
    assert message.location == Location(31.87, 120.55)
    assert message.name == "Lamp 7"
    assert message.extra == {"address": "Renmin Rd", "model": "SL-2", "firmware": "1.4.0"}


def test_a_long_device_name_is_truncated():
    message = parse(status(), {"state": "online", "name": "x" * 500})
    assert isinstance(message, StatusChange)
    assert message.name == "x" * 120


# --- rejections ----------------------------------------------------------------------------

@pytest.mark.parametrize("topic", [
    "",
    "ioc/v1/noise/dev-1",
    "ioc/v1/noise/dev-1/telemetry/extra",
    "ioc/v2/noise/dev-1/telemetry",
    "ioc/v1/noise/dev-1/events",
    "ioc/v1/+/dev-1/telemetry",
    "ioc/v1/noise/+/telemetry",
    "ioc/v1/noise/#",
    "ioc/v1/noise/dev-1/#",
    "ioc/v1/../dev-1/telemetry",
    "ioc/v1/noise/../telemetry",
    "ioc/v1/noise/dev 1/telemetry",
    "ioc/v1/no ise/dev-1/telemetry",
    " ioc/v1/noise/dev-1/telemetry",
    "ioc/v1/noise/dev-1/telemetry ",
    "ioc/v1/noise/dev-1/telemetry\n",
    "ioc/v1/Noise/dev-1/telemetry",
    "ioc/v1/noise/-dev/telemetry",
    "ioc/v1/noise/" + "d" * 65 + "/telemetry",
    "ioc/v1/noise/设备/telemetry",
    "/ioc/v1/noise/dev-1/telemetry",
])
def test_a_topic_outside_the_scheme_is_rejected_as_bad_topic(topic):
    rejection = assert_rejected(parse(topic, {"LAeq": 50}), "bad_topic")
    assert rejection.device_id is None
    assert "ioc/v1/{kind}/{device_id}/" in rejection.detail  # says what a topic must look like


@pytest.mark.parametrize("device", ["a", "dev-1", "ns.dev_1", "cam:12", "D" * 64])
def test_device_ids_within_the_scheme_are_accepted(device):
    message = parse(telemetry("noise", device), {"LAeq": 50})
    assert isinstance(message, Reading)
    assert message.device_id == device


def test_an_unknown_kind_is_rejected_and_names_the_known_kinds():
    rejection = assert_rejected(parse(telemetry("toaster", "t-1"), {"temp": 200}), "unknown_kind")
    assert "toaster" in rejection.detail and "noise" in rejection.detail
    assert rejection.device_id == "t-1"


def test_telemetry_from_a_status_only_kind_is_rejected_as_unknown_kind():
    rejection = assert_rejected(parse(telemetry("gateway", "gw-1"), {"x": 1}), "unknown_kind")
    assert "status messages only" in rejection.detail


def test_a_payload_above_the_limit_is_rejected_as_too_large():
    payload = json.dumps({"LAeq": 50, "pad": "x" * 200}).encode()
    rejection = assert_rejected(parse(telemetry(), payload, limits=Limits(max_payload=100)), "too_large")
    assert str(len(payload)) in rejection.detail and "100" in rejection.detail


def test_a_payload_exactly_at_the_limit_is_not_too_large():
    payload = b'{"LAeq": 50}'
    assert isinstance(parse(telemetry(), payload, limits=Limits(max_payload=len(payload))), Reading)


def test_invalid_utf8_is_rejected_as_not_utf8_with_the_byte_offset():
    rejection = assert_rejected(parse(telemetry(), b'{"LAeq": 5\xff}'), "not_utf8")
    assert "10" in rejection.detail


@pytest.mark.parametrize("payload", [b"", b"{", b"LAeq=50", b"{'LAeq': 50}", b'{"LAeq": 50,}'])
def test_text_that_is_not_json_is_rejected_as_not_json(payload):
    assert_rejected(parse(telemetry(), payload), "not_json")


@pytest.mark.parametrize("payload", [
    b'{"LAeq": NaN}', b'{"LAeq": Infinity}', b'{"LAeq": -Infinity}', b'{"lat": NaN, "lon": 1, "LAeq": 1}',
])
def test_nan_and_infinity_are_rejected_as_non_finite(payload):
    assert_rejected(parse(telemetry(), payload), "non_finite")


@pytest.mark.parametrize("payload, type_name", [
    (b"[1, 2]", "list"), (b"42", "int"), (b'"hello"', "str"), (b"null", "NoneType"), (b"true", "bool"),
])
def test_json_that_is_not_an_object_is_rejected_as_not_object(payload, type_name):
    rejection = assert_rejected(parse(telemetry(), payload), "not_object")
    assert type_name in rejection.detail


def test_a_status_without_state_is_rejected_as_missing_field():
    rejection = assert_rejected(parse(status(), {"lat": 31.87, "lon": 120.55}), "missing_field")
    assert "state" in rejection.detail


@pytest.mark.parametrize("state", ["up", "ONLINE", 1, True])
def test_a_status_with_an_unknown_state_is_rejected_as_out_of_range(state):
    rejection = assert_rejected(parse(status(), {"state": state}), "out_of_range")
    assert "online" in rejection.detail


def test_a_status_with_an_unknown_field_is_rejected_as_unknown_attribute():
    rejection = assert_rejected(parse(status(), {"state": "online", "colour": "red"}), "unknown_attribute")
    assert "colour" in rejection.detail


@pytest.mark.parametrize("field", ["name", "address", "model", "firmware"])
def test_a_status_with_a_non_string_descriptive_field_is_rejected_as_wrong_type(field):
    rejection = assert_rejected(parse(status(), {"state": "online", field: 7}), "wrong_type")
    assert field in rejection.detail


@pytest.mark.parametrize("kind, values, attribute", [
    ("noise", {"LAeq": "55"}, "LAeq"),                   # string for a number
    ("noise", {"LAeq": True}, "LAeq"),                   # boolean for a number
    ("air_quality", {"airQualityIndex": 50.5}, "airQualityIndex"),  # fraction for an integer
    ("traffic", {"congested": 1}, "congested"),          # number for a boolean
    ("manhole", {"displaced": "true"}, "displaced"),     # string for a boolean
    ("noise", {"LAeq": [55]}, "LAeq"),                   # array for a number
    ("noise", {"LAeq": None}, "LAeq"),                   # null is not a value
    ("parking", {"status": None}, "status"),             # null is not an enum value
    ("traffic", {"congested": None}, "congested"),       # null is not a boolean
])
def test_a_value_of_the_wrong_json_type_is_rejected_as_wrong_type(kind, values, attribute):
    rejection = assert_rejected(parse(telemetry(kind), values), "wrong_type")
    assert attribute in rejection.detail


@pytest.mark.parametrize("kind, values, attribute", [
    ("noise", {"LAeq": 140.01}, "LAeq"),
    ("noise", {"LAeq": -0.5}, "LAeq"),
    ("air_quality", {"airQualityIndex": 501}, "airQualityIndex"),
    ("water_level", {"waterLevel": -5.1}, "waterLevel"),
    ("traffic", {"occupancy": 1.5}, "occupancy"),
    ("streetlight", {"status": "exploded"}, "status"),
    ("parking", {"status": "Free"}, "status"),
    ("streetlight", {"status": 1}, "status"),  # not one of the enum's choices either
])
def test_a_value_outside_the_catalog_is_rejected_as_out_of_range(kind, values, attribute):
    rejection = assert_rejected(parse(telemetry(kind), values), "out_of_range")
    assert attribute in rejection.detail


def test_an_attribute_the_kind_does_not_define_is_rejected_as_unknown_attribute():
    rejection = assert_rejected(parse(telemetry("noise"), {"LAeq": 50, "pm25": 10}), "unknown_attribute")
    assert "pm25" in rejection.detail


@pytest.mark.parametrize("payload", [{}, {"ts": NOW}, {"lat": 31.87, "lon": 120.55}])
def test_telemetry_without_any_attribute_is_rejected_as_empty(payload):
    rejection = assert_rejected(parse(telemetry("noise"), payload), "empty")
    assert "LAeq" in rejection.detail


@pytest.mark.parametrize("ts, hint", [
    ("2025-04-30T08:00:00", "offset"),               # naive ISO: ambiguous
    ("yesterday", "ISO 8601"),
    ("", "ISO 8601"),
    (NOW // 1000, "epoch seconds"),
    (True, "boolean"),
    ([NOW], "list"),
    ({"ms": NOW}, "dict"),
])
def test_an_unusable_ts_is_rejected_as_bad_timestamp(ts, hint):
    rejection = assert_rejected(parse(telemetry(), {"ts": ts, "LAeq": 50}), "bad_timestamp")
    assert hint in rejection.detail


@pytest.mark.parametrize("ts, hint", [
    (NOW + LIMITS.max_future_ms + 1000, "future"),
    (NOW - LIMITS.max_age_ms - 1000, "old"),
    ("2099-01-01T00:00:00Z", "future"),
    ("0001-01-01T00:00:00+01:00", "old"),
    (0, "old"),
])
def test_a_ts_too_far_from_the_received_time_is_rejected_as_timestamp_skew(ts, hint):
    rejection = assert_rejected(parse(telemetry(), {"ts": ts, "LAeq": 50}), "timestamp_skew")
    assert hint in rejection.detail


@pytest.mark.parametrize("offset", [LIMITS.max_future_ms, -LIMITS.max_age_ms])
def test_a_ts_exactly_at_the_skew_limits_is_accepted(offset):
    message = parse(telemetry(), {"ts": NOW + offset, "LAeq": 50})
    assert isinstance(message, Reading)
    assert message.ts_ms == NOW + offset


@pytest.mark.parametrize("location", [
    {"lat": 31.87},
    {"lon": 120.55},
    {"lat": 91, "lon": 120.55},
    {"lat": 31.87, "lon": -180.5},
    {"lat": "31.87", "lon": 120.55},
    {"lat": True, "lon": 120.55},
    {"lat": 31.87, "lon": [120.55]},
])
@pytest.mark.parametrize("channel", ["telemetry", "status"])
def test_a_broken_location_is_rejected_as_bad_location(location, channel):
    base = {"LAeq": 50} if channel == "telemetry" else {"state": "online"}
    rejection = assert_rejected(parse(f"ioc/v1/noise/dev-1/{channel}", {**base, **location}), "bad_location")
    assert "lat" in rejection.detail or "lon" in rejection.detail


def test_a_rejection_keeps_the_raw_payload_topic_time_and_device_id():
    payload = b'{"LAeq": "loud"}'
    rejection = assert_rejected(parse_message(telemetry("noise", "dev-9"), payload, NOW), "wrong_type")
    assert rejection.payload == payload
    assert rejection.topic == telemetry("noise", "dev-9")
    assert rejection.received_ms == NOW
    assert rejection.device_id == "dev-9"


def test_a_decoding_rejection_also_keeps_the_device_id():
    rejection = assert_rejected(parse_message(telemetry("noise", "dev-9"), b"\xff", NOW), "not_utf8")
    assert rejection.device_id == "dev-9"
    assert rejection.payload == b"\xff"


def test_a_rejection_with_a_reason_outside_reasons_cannot_be_built():
    with pytest.raises(ValueError):
        Rejection("because", "", "t", b"", NOW)


# Each reason parse_message can produce, with one message that produces it.
REASON_EXAMPLES = {
    "too_large": (telemetry(), b'{"LAeq": 50}' + b" " * LIMITS.max_payload),
    "not_utf8": (telemetry(), b"\xc3\x28"),
    "not_json": (telemetry(), b"{"),
    "non_finite": (telemetry(), b'{"LAeq": NaN}'),
    "not_object": (telemetry(), b"[]"),
    "bad_topic": ("ioc/v1/noise/#", b"{}"),
    "unknown_kind": (telemetry("toaster"), b"{}"),
    "missing_field": (status(), b"{}"),
    "wrong_type": (telemetry(), b'{"LAeq": "50"}'),
    "out_of_range": (telemetry(), b'{"LAeq": 500}'),
    "unknown_attribute": (telemetry(), b'{"volume": 11}'),
    "empty": (telemetry(), b"{}"),
    "bad_timestamp": (telemetry(), b'{"ts": "soon", "LAeq": 50}'),
    "timestamp_skew": (telemetry(), b'{"ts": 4102444800000, "LAeq": 50}'),
    "bad_location": (telemetry(), b'{"lat": 31.8, "LAeq": 50}'),
}


def test_every_reason_is_either_produced_by_the_edge_or_later_in_the_pipeline():
    assert set(REASON_EXAMPLES) | PIPELINE_REASONS | CASE_REASONS == set(REASONS)
    assert not set(REASON_EXAMPLES) & PIPELINE_REASONS


@pytest.mark.parametrize("reason", sorted(REASON_EXAMPLES))
def test_every_edge_reason_is_produced_by_parse_message(reason):
    topic, payload = REASON_EXAMPLES[reason]
    assert_rejected(parse_message(topic, payload, NOW, LIMITS), reason)


# --- the pieces on their own ----------------------------------------------------------------

def test_parse_timestamp_of_a_missing_ts_is_the_received_time():
    assert parse_timestamp(None, NOW, LIMITS) == (NOW, None, "")


def test_parse_timestamp_converts_an_offset_to_utc():
    expected = int(datetime(2025, 4, 30, 0, 0, tzinfo=timezone.utc).timestamp() * 1000)
    assert parse_timestamp("2025-04-30T08:00:00+08:00", NOW, LIMITS) == (expected, None, "")
    assert parse_timestamp("2025-04-30T00:00:00Z", NOW, LIMITS) == (expected, None, "")


def test_parse_timestamp_truncates_fractional_epoch_ms():
    assert parse_timestamp(NOW - 0.7, NOW, LIMITS) == (NOW - 1, None, "")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_parse_timestamp_rejects_a_non_finite_number(value):
    ts, reason, detail = parse_timestamp(value, NOW, LIMITS)
    assert (ts, reason) == (None, "bad_timestamp") and "finite" in detail


def test_parse_timestamp_respects_custom_limits():
    limits = Limits(max_future_ms=1000, max_age_ms=1000)
    assert parse_timestamp(NOW + 2000, NOW, limits)[1] == "timestamp_skew"
    assert parse_timestamp(NOW - 2000, NOW, limits)[1] == "timestamp_skew"
    assert parse_timestamp(NOW + 1000, NOW, limits) == (NOW + 1000, None, "")


def test_parse_location_without_lat_and_lon_is_no_location():
    assert parse_location({"LAeq": 50}) == (None, None)


@pytest.mark.parametrize("lat, lon", [(90, 180), (-90, -180), (0, 0), (31.87, 120.55)])
def test_parse_location_accepts_the_closed_ranges_as_floats(lat, lon):
    location, err = parse_location({"lat": lat, "lon": lon})
    assert err is None
    assert location == Location(float(lat), float(lon))
    assert isinstance(location.lat, float) and isinstance(location.lon, float)


@pytest.mark.parametrize("obj, words", [
    ({"lat": 31.87}, "together"),
    ({"lat": 91, "lon": 0}, "±90"),
    ({"lat": "31.87", "lon": 0}, "lat must be a finite number"),
    ({"lat": 0, "lon": float("nan")}, "lon must be a finite number"),
])
def test_parse_location_explains_what_is_wrong(obj, words):
    location, err = parse_location(obj)
    assert location is None
    assert words in err


# --- properties -----------------------------------------------------------------------------

MESSAGE_TYPES = (Reading, StatusChange, Rejection)


@settings(max_examples=300, deadline=None)
@given(topic=st.text(max_size=80), payload=st.binary(max_size=300))
def test_parse_message_never_raises_for_arbitrary_topics_and_bytes(topic, payload):
    message = parse_message(topic, payload, NOW, LIMITS)
    assert isinstance(message, MESSAGE_TYPES)
    if isinstance(message, Rejection):
        assert message.reason in REASONS and message.payload == payload


_attribute_names = sorted({a.name for k in KINDS.values() for a in k.attributes}
                          | {"ts", "lat", "lon", "state", "name", "address", "model", "firmware"})
_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
            | st.sampled_from(["online", "offline", "ok", "free", "2025-04-30T08:00:00Z",
                               "2025-04-30T08:00:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00"])
            | st.integers(min_value=NOW - 2 * LIMITS.max_age_ms, max_value=NOW + 2 * LIMITS.max_future_ms))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=8)
_objects = st.dictionaries(st.sampled_from(_attribute_names) | st.text(max_size=10), _json, max_size=6)


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), channel=st.sampled_from(["telemetry", "status"]), obj=_objects)
def test_parse_message_never_raises_for_arbitrary_json_objects_on_a_valid_topic(kind, channel, obj):
    payload = json.dumps(obj).encode()
    message = parse_message(f"ioc/v1/{kind}/dev-1/{channel}", payload, NOW, LIMITS)
    assert isinstance(message, MESSAGE_TYPES)
    if isinstance(message, Rejection):
        assert message.reason in set(REASONS) - PIPELINE_REASONS - CASE_REASONS
        assert message.device_id == "dev-1" and message.payload == payload
    elif isinstance(message, Reading):
        assert message.values and all(v is not None for v in message.values.values())
        assert NOW - LIMITS.max_age_ms <= message.ts_ms <= NOW + LIMITS.max_future_ms
