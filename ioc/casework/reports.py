"""Parsing case reports and department updates at the MQTT edge, into typed objects.

Two public contracts (QoS 1):

* `ioc/v1/reports/{source}`: a case report from the hotline, an inspector, a camera, …
  `{"report_id", "category", "lat", "lon", "description", "reported_at"}` plus optional
  `"address"`, `"reporter"`, `"media"` (a list of http(s) links). `report_id` is the sender's
  idempotency key (the same report twice makes one case), kept whole; `category` is a minor-class code of
  `ioc.domain.case_catalog`; `reported_at` is ISO 8601 with an offset or epoch milliseconds
  (missing: when the IOC received it).
* `ioc/v1/departments/{department}/updates`: a department's system answering a dispatch,
  `{"case_id", "action": "acknowledge" | "handled" | "return", "note", "ts"}` (`return` needs a
  note saying why).

`parse_report` / `parse_update` (or `parse_case_message` by topic) return a `Report`, a
`DepartmentUpdate` or a `Rejection` (reason code from `ioc.domain.telemetry.REASONS`, detail
naming the field). Bad input never raises. Unknown fields are refused, as for telemetry, so a
misspelt optional field does not silently vanish. No I/O here; the city map and the department
ids are passed in.

The rules for a report's fields are here once, for every intake (MQTT, `POST /api/v1/cases`,
Open311, the portal; `ioc.casework.service.CaseService.report` applies them too):
`report_id_of`, `text_of` (description, address, reporter) and `media_of`. They never shorten
what they are given: a value over its limit is refused with `CaseInputError` naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional, Union
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from ioc.domain import case_catalog
from ioc.domain.cases import NOTE_MAX
from ioc.domain.geo import CityMap
from ioc.domain.telemetry import Limits, Rejection, parse_timestamp

REPORT_TOPIC_RE = re.compile(r"^ioc/v1/reports/([a-z0-9][a-z0-9_-]{0,31})\Z")
UPDATE_TOPIC_RE = re.compile(r"^ioc/v1/departments/([a-z0-9][a-z0-9_-]{0,63})/updates\Z")
REPORT_TOPICS = ("ioc/v1/reports/+", "ioc/v1/departments/+/updates")

MAX_PAYLOAD = 65_536  # bytes: a 4000-character Chinese description is ~12 kB
REPORT_MAX_AGE_MS = 30 * 86_400_000  # a report may wait in the broker (worker down) up to 30 days
MAX_FUTURE_MS = 300_000  # sender clock skew allowed for reported_at / ts
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 200
REPORTER_MAX = 100
REPORT_ID_MAX = 128
MEDIA_MAX = 10
LINK_MAX = 500
REPORT_ID_RULE = f"a string (or an integer) of 1 to {REPORT_ID_MAX} printable characters (the sender's idempotency key)"
LINK_RULE = f"an absolute http:// or https:// URL with a host, at most {LINK_MAX} characters, no spaces"
# the contract's update action -> the workflow action (ioc.domain.cases.TRANSITIONS)
UPDATE_ACTIONS: dict[str, str] = {"acknowledge": "acknowledge", "handled": "handle", "return": "return"}


class CaseInputError(ValueError):
    """A report or action parameter that is not acceptable; `field` names the one at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def report_id_of(value, required: bool = False) -> str:
    """The sender's idempotency key, whole (blanks around it dropped): a string or an integer of 1
    to `REPORT_ID_MAX` printable characters. Absent (None or blank): "" unless `required`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CaseInputError("report_id", f"report_id is required: {REPORT_ID_RULE}")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CaseInputError("report_id", f"report_id must be {REPORT_ID_RULE}")
    if isinstance(value, int) and abs(value) >= 10 ** REPORT_ID_MAX:  # str() of a huge integer is slow, or refused
        raise CaseInputError("report_id", f"report_id has more than {REPORT_ID_MAX} digits; it must be {REPORT_ID_RULE}")
    text = str(value).strip()
    if len(text) > REPORT_ID_MAX:
        raise CaseInputError("report_id", f"report_id is {len(text)} characters; it must be {REPORT_ID_RULE}")
    if not text.isprintable():
        raise CaseInputError("report_id", f"report_id has a character that is not printable; it must be {REPORT_ID_RULE}")
    return text


def text_of(value, field: str, limit: int) -> str:
    """A free-text field (description, address, reporter), blanks around it dropped; None is ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CaseInputError(field, f"{field} must be a string")
    text = value.strip()
    if len(text) > limit:
        raise CaseInputError(field, f"{field} is {len(text)} characters; at most {limit} are allowed")
    return text


