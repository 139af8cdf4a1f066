"""One ingest batch, without I/O: from raw MQTT messages to store items, and from the store's
verdicts to what the worker must record (rejections, rule states, alarm changes, counters).

`prepare()` parses and locates every message and groups the survivors per shard into the
compact items the store's script expects. `conclude()` turns the script's answers into
rejections (unknown device, duplicate), runs the threshold rules in timestamp order per device,
and lists the writes that follow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson

from ioc.adapters.redis_keys import shard_of
from ioc.domain.alarms import Alarm, alarm_from, alarm_id
from ioc.domain.geo import CityMap
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RuleState, evaluate, rules_for
from ioc.domain.telemetry import Limits, Reading, Rejection, parse_message

FIXED_KEYS = 7  # must match TelemetryStore.FIXED_KEYS


@dataclass
class Prepared:
    per_shard: dict[int, tuple[list[int], list[list]]] = field(default_factory=dict)  # shard -> (minutes, items)
    hours: dict[int, list[int]] = field(default_factory=dict)  # shard -> epoch hours, KEYS after the minutes
    messages: dict[int, list] = field(default_factory=dict)  # shard -> [(message, topic, payload)], item order
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class Outcome:
    accepted: int = 0
    late: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    rule_states: dict[int, dict[str, str]] = field(default_factory=dict)  # shard -> device -> JSON
    raised: list[Alarm] = field(default_factory=list)
    cleared: list[tuple[Alarm, object, int]] = field(default_factory=list)  # (alarm id holder, value, ts)
    by_kind: Counter = field(default_factory=Counter)

    def rejected_by_reason(self) -> Counter:
        return Counter(r.reason for r in self.rejections)


def _reject(entry, reason: str, detail: str) -> Rejection:
    message, topic, payload = entry
    return Rejection(reason, detail, topic, payload, message.received_ms, message.device_id)


# kind -> attribute -> True when numeric (summed in rollups) / False when counted per value
_NUMERIC = {k.id: {a.name: a.is_numeric for a in k.attributes} for k in KINDS.values()}


def _split_values(reading: Reading) -> tuple[list, list]:
    numeric = _NUMERIC[reading.kind]
    nums, cats = [], []
    for name, value in reading.values.items():
        if numeric[name]:
            nums.append([name, value])
        elif value is True or value is False:
            cats.append(f"{name}={'true' if value else 'false'}")
        else:
            cats.append(f"{name}={value}")
    return nums, cats


def prepare(raw: list[tuple[str, bytes, int]], city: CityMap, shards: int, limits: Limits) -> Prepared:
    """Items per shard. A reading item is
    ["t", device, kind, ts, district, lon, lat, cell, latest JSON, minute KEYS index, nums, cats,
    rules flag, hour KEYS index]; a status item is
    ["s", device, kind, "online"|"offline", district, lon, lat, cell, name, extra JSON].
    Script KEYS of a shard: the store's fixed keys, then its minute buckets (`per_shard[shard][0]`),
    then its hour buckets (`hours[shard]`); KEYS indexes are 1-based as in Lua."""
    out = Prepared()
    minute_index: dict[int, dict[int, int]] = {}
    hour_position: dict[int, dict[int, int]] = {}  # shard -> hour -> 1-based position among its hours
    for topic, payload, received_ms in raw:
        message = parse_message(topic, payload, received_ms, limits)
        if isinstance(message, Rejection):
            out.rejections.append(message)
            continue
        district, cell, lon, lat = "", "", 0.0, 0.0
        if message.location is not None:
            lon, lat = message.location.lon, message.location.lat
            district = city.district_at(lon, lat) or ""
            if not district:
                out.rejections.append(Rejection(
                    "outside_city", f"lat {lat}, lon {lon} is outside the city", topic, payload, received_ms, message.device_id))
                continue
            cell = city.cell_at(lon, lat) or ""
        shard = shard_of(message.device_id, shards)
        minutes, items = out.per_shard.setdefault(shard, ([], []))
        out.messages.setdefault(shard, []).append((message, topic, payload))
        if isinstance(message, Reading):
            minute = message.ts_ms // 60_000
            index = minute_index.setdefault(shard, {})
            if minute not in index:
                minutes.append(minute)
                index[minute] = FIXED_KEYS + len(minutes)  # Lua KEYS are 1-based
            hour = message.ts_ms // 3_600_000
            hours = out.hours.setdefault(shard, [])
            positions = hour_position.setdefault(shard, {})
            if hour not in positions:
                hours.append(hour)
                positions[hour] = len(hours)
            nums, cats = _split_values(message)
            latest = orjson.dumps({"ts": message.ts_ms, **message.values}).decode()
            items.append([
                "t", message.device_id, message.kind, message.ts_ms, district, lon, lat, cell,
                latest, index[minute], nums, cats, 1 if rules_for(message.kind) else 0,
                positions[hour],  # made a KEYS index below, once the shard's minutes are known
            ])
        else:
            extra = orjson.dumps(message.extra).decode()
            items.append([
                "s", message.device_id, message.kind, "online" if message.online else "offline",
                district, lon, lat, cell, message.name or "", extra,
            ])
    # Hour buckets follow the minute buckets in KEYS: shift each position past the minutes.
    for shard, (minutes, items) in out.per_shard.items():
        offset = FIXED_KEYS + len(minutes)
        for item in items:
            if item[0] == "t":
                item[13] += offset
    return out


def conclude(prepared: Prepared, results: dict) -> Outcome:
    """results: shard -> ShardResult (verdicts, districts, rule states), in item order."""
    out = Outcome(rejections=list(prepared.rejections))
    for shard, messages in prepared.messages.items():
        result = results[shard]
        states_by_device: dict[str, dict[str, RuleState]] = {}
        touched: set[str] = set()
        to_evaluate: list[tuple[int, Reading]] = []
        for i, entry in enumerate(messages):
            message = entry[0]
            verdict = result.verdicts[i]
            if verdict == "u":
                out.rejections.append(_reject(entry, "unknown_device", f"device {message.device_id!r} has no birth with a location; publish its status with lat/lon first"))
                continue
            if verdict == "d":
                out.rejections.append(_reject(entry, "duplicate", f"a reading with ts {message.ts_ms} is already stored"))
                continue
            out.accepted += 1
            out.by_kind[message.kind] += 1
            if verdict == "l":
                out.late += 1
            if isinstance(message, Reading) and rules_for(message.kind):
                to_evaluate.append((i, message))
        # Rules see each device's samples in timestamp order, whatever the arrival order.
        to_evaluate.sort(key=lambda pair: pair[1].ts_ms)
        for i, message in to_evaluate:
            device = message.device_id
            if device not in states_by_device:
                stored = orjson.loads(result.rule_states[i] or "{}")
                states_by_device[device] = {rid: RuleState.from_list(v) for rid, v in stored.items()}
            states = states_by_device[device]
            changed, transitions = evaluate(message.kind, message.values, message.ts_ms, states)
            if changed:
                states.update(changed)
                touched.add(device)
            district = result.districts[i]
            for t in transitions:
                alarm = alarm_from(t, device, message.kind, district)
                if t.kind == "raised":
                    out.raised.append(alarm)
                else:
                    out.cleared.append((alarm, t.value, t.ts))
        if touched:
            out.rule_states[shard] = {
                d: orjson.dumps({rid: s.to_list() for rid, s in states_by_device[d].items()}).decode() for d in touched
            }
    return out


__all__ = ["prepare", "conclude", "Prepared", "Outcome", "alarm_id"]
