"""One ingest batch, without I/O: from raw MQTT messages to store items, and from the store's
verdicts to what the worker must record (rejections, rule states, alarm changes, rollups,
counters, the accepted readings for the shards' readings streams).

`prepare()` applies the per-device rate limit, parses and locates every message and groups the
survivors per shard: births, status changes and located readings as "special" items (a JSON
array), plain readings as four flat strings each. `conclude()` turns the script's answers into
rejections (unknown device, duplicate), sums the accepted readings into the 1-minute and 1-hour
rollup buckets of the whole batch, runs the threshold rules in timestamp order per device, and
lists the writes that follow.

Rules and quiet states: a device's rule state is stored only while it is not quiet (a breach is
being counted, a clear is being counted, or an alarm is active). A newer reading of a device
without a stored state that breaches no rule changes nothing and costs no write. Late readings
(older than the device's stored latest) count in the rollups but never drive the rules: they
describe a past that a newer reading has already superseded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson

from ioc.adapters.redis_keys import shard_of
from ioc.domain.alarms import Alarm, alarm_from, alarm_id
from ioc.domain.geo import CityMap
from ioc.domain.rollup_fields import add_reading
from ioc.domain.rules import RuleState, evaluate, rules_for
from ioc.domain.telemetry import Limits, Reading, Rejection, parse_message, plain_reading, split_topic

from .rate_limit import DeviceRateLimit


@dataclass
class ShardBatch:
    specials: list = field(default_factory=list)  # JSON items: births, status changes, located readings
    plain: list = field(default_factory=list)  # 4 strings per plain reading: device, ts, latest JSON, rules flag
    special_messages: list = field(default_factory=list)  # (message, topic, payload) per special item
    plain_messages: list = field(default_factory=list)  # (message, topic, payload) per plain reading

    def messages(self) -> list:
        """In the script's verdict order: specials first, then plain readings."""
        return self.special_messages + self.plain_messages


@dataclass
class Prepared:
    per_shard: dict[int, ShardBatch] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    rate_limited: int = 0  # messages over a device's rate (one sample of each is in `rejections`)

    def store_items(self) -> dict[int, tuple[list, list]]:
        """shard -> (special items, flat plain args): what TelemetryStore.apply takes."""
        return {shard: (b.specials, b.plain) for shard, b in self.per_shard.items()}


@dataclass
class Outcome:
    accepted: int = 0
    late: int = 0
    rate_limited: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    rule_states: dict[int, dict[str, str]] = field(default_factory=dict)  # shard -> device -> JSON to store
    quiet_devices: dict[int, list[str]] = field(default_factory=dict)  # shard -> devices whose stored state to drop
    raised: list[Alarm] = field(default_factory=list)
    cleared: list[tuple[Alarm, object, int]] = field(default_factory=list)  # (alarm id holder, value, ts)
    by_kind: Counter = field(default_factory=Counter)
    minutes: dict[int, dict[str, list]] = field(default_factory=dict)  # epoch minute -> field -> [n] | [n, sum, max]
    readings: dict[int, list] = field(default_factory=dict)  # shard -> [device, kind, district, ts, values] per accepted reading

    rate_samples: int = 0  # rate-limited messages that are also in `rejections` (dead-letter samples)
    buffered: bool = False  # set by the worker once its rollups and counters are in the held figures

    def rejected_by_reason(self) -> Counter:
        counts = Counter(r.reason for r in self.rejections)
        if self.rate_limited:
            counts["rate_limited"] = self.rate_limited
        return counts

    @property
    def rejected(self) -> int:
        return len(self.rejections) - self.rate_samples + self.rate_limited


def _reject(entry, reason: str, detail: str) -> Rejection:
    message, topic, payload = entry
    return Rejection(reason, detail, topic, payload, message.received_ms, message.device_id)


_TOPIC_INFO: dict[tuple[str, int], tuple | None] = {}  # (topic, shards) -> (kind, device, channel, shard, rules flag)
_TOPIC_INFO_MAX = 500_000


def _topic_info(topic: str, shards: int) -> tuple | None:
    key = (topic, shards)
    try:
        return _TOPIC_INFO[key]
    except KeyError:
        parts = split_topic(topic)
        info = None if parts is None else (*parts, shard_of(parts[1], shards), "1" if rules_for(parts[0]) else "0")
        if len(_TOPIC_INFO) >= _TOPIC_INFO_MAX:
            _TOPIC_INFO.clear()
        _TOPIC_INFO[key] = info
        return info


