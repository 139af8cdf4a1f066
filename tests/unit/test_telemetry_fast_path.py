"""Specification of the telemetry hot path (ioc.domain.telemetry): the plain-Python validity check
`_VALID[kind]` never passes what the kind's pydantic model refuses, and `plain_reading` returns
exactly the Reading `parse_message` would, or None and leaves the decision to `parse_message`."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ioc.domain.kinds import KINDS, Attribute
from ioc.domain.telemetry import _MODELS, _VALID, Limits, Reading, parse_message, plain_reading

NOW = 1_746_000_000_000  # 2025-04-30T08:00:00Z, epoch ms
LIMITS = Limits()
TELEMETRY_KINDS = sorted(k for k, kind in KINDS.items() if kind.telemetry)
ALL_NAMES = sorted({a.name for k in KINDS.values() for a in k.attributes})
ALL_CHOICES = sorted({c for k in KINDS.values() for a in k.attributes for c in a.choices})


def model_accepts(kind: str, values: dict) -> bool:
    try:
        _MODELS[kind].model_validate(values)
    except ValidationError:
        return False
    return True


# --- strategies --------------------------------------------------------------------------------

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30])
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12) | st.sampled_from(ALL_CHOICES))
_junk = _scalars | st.lists(_scalars, max_size=3) | st.dictionaries(st.text(max_size=4), _scalars, max_size=2)


def _near(attr: Attribute) -> st.SearchStrategy:
    """Values at and just beyond the attribute's range, in the attribute's type and the other."""
    lo, hi = attr.minimum, attr.maximum
    edges = [lo, hi, (lo + hi) / 2, math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf), lo - 1, hi + 1]
    return (st.sampled_from(edges) | st.sampled_from([int(v) for v in edges])
            | st.floats(min_value=lo - 10, max_value=hi + 10) | st.integers(min_value=int(lo) - 10, max_value=int(hi) + 10))


def attribute_value(attr: Attribute) -> st.SearchStrategy:
    if attr.type in ("number", "integer"):
        typed = _near(attr)
    elif attr.type == "boolean":
        typed = st.booleans() | st.sampled_from([0, 1, "true", "false"])
    else:
        typed = st.sampled_from(attr.choices) | st.sampled_from([c.upper() for c in attr.choices] + [""])
    return typed | typed | _junk  # mostly plausible values, now and then anything


@st.composite
def values_of(draw, kind: str) -> dict:
    """A values dict for `kind`: some of its attributes with plausible or absurd values, and now
    and then an attribute of another kind, a reserved field or a made-up name."""
    values = {}
    for attr in KINDS[kind].attributes:
        if draw(st.booleans()):
            values[attr.name] = draw(attribute_value(attr))
    if draw(st.sampled_from(range(5))) == 0:
        name = draw(st.sampled_from(ALL_NAMES + ["ts", "lat", "lon", "state"]) | st.text(max_size=8))
        values[name] = draw(_junk)
    return values


def valid_value(attr: Attribute) -> st.SearchStrategy:
    if attr.type == "integer":
        return st.integers(min_value=int(attr.minimum), max_value=int(attr.maximum))
    if attr.type == "number":
        return st.floats(min_value=attr.minimum, max_value=attr.maximum) | st.integers(
            min_value=math.ceil(attr.minimum), max_value=math.floor(attr.maximum))
    if attr.type == "boolean":
        return st.booleans()
    return st.sampled_from(attr.choices)


@st.composite
def valid_values_of(draw, kind: str) -> dict:
    """A values dict the kind accepts: one or more of its attributes, each within its range."""
    attrs = draw(st.lists(st.sampled_from(KINDS[kind].attributes), min_size=1, unique_by=lambda a: a.name))
    return {a.name: draw(valid_value(a)) for a in attrs}


def any_values_of(kind: str) -> st.SearchStrategy:
    return valid_values_of(kind) | values_of(kind)


kind_and_values = st.sampled_from(TELEMETRY_KINDS).flatmap(lambda k: st.tuples(st.just(k), any_values_of(k)))

_in_window = st.integers(min_value=NOW - LIMITS.max_age_ms - 2000, max_value=NOW + LIMITS.max_future_ms + 2000)
_other_ts = st.one_of(
    st.sampled_from([NOW, NOW - LIMITS.max_age_ms, NOW + LIMITS.max_future_ms, NOW - LIMITS.max_age_ms - 1,
                     NOW + LIMITS.max_future_ms + 1, NOW // 1000, 50_000_000_000, 0, -1, 2**63]),
    st.floats(min_value=NOW - 10_000, max_value=NOW + 10_000),
    st.sampled_from(["2025-04-30T08:00:00Z", "2025-04-30T08:00:00+08:00", "2025-04-30T08:00:00", "yesterday", ""]),
    st.booleans(), st.none(), st.lists(st.integers(), max_size=1),
)


@st.composite
def payloads(draw, kind: str) -> bytes:
    """A telemetry payload: the values, a ts in any of its forms (or none), sometimes a location,
    now and then bytes that are not a JSON object at all."""
    if draw(st.sampled_from(range(10))) == 0:
        return draw(st.binary(max_size=40) | st.sampled_from([b"[]", b"null", b"{", b'{"LAeq": NaN}', b"\xff{}"]))
    obj = dict(draw(st.sampled_from([valid_values_of(kind)] * 3 + [values_of(kind)]).flatmap(lambda s: s)))
    form = draw(st.sampled_from(["ms"] * 6 + ["other"] * 3 + ["none"]))  # epoch ms, the common case, most often
    if form != "none":
        obj["ts"] = draw(_in_window if form == "ms" else _other_ts)
    if draw(st.sampled_from(range(6))) == 0:
        obj.update(draw(st.sampled_from([{"lat": 31.87, "lon": 120.553}, {"lat": 31.87}, {"lon": "x"}])))
    return json.dumps(obj).encode()


fast_path_inputs = st.sampled_from(TELEMETRY_KINDS + ["gateway", "no_such_kind"]).flatmap(lambda k: st.tuples(
    st.just(k), payloads(k if k in TELEMETRY_KINDS else "noise"),
    st.sampled_from([NOW] * 4 + [NOW + 1, 60_000_000_000]),  # the last: a receive time before epoch ms reach 1e11
    st.sampled_from([LIMITS] * 4 + [Limits(max_payload=40), Limits(max_future_ms=0, max_age_ms=1000)]),
))


# --- the fast validity check ---------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(kind_and_values)
def test_what_the_fast_check_passes_the_model_accepts_and_holds_no_null(case):
    kind, values = case
    if _VALID[kind](values):
        assert model_accepts(kind, values), values
        assert all(v is not None for v in values.values())


@settings(max_examples=400, deadline=None)
@given(kind_and_values)
def test_the_fast_check_passes_every_values_dict_the_model_accepts_without_nulls(case):
    kind, values = case
    if model_accepts(kind, values) and all(v is not None for v in values.values()):
        assert _VALID[kind](values), values


# --- plain_reading ---------------------------------------------------------------------------------

@settings(max_examples=600, deadline=None)
@given(fast_path_inputs)
def test_a_plain_reading_is_exactly_what_parse_message_returns(case):
    kind, payload, received_ms, limits = case
    fast = plain_reading(kind, "dev-1", payload, received_ms, limits)
    if fast is not None:
        assert fast == parse_message(f"ioc/v1/{kind}/dev-1/telemetry", payload, received_ms, limits)


def valid_values(kind: str) -> dict:
    values = {}
    for a in KINDS[kind].attributes:
        if a.type == "integer":
            values[a.name] = int((a.minimum + a.maximum) // 2)
        elif a.type == "number":
            values[a.name] = (a.minimum + a.maximum) / 2
        elif a.type == "boolean":
            values[a.name] = False
        else:
            values[a.name] = a.choices[-1]
    return values


@pytest.mark.parametrize("kind", TELEMETRY_KINDS)
def test_the_common_reading_of_every_kind_takes_the_fast_path(kind):
    values = valid_values(kind)
    payload = json.dumps({"ts": NOW - 1000, **values}).encode()
    assert plain_reading(kind, "dev-1", payload, NOW, LIMITS) == Reading("dev-1", kind, NOW - 1000, values, None, NOW)


@pytest.mark.parametrize("obj", [
    {"ts": "2025-04-30T08:00:00Z", "LAeq": 50},   # ISO ts: parse_message converts it
    {"ts": NOW, "LAeq": 50, "lat": 31.87, "lon": 120.553},  # located
    {"LAeq": 50},                                  # no ts: stamped by parse_message
    {"ts": NOW},                                   # empty: parse_message names the reason
    {"ts": NOW, "LAeq": 500},                      # out of range
], ids=["iso_ts", "located", "no_ts", "empty", "out_of_range"])
def test_anything_else_is_left_to_parse_message(obj):
    assert plain_reading("noise", "dev-1", json.dumps(obj).encode(), NOW, LIMITS) is None
