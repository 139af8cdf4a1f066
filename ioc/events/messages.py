"""Parsing event-task updates at the MQTT edge, into typed objects; the messages IOC sends.

A department's system answers its event tasks on the topic it answers cases on,
`ioc/v1/departments/{department}/updates` (QoS 1), told apart by the payload: an event update
names `event_id`, a case update `case_id` (both: refused):

    {"event_id": "EV-20260704-001", "task_id": "water_affairs", "action": "acknowledge",
     "note": "", "ts": "2026-07-04T10:02:00+08:00", "version": 1}

- `action`: one of `acknowledge`, `arrive`, `start`, `report`, `done`, `return`, `support`
  (the task's steps, `ioc.domain.events.TASK_ACTIONS`) or `acknowledge_instruction` (then
  `instruction_id` names the instruction, and `task_id` may be left out);
- `task_id`: the task's id, which is the department's id: a department answers only its own task;
- `version` (optional): the task version the system read (from the task message); a stale one
  is refused unless the action was already applied (a repeat);
- `note`: the report's or done's note, the return's reason, what support is needed;
- `ts`: ISO 8601 with an offset, or epoch milliseconds (missing: when IOC received it).

`route_update` returns `None` for a payload that is not an event update (the case parser takes
it), an `EventUpdate`, or a `Rejection` (reason `bad_update`, detail naming the field). Bad input
never raises. Unknown fields are refused, as for cases and telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from ioc.casework.reports import UPDATE_TOPIC_RE, decode_object, field_error, message_time
from ioc.domain.events import TASK_ACTIONS
from ioc.domain.telemetry import Rejection

INSTRUCTION_ACTION = "acknowledge_instruction"
UPDATE_ACTIONS: tuple[str, ...] = (*TASK_ACTIONS, INSTRUCTION_ACTION)
NOTE_MAX = 2000
ID_MAX = 64
TASK_TYPE, INSTRUCTION_TYPE = "event_task", "event_instruction"  # the "type" of the messages IOC sends


@dataclass(frozen=True, slots=True)
class EventUpdate:
    department: str  # from the topic
    event_id: str
    task_id: str  # the department's task ("" only for acknowledge_instruction without one)
    action: str  # one of UPDATE_ACTIONS
    note: str
    ts_ms: int
    received_ms: int
    version: int | None = None  # the task version the system read
    instruction_id: str = ""


class _EventUpdateModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    event_id: StrictStr = Field(min_length=1, max_length=ID_MAX)
    task_id: StrictStr = Field(default="", max_length=ID_MAX)
    action: StrictStr
    note: StrictStr = Field(default="", max_length=NOTE_MAX)
    ts: Optional[Union[StrictInt, StrictFloat, StrictStr]] = None
    version: Optional[StrictInt] = Field(default=None, ge=1)
    instruction_id: StrictStr = Field(default="", max_length=ID_MAX)


def _printable(text: str) -> bool:
    return bool(text) and text.isprintable()


def route_update(topic: str, payload: bytes, received_ms: int, departments: frozenset[str] | None = None
                 ) -> EventUpdate | Rejection | None:
    """The event update of a message on a departments' update topic; None when the payload is
    not one (no `event_id`: a case update, or something the case parser refuses itself)."""
    def reject(detail: str) -> Rejection:
        return Rejection("bad_update", detail[:500], topic, payload, received_ms)

    try:
        m = UPDATE_TOPIC_RE.match(topic)
        if not m:
            return None
        obj, _reason, _detail = decode_object(payload)
        if obj is None or "event_id" not in obj:
            return None
        if "case_id" in obj:
            return reject("event_id: an update names a case (case_id) or an event task (event_id), not both")
        department = m.group(1)
        if departments is not None and department not in departments:
            return reject(f"topic: unknown department {department!r}")
        try:
            data = _EventUpdateModel.model_validate(obj)
        except ValidationError as e:
            return reject(field_error(e))
        if data.action not in UPDATE_ACTIONS:
            return reject(f"action: {data.action[:40]!r} is not one of {', '.join(UPDATE_ACTIONS)}")
        event_id, task_id, instruction_id = data.event_id.strip(), data.task_id.strip(), data.instruction_id.strip()
        if not _printable(event_id):
            return reject("event_id: the id of the event whose task this department works (printable, not blank)")
        if data.action == INSTRUCTION_ACTION:
            if not _printable(instruction_id):
                return reject("instruction_id: acknowledge_instruction names the instruction (e.g. I1)")
        elif not _printable(task_id):
            return reject("task_id: the id of the department's task (its department id)")
        if task_id and not _printable(task_id):
            return reject("task_id: printable, not blank")
        ts_ms, detail = message_time(data.ts, received_ms, "ts")
        if ts_ms is None:
            return reject(detail)
        return EventUpdate(department, event_id, task_id, data.action, data.note.strip(), ts_ms, received_ms, data.version,
                           instruction_id)
    except Exception as e:  # noqa: BLE001 - bad input never raises out of the edge
        return reject(f"payload: {type(e).__name__}")