def prepare(raw: list[tuple[str, bytes, int]], city: CityMap, shards: int, limits: Limits,
            rate_limit: DeviceRateLimit | None = None) -> Prepared:
    """Items per shard. A special item is either a located reading
    ["t", device, kind, ts, district, lon, lat, cell, latest JSON, rules flag 0|1] or a status
    change ["s", device, kind, "online"|"offline", district, lon, lat, cell, name, extra JSON, received ms];
    a plain reading is four strings: device, ts, latest JSON, rules flag "0"|"1"."""
    out = Prepared()
    batches = out.per_shard
    admit = rate_limit.admit if rate_limit is not None else None
    dumps = orjson.dumps
    for topic, payload, received_ms in raw:
        info = _topic_info(topic, shards)
        message = None
        if info is not None:
            kind, device, channel, shard, flag = info
            if admit is not None:
                verdict = admit(device, received_ms)
                if verdict is not True:
                    out.rate_limited += 1
                    if verdict == "sample":  # the first excess message of the second is dead-lettered as a sample
                        out.rejections.append(Rejection("rate_limited", rate_limit.detail(device), topic, payload, received_ms, device))
                    continue
            if channel == "telemetry":
                message = plain_reading(kind, device, payload, received_ms, limits)
                if message is not None:
                    batch = batches.get(shard)
                    if batch is None:
                        batch = batches[shard] = ShardBatch()
                    values = message.values
                    batch.plain.extend((device, message.ts_ms, dumps({"ts": message.ts_ms, **values}), flag))
                    batch.plain_messages.append((message, topic, payload))
                    continue
        message = parse_message(topic, payload, received_ms, limits)
        if isinstance(message, Rejection):
            out.rejections.append(message)
            continue
        _special(out, message, topic, payload, city, shards)
    return out


def _special(out: Prepared, message, topic: str, payload: bytes, city: CityMap, shards: int) -> None:
    """A message off the hot path: a birth or status change, a located reading, or a reading
    whose ts needed converting (ISO 8601)."""
    device = message.device_id
    shard = shard_of(device, shards)
    is_reading = isinstance(message, Reading)
    if is_reading and message.location is None:
        batch = out.per_shard.get(shard)
        if batch is None:
            batch = out.per_shard[shard] = ShardBatch()
        batch.plain.extend((device, message.ts_ms, orjson.dumps({"ts": message.ts_ms, **message.values}),
                            "1" if rules_for(message.kind) else "0"))
        batch.plain_messages.append((message, topic, payload))
        return
    district, cell, lon, lat = "", "", 0.0, 0.0
    if message.location is not None:
        lon, lat = message.location.lon, message.location.lat
        district = city.district_at(lon, lat) or ""
        if not district:
            out.rejections.append(Rejection(
                "outside_city", f"lat {lat}, lon {lon} is outside the city", topic, payload, message.received_ms, device))
            return
        cell = city.cell_at(lon, lat) or ""
    batch = out.per_shard.get(shard)  # only now: a message rejected above leaves no empty shard batch
    if batch is None:
        batch = out.per_shard[shard] = ShardBatch()
    if is_reading:
        latest = orjson.dumps({"ts": message.ts_ms, **message.values}).decode()
        batch.specials.append(["t", device, message.kind, message.ts_ms, district, lon, lat, cell, latest,
                               1 if rules_for(message.kind) else 0])
    else:
        batch.specials.append(["s", device, message.kind, "online" if message.online else "offline",
                               district, lon, lat, cell, message.name or "", orjson.dumps(message.extra).decode(),
                               message.received_ms])
    batch.special_messages.append((message, topic, payload))


def _add(bucket: dict, prefix: str, message: Reading) -> None:
    """Add one reading to a rollup bucket (`ioc.domain.rollup_fields.add_reading`: the recorder sums
    the readings stream into `rollup_minute` with the same function)."""
    add_reading(bucket, prefix, message.kind, message.values)


def _merge_cell(have: list, cell: list) -> None:
    have[0] += cell[0]
    if len(cell) > 1:
        have[1] += cell[1]
        if cell[2] > have[2]:
            have[2] = cell[2]


def _merge_into(target: dict[int, dict[str, list]], bucket: int, fields: dict[str, list]) -> None:
    into = target.get(bucket)
    if into is None:
        target[bucket] = {name: list(cell) for name, cell in fields.items()}
        return
    for name, cell in fields.items():
        have = into.get(name)
        if have is None:
            into[name] = list(cell)
        else:
            _merge_cell(have, cell)


