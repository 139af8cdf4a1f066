"""Parsing and validating MQTT messages at the edge, into typed objects.

`parse_message(topic, payload, received_ms, limits)` returns exactly one of
`Reading` (telemetry), `StatusChange` (birth / last will) or `Rejection` (with a reason code
from `REASONS` and a detail a sender can act on). Nothing downstream ever sees a raw payload.

Payload schemas per kind are pydantic models built from the kinds catalog (`kinds.py`):
strict types (a string is not a number, a boolean is not a number), ranges from the catalog,
enum values from the catalog, no unknown attributes. On the hot path a plain-Python check that
agrees with the models runs first; the model runs only when that check fails, to name the reason.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Optional, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationError, create_model

from .kinds import KINDS, Attribute, Kind

# Reason codes: the `reason` label of ioc_ingest_rejected_total and the dead-letter entries.
REASONS: dict[str, str] = {
    "too_large": "payload larger than IOC_INGEST_MAX_PAYLOAD",
    "not_utf8": "payload is not valid UTF-8",
    "not_json": "payload is not JSON",
    "non_finite": "a number is NaN or Infinity (not valid JSON)",
    "not_object": "payload is JSON but not an object",
    "bad_topic": "topic is not ioc/v1/{kind}/{device_id}/telemetry or …/status",
    "unknown_kind": "the {kind} topic segment is not in the kinds catalog",
    "missing_field": "a required field is missing",
    "wrong_type": "a field has the wrong JSON type",
    "out_of_range": "a number is outside the kind's range, or an enum value is unknown",
    "unknown_attribute": "an attribute the kind does not define",
    "empty": "telemetry without any attribute",
    "bad_timestamp": "ts is neither ISO 8601 with offset nor epoch milliseconds",
    "timestamp_skew": "ts too far in the future or too old",
    "bad_location": "lat/lon missing one half, not numbers, or out of range",
    "outside_city": "location outside the city boundary",
    "unknown_device": "telemetry or status from a device never seen, without a location",
    "duplicate": "same device and ts as the reading already stored",
    "rate_limited": "the device sent more than IOC_DEVICE_MAX_RATE messages in one second (counted; one sample per second dead-lettered)",
    "bad_report": "a case report is malformed (missing or wrong field; detail names it)",
    "unknown_category": "a case report's category is not a minor-class code of the catalog",
    "bad_update": "a department update is malformed",
    "update_refused": "a department update the workflow refuses (wrong stage, not that department's case, unknown case)",
}

TOPIC_RE = re.compile(r"^ioc/v1/([a-z][a-z0-9_]{0,31})/([A-Za-z0-9][A-Za-z0-9_.:-]{0,63})/(telemetry|status)\Z")  # \Z: "$" would accept a trailing newline
RESERVED_FIELDS = ("ts", "lat", "lon")
STATUS_FIELDS = ("state", "lat", "lon", "name", "ts", "address", "model", "firmware")


@dataclass(frozen=True)
class Limits:
    max_payload: int = 8192
    max_future_ms: int = 300_000
    max_age_ms: int = 86_400_000


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Reading:
    device_id: str
    kind: str
    ts_ms: int
    values: dict
    location: Location | None
    received_ms: int


@dataclass(frozen=True, slots=True)
class StatusChange:
    device_id: str
    kind: str
    online: bool
    location: Location | None
    name: str | None
    received_ms: int
    extra: dict


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str
    topic: str
    payload: bytes
    received_ms: int
    device_id: str | None = None

    def __post_init__(self):
        if self.reason not in REASONS:
            raise ValueError(f"unknown rejection reason {self.reason!r}")


Message = Union[Reading, StatusChange, Rejection]


# --- schema per kind ---------------------------------------------------------------------

def _field_type(attr: Attribute):
    if attr.type == "number":
        return Optional[Union[StrictInt, StrictFloat]], Field(default=None, ge=attr.minimum, le=attr.maximum, allow_inf_nan=False)
    if attr.type == "integer":
        return Optional[StrictInt], Field(default=None, ge=attr.minimum, le=attr.maximum)
    if attr.type == "boolean":
        return Optional[StrictBool], None
    if attr.type == "enum":
        return Optional[Literal[attr.choices]], None  # type: ignore[valid-type]
    raise ValueError(attr.type)


def _model_for(kind: Kind) -> type[BaseModel]:
    fields = {}
    for attr in kind.attributes:
        typ, default = _field_type(attr)
        fields[attr.name] = (typ, default)
    return create_model(
        f"{kind.id.title().replace('_', '')}Telemetry",
        __config__=ConfigDict(extra="forbid", strict=True, frozen=True),
        **fields,
    )


_MODELS: dict[str, type[BaseModel]] = {k.id: _model_for(k) for k in KINDS.values() if k.telemetry}

def _fast_check(kind: Kind):
    """A plain-Python validity test of a telemetry values dict that agrees with the kind's
    pydantic model on every valid input and never passes an invalid one (a property test
    checks both). It answers only "valid"; for anything else the model runs and names the
    reason, so the hot path costs a few dict lookups and the error messages stay the model's."""
    spec = {}
    for a in kind.attributes:
        lo = -math.inf if a.minimum is None else a.minimum
        hi = math.inf if a.maximum is None else a.maximum
        spec[a.name] = (a.type, lo, hi, frozenset(a.choices))

    def valid(values: dict) -> bool:
        for name, v in values.items():
            s = spec.get(name)
            if s is None:
                return False
            typ = s[0]
            t = type(v)
            if typ == "number":
                if (t is not float and t is not int) or not s[1] <= v <= s[2]:
                    return False
            elif typ == "integer":
                if t is not int or not s[1] <= v <= s[2]:
                    return False
            elif typ == "boolean":
                if t is not bool:
                    return False
            elif t is not str or v not in s[3]:
                return False
        return True

    return valid


