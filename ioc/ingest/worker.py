"""The ingest worker: MQTT in, validated batches out to Redis.

paho's network thread only appends (topic, payload, received ms) to a deque. The main loop
takes up to IOC_INGEST_BATCH_MAX messages once the oldest has waited IOC_INGEST_FLUSH_MS, and
writes them in two round trips: the shard scripts (latest state, registry and its stream,
verdicts), then rule states, the accepted readings (one `ioc:{sN}:readings` entry per shard, for
the record), alarms and dead letters in one pipeline. The batch's minute and hour rollups and its
`ioc:metrics` counters are summed in memory and written together about once a second
(IOC_COUNTER_FLUSH_MS), so their Redis cost does not grow with the number of batches; a crash
loses at most that second of rollups and counts, together.

When Redis is unreachable the batch is kept and retried with back-off while messages queue up
to IOC_INGEST_BUFFER_MAX (beyond it the oldest are dropped and counted as `dropped`). When the
broker goes away paho reconnects by itself and the subscriptions are renewed on connect.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import Counter, deque

import orjson
import redis

from ioc import heap
from ioc.adapters import counters, deadletters, heartbeats
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters import mqtt as mqtt_adapter
from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.adapters.telemetry_store import TelemetryStore
from ioc.domain.geo import CityMap
from ioc.domain.telemetry import Limits
from ioc.settings import Settings

from .batch import Outcome, RollupBuffer, conclude, prepare
from .rate_limit import DeviceRateLimit

log = logging.getLogger("ioc.ingest")

TOPICS = (("ioc/v1/+/+/telemetry", 0), ("ioc/v1/+/+/status", 1))


def _counters(outcome: Outcome) -> Counter:
    """The ioc:metrics increments of one batch."""
    counts = Counter({"messages:accepted": outcome.accepted, "messages:late": outcome.late,
                      "alarms:raised": len(outcome.raised), "alarms:cleared": len(outcome.cleared)})
    counts.update(counters.rejections(outcome.rejected_by_reason()))  # messages:rejected == outcome.rejected
    for kind, n in outcome.by_kind.items():
        counts[f"accepted:{kind}"] += n
    return counts


def subscriptions(group: str) -> list[tuple[str, int]]:
    if not group:
        return list(TOPICS)
    return [(f"$share/{group}/{topic}", qos) for topic, qos in TOPICS]


def _now_ms() -> int:
    return int(time.time() * 1000)


class IngestWorker:
    def __init__(self, settings: Settings, redis_client: redis.Redis, city: CityMap):
        self.settings = settings
        self.redis = redis_client
        self.city = city
        self.alarms = AlarmStore(redis_client)
        self.store = TelemetryStore(redis_client, settings.redis_shards, settings.rollup_retention_hours * 3600,
                                    settings.rollup_hourly_retention_days * 86400, settings.record_readings_maxlen)
        self.limits = Limits(settings.ingest_max_payload, settings.ingest_max_future_s * 1000, settings.ingest_max_age_s * 1000)
        self.rate_limit = DeviceRateLimit(settings.device_max_rate) if settings.device_max_rate else None
        self.rollups = RollupBuffer()
        self.held_counters: Counter = Counter()  # ioc:metrics increments held with the rollups
        self.rollups_flushed = time.monotonic()
        self.rollup_flush_s = settings.counter_flush_ms / 1000  # rollups and counters are written this often
        self.queue: deque = deque()
        self.arrived = threading.Event()
        self.stopping = threading.Event()
        self.dropped = 0
        self.processed = 0
        self.worker_id = settings.ingest_client_id or f"ioc-ingest-{socket.gethostname()}-{os.getpid()}"
        self.started_ms = _now_ms()
        self.redis_down = False
        self.client = None

    # --- MQTT side (network thread) ----------------------------------------------------------
    def _on_message(self, client, userdata, msg) -> None:
        self.queue.append((msg.topic, msg.payload, _now_ms()))
        if len(self.queue) > self.settings.ingest_buffer_max:
            self.queue.popleft()
            self.dropped += 1
        if not self.arrived.is_set():  # Event.set takes a lock and notifies: once per wake-up, not per message
            self.arrived.set()

    def _subscribe(self, client) -> None:
        client.subscribe(subscriptions(self.settings.ingest_group))

    def connect(self) -> None:
        self.client = mqtt_adapter.make_client(
            self.settings.mqtt_url, self.worker_id, clean_session=True,
            on_connect=self._subscribe, name="ingest", max_inflight=65000,
        )
        self.client.on_message = self._on_message
        mqtt_adapter.connect(self.client, timeout=60)

    # --- main loop ---------------------------------------------------------------------------
    def take_batch(self) -> list:
        flush_s = self.settings.ingest_flush_ms / 1000
        while not self.queue and not self.stopping.is_set():
            if self.holding() and self.rollups_due():
                return []  # idle: the caller flushes the figures held
            self.arrived.wait(0.5 if not self.holding() else self.rollup_flush_s / 2)
            self.arrived.clear()
        if not self.queue:
            return []
        first_ms = self.queue[0][2]
        wait = flush_s - (time.time() - first_ms / 1000)
        if wait > 0 and len(self.queue) < self.settings.ingest_batch_max:
            time.sleep(wait)
        batch = []
        pop = self.queue.popleft
        for _ in range(min(len(self.queue), self.settings.ingest_batch_max)):
            batch.append(pop())
        return batch

    def holding(self) -> bool:
        return bool(self.rollups) or bool(self.held_counters) or bool(self.dropped)

    def rollups_due(self) -> bool:
        return time.monotonic() - self.rollups_flushed >= self.rollup_flush_s or self.stopping.is_set()

    def apply(self, raw: list) -> Outcome:
        """First round trip: latest state and registry. Returns what `record` must write."""
        prepared = prepare(raw, self.city, self.settings.redis_shards, self.limits, self.rate_limit)
        outcome = conclude(prepared, self.store.apply(prepared.store_items()))
        self.processed += len(raw)
        return outcome

    def process(self, raw: list) -> Outcome:
        """Apply and record one batch, rollups included (the tests' and tools' entry point)."""
        outcome = self.apply(raw)
        self.record(outcome, flush_rollups=True)
        return outcome

    def record(self, outcome: Outcome, flush_rollups: bool = True) -> None:
        """Second round trip: rule states, alarms and dead letters of the batch, and, when
        `flush_rollups`, the rollups and counters held since the last flush. Rollups and
        counters are held together and written together (rollups first), so a crash loses
        them together and a reading counted as accepted is always in the rollups too.
        Safe to call again after a failure: an outcome is added to the held figures once, and
        they are cleared only after a successful write."""
        if not outcome.buffered:
            self.rollups.add(outcome.minutes)
            self.held_counters.update(_counters(outcome))
            outcome.buffered = True
        if self.dropped:
            self.held_counters["messages:dropped"] += self.dropped
            self.dropped = 0
        pipe = self.redis.pipeline(transaction=False)
        self.store.write_rule_states(pipe, outcome.rule_states, outcome.quiet_devices)
        self.store.write_readings(pipe, outcome.readings)
        for alarm in outcome.raised:  # raised unless active already: one `raised` event per activation
            self.alarms.raise_in(pipe, alarm)
        for alarm, value, ts in outcome.cleared:
            # Conditional clear (drops the alarm and its ack, one `cleared` event): a hand clear
            # that got there first leaves nothing to clear and no second event.
            event = orjson.dumps({**alarm.to_dict(), "value": value, "cleared_at": ts})
            self.alarms.clear_in(pipe, alarm.id, event)
        for r in outcome.rejections:
            deadletters.add_in(pipe, r, self.worker_id, self.settings.deadletter_maxlen)
        if flush_rollups:
            if self.rollups:
                self.store.write_rollups(pipe, *self.rollups.buckets())
            counters.add_in(pipe, self.held_counters)
        pipe.execute()
        if flush_rollups:
            self.rollups.clear()
            self.held_counters.clear()
            self.rollups_flushed = time.monotonic()
        for alarm in outcome.raised:
            log.info("alarm raised: %s %s %s=%s (%s)", alarm.severity, alarm.device_id, alarm.attribute, alarm.value, alarm.district)

    def heartbeat(self) -> None:
        heartbeats.beat(self.redis, self.worker_id, "ingest", self.started_ms, self.processed, len(self.queue),
                        self.settings.ingest_group)

    def run(self) -> None:
        self.connect()
        log.info("ingest %s subscribed to %s", self.worker_id, ", ".join(t for t, _ in subscriptions(self.settings.ingest_group)))
        backoff = 0.2
        last_beat = 0.0
        pending: list = []  # taken from the queue, not yet applied
        unrecorded: Outcome | None = None  # applied, its alarms/dead letters/counters not yet written
        while True:
            if not pending and unrecorded is None:
                if self.stopping.is_set() and not self.queue and not self.holding():
                    break
                pending = self.take_batch()
            try:
                if pending:
                    unrecorded = self.apply(pending)
                    pending = []
                if unrecorded is None and self.holding() and self.rollups_due():
                    unrecorded = Outcome(buffered=True)  # nothing new: only the figures held
                if unrecorded is not None:
                    self.record(unrecorded, flush_rollups=self.rollups_due())
                    unrecorded = None
                if time.time() - last_beat > 5:
                    self.heartbeat()
                    last_beat = time.time()
                if self.redis_down:
                    log.warning("Redis is reachable again; ingest resumed (%d messages queued)", len(self.queue))
                    self.redis_down = False
                backoff = 0.2
            except REDIS_UNAVAILABLE as e:  # before ResponseError: ClusterDownError is both
                if not self.redis_down:
                    log.warning("Redis unavailable (%s); holding %d messages and retrying", e, len(pending) + len(self.queue))
                    self.redis_down = True
                if self.stopping.is_set():
                    log.error("stopping while Redis is down: %d messages not written", len(pending) + len(self.queue))
                    break
                time.sleep(backoff)
                backoff = min(backoff * 2, 5)
            except redis.ResponseError:
                # A server-side error that retrying cannot fix (e.g. out of memory): say so, count
                # the batch as dropped, keep the worker alive for the messages that follow.
                lost = len(pending) if pending else 0
                log.exception("Redis refused a batch of %d messages; dropped and counted", lost)
                self.dropped += lost
                pending, unrecorded = [], None
                self.rollups.clear()  # a refused rollup write would be refused again on every flush
                self.held_counters.clear()
                time.sleep(backoff)
                backoff = min(backoff * 2, 5)
        self.client.disconnect()
        self.client.loop_stop()
        log.info("ingest %s stopped after %d messages", self.worker_id, self.processed)

    def stop(self, *_args) -> None:
        self.stopping.set()
        self.arrived.set()


def main(settings: Settings) -> int:
    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis

    if not settings.redis_url or not settings.mqtt_url:
        log.error("REDIS_URL and MQTT_URL must be set for `python -m ioc ingest` (or use `python -m ioc demo`)")
        return 2
    worker = IngestWorker(settings, connect_redis(settings.redis_url), load_city_map(settings.geodata_dir))
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    heap.enable()
    heap.settle("start")  # modules, the city map, settings: out of every collection
    worker.run()
    return 0