class RollupBuffer:
    """Rollup aggregates of several batches, summed in memory until the worker flushes them
    (about once a second): the Redis cost of rollups then depends on the number of fields
    (districts × kinds × attributes), not on the number of batches."""

    def __init__(self):
        self.minutes: dict[int, dict[str, list]] = {}

    def add(self, minutes: dict[int, dict[str, list]]) -> None:
        for minute, fields in minutes.items():
            _merge_into(self.minutes, minute, fields)

    def __bool__(self) -> bool:
        return bool(self.minutes)

    def buckets(self) -> tuple[dict[int, dict[str, list]], dict[int, dict[str, list]]]:
        """(minute buckets, hour buckets) of everything added since the last clear."""
        hours: dict[int, dict[str, list]] = {}
        for minute, fields in self.minutes.items():
            _merge_into(hours, minute // 60, fields)
        return self.minutes, hours

    def clear(self) -> None:
        self.minutes = {}


def _quiet(state: RuleState) -> bool:
    return not state.active and not state.breaching and not state.clearing


def _breaches_any(kind: str, values: dict) -> bool:
    for rule in rules_for(kind):
        value = values.get(rule.attribute)
        if value is not None and rule.breaches(value):
            return True
    return False


def conclude(prepared: Prepared, results: dict) -> Outcome:
    """results: shard -> ShardResult (verdicts, districts in item order; stored rule states)."""
    out = Outcome(rejections=list(prepared.rejections), rate_limited=prepared.rate_limited)
    out.rate_samples = sum(1 for r in prepared.rejections if r.reason == "rate_limited")
    minutes = out.minutes
    for shard, batch in prepared.per_shard.items():
        result = results[shard]
        verdicts, districts = result.verdicts, result.districts
        to_evaluate: list[Reading] = []
        accepted: list = []  # the shard's accepted readings, for its readings stream (the record)
        for i, entry in enumerate(batch.messages()):
            message = entry[0]
            verdict = verdicts[i]
            if verdict == "u":
                out.rejections.append(_reject(entry, "unknown_device", f"device {message.device_id!r} has no birth with a location; publish its status with lat/lon first"))
                continue
            if verdict == "d":
                out.rejections.append(_reject(entry, "duplicate", f"a reading with ts {message.ts_ms} is already stored"))
                continue
            out.accepted += 1
            out.by_kind[message.kind] += 1
            if not isinstance(message, Reading):
                continue
            bucket = minutes.get(message.ts_ms // 60_000)
            if bucket is None:
                bucket = minutes[message.ts_ms // 60_000] = {}
            _add(bucket, f"{districts[i]}|{message.kind}|", message)
            accepted.append([message.device_id, message.kind, districts[i], message.ts_ms, message.values])
            if verdict == "l":
                out.late += 1
            elif rules_for(message.kind):
                to_evaluate.append((message, districts[i]))
        if accepted:
            out.readings[shard] = accepted
        _run_rules(shard, to_evaluate, result.rule_states, out)
    return out


def _run_rules(shard: int, readings: list, stored: dict[str, str], out: Outcome) -> None:
    """Rules see each device's newer samples in timestamp order, whatever the arrival order."""
    states_by_device: dict[str, dict[str, RuleState]] = {}
    touched: set[str] = set()
    readings.sort(key=lambda pair: pair[0].ts_ms)
    for message, district in readings:
        device = message.device_id
        states = states_by_device.get(device)
        if states is None:
            raw = stored.get(device)
            if raw is None and not _breaches_any(message.kind, message.values):
                continue  # quiet and staying quiet: nothing to read, evaluate or write
            states = states_by_device[device] = {
                rid: RuleState.from_list(v) for rid, v in orjson.loads(raw or "{}").items()}
        changed, transitions = evaluate(message.kind, message.values, message.ts_ms, states)
        if changed:
            states.update(changed)
            touched.add(device)
        for t in transitions:
            alarm = alarm_from(t, device, message.kind, district)
            if t.kind == "raised":
                out.raised.append(alarm)
            else:
                out.cleared.append((alarm, t.value, t.ts))
    keep: dict[str, str] = {}
    drop: list[str] = []
    for device in touched:
        live = {rid: s.to_list() for rid, s in states_by_device[device].items() if not _quiet(s)}
        if live:
            keep[device] = orjson.dumps(live).decode()
        elif device in stored:
            drop.append(device)
    if keep:
        out.rule_states[shard] = keep
    if drop:
        out.quiet_devices[shard] = drop


__all__ = ["prepare", "conclude", "Prepared", "Outcome", "ShardBatch", "RollupBuffer", "alarm_id"]