_VALID: dict[str, object] = {k.id: _fast_check(k) for k in KINDS.values() if k.telemetry}


_PYDANTIC_REASON = {
    "extra_forbidden": "unknown_attribute",
    "missing": "missing_field",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "greater_than": "out_of_range",
    "less_than": "out_of_range",
    "literal_error": "out_of_range",
    "finite_number": "non_finite",
}


def _reason_from(err: ValidationError) -> tuple[str, str]:
    first = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"] if not isinstance(p, int) and p not in ("int", "float"))
    reason = _PYDANTIC_REASON.get(first["type"], "wrong_type")
    return reason, f"{where}: {first['msg']}"


# --- pieces ----------------------------------------------------------------------------------

def parse_timestamp(value, received_ms: int, limits: Limits) -> tuple[int | None, str | None, str]:
    """(ts_ms, reason, detail). Missing ts means "now" (received time)."""
    if value is None:
        return received_ms, None, ""
    if isinstance(value, bool):
        return None, "bad_timestamp", "ts: a boolean is not a timestamp"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None, "bad_timestamp", "ts: not a finite number"
        ts = int(value)
        if 0 < ts < 100_000_000_000 and received_ms > 100_000_000_000:
            return None, "bad_timestamp", "ts: looks like epoch seconds; send epoch milliseconds"
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None, "bad_timestamp", f"ts: {value[:40]!r} is not ISO 8601"
        if parsed.tzinfo is None:
            return None, "bad_timestamp", "ts: ISO 8601 without a UTC offset is ambiguous; add +08:00 or Z"
        ts = int(parsed.timestamp() * 1000)
    else:
        return None, "bad_timestamp", f"ts: {type(value).__name__} is not a timestamp"
    if ts > received_ms + limits.max_future_ms:
        return None, "timestamp_skew", f"ts is {(ts - received_ms) / 1000:.0f}s in the future (max {limits.max_future_ms // 1000}s)"
    if ts < received_ms - limits.max_age_ms:
        return None, "timestamp_skew", f"ts is {(received_ms - ts) / 1000:.0f}s old (max {limits.max_age_ms // 1000}s)"
    return ts, None, ""