def is_link(text: str) -> bool:
    """An absolute http(s) URL with a host (not `/x`, `//host/x`, `javascript:`), of at most
    `LINK_MAX` printable characters without spaces."""
    if not isinstance(text, str) or len(text) > LINK_MAX or not text.isprintable() or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def media_of(value) -> tuple[str, ...]:
    """A report's media: at most `MEDIA_MAX` links, each `is_link`; None is ()."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(m, str) for m in value):
        raise CaseInputError("media", f"media must be a list of links, each {LINK_RULE}")
    if len(value) > MEDIA_MAX:
        raise CaseInputError("media", f"media has {len(value)} links; at most {MEDIA_MAX} are allowed")
    for i, link in enumerate(value):
        if not is_link(link):
            raise CaseInputError("media", f"media[{i}] must be {LINK_RULE}")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Report:
    source: str  # the topic segment: hotline, inspector, camera, …
    report_id: str
    class_code: str
    lat: float
    lon: float
    description: str
    reported_ms: int  # when it was reported (never later than received)
    received_ms: int
    address: str = ""
    reporter: str = ""
    media: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DepartmentUpdate:
    department: str
    case_id: str
    action: str  # the workflow action: acknowledge | handle | return
    note: str
    ts_ms: int  # the department's timestamp (received time when missing)
    received_ms: int
    requested: str = ""  # the action as sent: acknowledge | handled | return


_Number = Union[StrictInt, StrictFloat]


class _ReportModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    report_id: Union[StrictStr, StrictInt]
    category: StrictStr
    lat: _Number = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: _Number = Field(ge=-180, le=180, allow_inf_nan=False)
    description: StrictStr = ""  # lengths and links: text_of / media_of, the same rules as every intake
    reported_at: Optional[Union[StrictInt, StrictFloat, StrictStr]] = None
    address: StrictStr = ""
    reporter: StrictStr = ""
    media: list[StrictStr] = Field(default_factory=list)


class _UpdateModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    case_id: StrictStr = Field(min_length=1, max_length=64)
    action: StrictStr
    note: StrictStr = Field(default="", max_length=NOTE_MAX)
    ts: Optional[Union[StrictInt, StrictFloat, StrictStr]] = None


# what a field must be, for errors of fields with several accepted types (pydantic would only
# name the first one: "Input should be a valid integer")
_HINTS = {
    "report_id": REPORT_ID_RULE,
    "lat": "a number between -90 and 90", "lon": "a number between -180 and 180",
    "reported_at": "ISO 8601 with a UTC offset (e.g. 2026-11-25T10:00:00+08:00) or epoch milliseconds",
    "ts": "ISO 8601 with a UTC offset (e.g. 2026-11-25T10:00:00+08:00) or epoch milliseconds",
}


def field_error(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"]]
    field = loc[0] if loc else ""
    if field in _HINTS and first["type"] not in ("missing", "extra_forbidden"):
        return f"{field}: must be {_HINTS[field]}"
    where = field + "".join(f"[{p}]" for p in loc[1:2] if p.isdigit())  # media.2 -> media[2]
    return f"{where or 'payload'}: {first['msg']}"


def decode_object(payload: bytes) -> tuple[dict | None, str, str]:
    """(object, reason, detail): the payload as a JSON object, or why not."""
    if len(payload) > MAX_PAYLOAD:
        return None, "too_large", f"payload: {len(payload)} bytes > {MAX_PAYLOAD}"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, "not_utf8", f"invalid UTF-8 at byte {e.start}"
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        if _has_non_finite(text):
            return None, "non_finite", "NaN and Infinity are not JSON numbers"
        return None, "not_json", str(e)[:200]
    if not isinstance(obj, dict):
        return None, "not_object", f"expected a JSON object, got {type(obj).__name__}"
    return obj, "", ""


def _has_non_finite(text: str) -> bool:
    found = []
    try:
        json.loads(text, parse_constant=lambda name: found.append(name) or 0)
    except (ValueError, RecursionError):
        return False
    return bool(found)


def message_time(value, received_ms: int, field: str) -> tuple[int | None, str]:
    ts, reason, detail = parse_timestamp(value, received_ms, Limits(max_future_ms=MAX_FUTURE_MS, max_age_ms=REPORT_MAX_AGE_MS))
    if reason:
        return None, field + detail[2:] if detail.startswith("ts") else f"{field}: {detail}"
    return min(int(ts), received_ms), ""


def parse_report(topic: str, payload: bytes, received_ms: int, city: CityMap | None = None) -> Report | Rejection:
    """A case report from `ioc/v1/reports/{source}`; with `city`, one outside it is refused."""
    def reject(reason: str, detail: str) -> Rejection:
        return Rejection(reason, detail[:500], topic, payload, received_ms)

    try:
        m = REPORT_TOPIC_RE.match(topic)
        if not m:
            return reject("bad_report", f"topic: {topic[:120]!r} is not ioc/v1/reports/{{source}} "
                                        "(source: lower-case letters, digits, _ or -, up to 32)")
        source = m.group(1)
        obj, reason, detail = decode_object(payload)
        if obj is None:
            return reject(reason or "bad_report", detail)
        try:
            data = _ReportModel.model_validate(obj)
        except ValidationError as e:
            return reject("bad_report", field_error(e))
        try:
            report_id = report_id_of(data.report_id, required=True)
            description = text_of(data.description, "description", DESCRIPTION_MAX)
            address = text_of(data.address, "address", ADDRESS_MAX)
            reporter = text_of(data.reporter, "reporter", REPORTER_MAX)
            media = media_of(data.media)
        except CaseInputError as e:
            return reject("bad_report", str(e))  # each message starts with the field
        if data.category not in case_catalog.MINOR_CLASSES:
            return reject("unknown_category", f"category: {data.category[:40]!r} is not a minor-class code of the catalog "
                                              "(5 digits, e.g. 10105 street light broken; GET /open311/v2/services.json lists them)")
        reported_ms, detail = message_time(data.reported_at, received_ms, "reported_at")
        if reported_ms is None:
            return reject("bad_report", detail)
        lat, lon = float(data.lat), float(data.lon)
        if city is not None and city.district_at(lon, lat) is None:
            return reject("outside_city", f"lat/lon: ({lat}, {lon}) is outside the city")
        return Report(source, report_id, data.category, lat, lon, description, reported_ms, received_ms, address, reporter, media)
    except Exception as e:  # noqa: BLE001 - bad input never raises out of the edge
        return reject("bad_report", f"payload: {type(e).__name__}")


def parse_update(topic: str, payload: bytes, received_ms: int, departments: frozenset[str] | None = None) -> DepartmentUpdate | Rejection:
    """A department update from `ioc/v1/departments/{department}/updates`; with `departments`,
    one from a department the city does not have is refused."""
    def reject(detail: str) -> Rejection:
        return Rejection("bad_update", detail[:500], topic, payload, received_ms)

    try:
        m = UPDATE_TOPIC_RE.match(topic)
        if not m:
            return reject(f"topic: {topic[:120]!r} is not ioc/v1/departments/{{department}}/updates")
        department = m.group(1)
        if departments is not None and department not in departments:
            return reject(f"topic: unknown department {department!r}")
        obj, reason, detail = decode_object(payload)
        if obj is None:
            return Rejection(reason, detail, topic, payload, received_ms) if reason else reject(detail)
        try:
            data = _UpdateModel.model_validate(obj)
        except ValidationError as e:
            return reject(field_error(e))
        action = UPDATE_ACTIONS.get(data.action)
        if action is None:
            return reject(f"action: {data.action[:40]!r} is not one of {', '.join(UPDATE_ACTIONS)}")
        note = data.note.strip()
        if action == "return" and not note:
            return reject("note: a return needs a note saying why the case is not this department's")
        ts_ms, detail = message_time(data.ts, received_ms, "ts")
        if ts_ms is None:
            return reject(detail)
        case_id = data.case_id.strip()
        if not case_id or not case_id.isprintable():
            return reject("case_id: the id of the case dispatched to this department (printable, not blank)")
        return DepartmentUpdate(department, case_id, action, note, ts_ms, received_ms, data.action)
    except Exception as e:  # noqa: BLE001 - bad input never raises out of the edge
        return reject(f"payload: {type(e).__name__}")


def parse_case_message(topic: str, payload: bytes, received_ms: int, city: CityMap | None = None,
                       departments: frozenset[str] | None = None) -> Report | DepartmentUpdate | Rejection:
    if topic.startswith("ioc/v1/departments/"):
        return parse_update(topic, payload, received_ms, departments)
    return parse_report(topic, payload, received_ms, city)