def parse_location(obj: dict) -> tuple[Location | None, str | None]:
    """(location, error detail). Both lat and lon, or neither."""
    lat, lon = obj.get("lat"), obj.get("lon")
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None:
        return None, "lat and lon must be given together"
    for name, v in (("lat", lat), ("lon", lon)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None, f"{name} must be a finite number"
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, "lat must be within ±90 and lon within ±180"
    return Location(float(lat), float(lon)), None


def _decode(topic: str, payload: bytes, received_ms: int, limits: Limits):
    def reject(reason, detail):
        return Rejection(reason, detail, topic, payload, received_ms)

    if len(payload) > limits.max_payload:
        return reject("too_large", f"{len(payload)} bytes > {limits.max_payload}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        return reject("not_utf8", f"invalid UTF-8 at byte {e.start}")
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        if _has_non_finite(text):
            return reject("non_finite", "NaN and Infinity are not JSON numbers")
        return reject("not_json", str(e)[:200])
    if not isinstance(obj, dict):
        return reject("not_object", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _has_non_finite(text: str) -> bool:
    found = []

    def constant(name):
        found.append(name)
        return 0

    try:
        json.loads(text, parse_constant=constant)
    except (ValueError, RecursionError):
        return False
    return bool(found)


# --- the edge --------------------------------------------------------------------------------

_TOPICS: dict[str, tuple | None] = {}  # topic -> (kind id, device id, channel), None when malformed
_TOPICS_MAX = 500_000  # a bounded cache: random topics from a misbehaving client cannot grow it forever


def split_topic(topic: str) -> tuple | None:
    """(kind id, device id, "telemetry"|"status") of a device topic, or None; cached per topic."""
    try:
        return _TOPICS[topic]
    except KeyError:
        m = TOPIC_RE.match(topic)
        parts = m.groups() if m else None
        if len(_TOPICS) >= _TOPICS_MAX:
            _TOPICS.clear()
        _TOPICS[topic] = parts
        return parts


def parse_message(topic: str, payload: bytes, received_ms: int, limits: Limits = Limits()) -> Message:
    parts = split_topic(topic)
    if parts is None:
        return Rejection("bad_topic", f"topic {topic[:120]!r} is not ioc/v1/{{kind}}/{{device_id}}/{{telemetry|status}}", topic, payload, received_ms)
    kind_id, device_id, channel = parts
    kind = KINDS.get(kind_id)
    if kind is None:
        return Rejection("unknown_kind", f"kind {kind_id!r} is not one of {', '.join(sorted(KINDS))}", topic, payload, received_ms, device_id)
    obj = None
    if len(payload) <= limits.max_payload:
        try:  # fast path: orjson checks UTF-8 and JSON in one go; on failure _decode names the reason
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            obj = None
    if type(obj) is not dict:
        obj = _decode(topic, payload, received_ms, limits)
        if isinstance(obj, Rejection):
            return Rejection(obj.reason, obj.detail, topic, payload, received_ms, device_id)
    if channel == "status":
        return _parse_status(kind, device_id, obj, topic, payload, received_ms)
    return _parse_telemetry(kind, device_id, obj, topic, payload, received_ms, limits)


def plain_reading(kind_id: str, device_id: str, payload: bytes, received_ms: int, limits: Limits) -> Reading | None:
    """The hot path of `parse_message` for a telemetry topic already split: the Reading when the
    payload is the common case (a JSON object within the size limit, `ts` in epoch milliseconds
    within the window, no location, every attribute valid), otherwise None, and the caller runs
    `parse_message`, which decides the same way and names the reason of a rejection."""
    if len(payload) > limits.max_payload:
        return None
    valid = _VALID.get(kind_id)
    if valid is None:
        return None
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or "lat" in obj or "lon" in obj:
        return None
    ts = obj.pop("ts", None)
    if type(ts) is not int or not received_ms - limits.max_age_ms <= ts <= received_ms + limits.max_future_ms \
            or (ts < 100_000_000_000 < received_ms) or not obj or not valid(obj):
        return None
    return Reading(device_id, kind_id, ts, obj, None, received_ms)


def _parse_status(kind, device_id, obj, topic, payload, received_ms) -> Message:
    def reject(reason, detail):
        return Rejection(reason, detail, topic, payload, received_ms, device_id)

    unknown = [k for k in obj if k not in STATUS_FIELDS]
    if unknown:
        return reject("unknown_attribute", f"status fields are {', '.join(STATUS_FIELDS)}; got {unknown[0]!r}")
    state = obj.get("state")
    if state is None:
        return reject("missing_field", "state: required ('online' or 'offline')")
    if state not in ("online", "offline"):
        return reject("out_of_range", f"state must be 'online' or 'offline', not {str(state)[:40]!r}")
    location, err = parse_location(obj)
    if err:
        return reject("bad_location", err)
    name = obj.get("name")
    if name is not None and not isinstance(name, str):
        return reject("wrong_type", "name must be a string")
    extra = {k: obj[k] for k in ("address", "model", "firmware") if k in obj}
    for k, v in extra.items():
        if not isinstance(v, str):
            return reject("wrong_type", f"{k} must be a string")
    return StatusChange(device_id, kind.id, state == "online", location, name[:120] if name else None, received_ms, extra)


def _parse_telemetry(kind, device_id, obj, topic, payload, received_ms, limits) -> Message:
    def reject(reason, detail):
        return Rejection(reason, detail, topic, payload, received_ms, device_id)

    if not kind.telemetry:
        return reject("unknown_kind", f"kind {kind.id!r} sends status messages only")
    ts = obj.pop("ts", None)
    if type(ts) is int and received_ms - limits.max_age_ms <= ts <= received_ms + limits.max_future_ms \
            and (ts >= 100_000_000_000 or received_ms <= 100_000_000_000):
        pass  # epoch milliseconds within the window: the common case, no further checks
    else:
        ts, reason, detail = parse_timestamp(ts, received_ms, limits)
        if reason:
            return reject(reason, detail)
    location = None
    if "lat" in obj or "lon" in obj:
        location, err = parse_location(obj)
        if err:
            return reject("bad_location", err)
        obj.pop("lat", None)
        obj.pop("lon", None)
    values = obj  # a fresh dict from the JSON parser, reserved fields removed
    if not values:
        return reject("empty", f"no attribute; {kind.id} reports {', '.join(a.name for a in kind.attributes)}")
    if not _VALID[kind.id](values):
        try:
            _MODELS[kind.id].model_validate(values)
        except ValidationError as e:
            reason, detail = _reason_from(e)
            return reject(reason, detail)
        nulls = [k for k, v in values.items() if v is None]
        if nulls:
            return reject("wrong_type", f"{nulls[0]}: null is not a value; leave the attribute out instead")
    return Reading(device_id, kind.id, ts, values, location, received_ms)
