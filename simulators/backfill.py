"""The past hours of the demo city, fast-forward, through the real ingest (`--backfill-start`).

A fresh demo has no history: every 24-hour trend panel would be one dot for the first hour. The
backfill runs the simulators' own daily patterns (`patterns.reading`) over a past window and
publishes the readings over MQTT with their past timestamps, like devices catching up after a
gap: the ingest validates them as any reading (they are never older than
`IOC_INGEST_MAX_AGE_S`, see `window`) and rolls them up into their own minute and hour.

It keeps the devices' latest state honest: before the past readings it publishes one reading of
every backfilled device at the backfill's "now" (a real reading of the patterns), so every past
reading after it is *late* (older than the device's latest) and counts only in the rollups,
never in the devices' latest state or the alarm rules (README, "Ingest").

Size: the kinds the trend panels draw (`BACKFILL_KINDS`), at most `MAX_DEVICES_PER_KIND` devices
of each, one reading every `STEP_S` (5 minutes): for the default 2,000-device fleet 193 devices ×
288 readings ≈ 56,000 messages, paced so that no device exceeds half the ingest's per-device rate
limit (`IOC_DEVICE_MAX_RATE`): about 12 s for 24 hours.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

import orjson

from .fleet import Fleet
from .patterns import hash01, reading
from .wire import birth_payload, status_topic

log = logging.getLogger("simulators")

BACKFILL_KINDS = ("air_quality", "crowd", "water_level")  # the kinds the big screen's trend panels draw
MAX_DEVICES_PER_KIND = 120  # the default 2,000-device fleet is backfilled whole (103 air-quality stations)
STEP_S = 300.0
AGE_MARGIN_S = 300.0  # the oldest reading stays this far inside the ingest's maximum age
DEFAULT_PACE = 25.0  # steps per second when the ingest has no per-device rate limit


@dataclass(frozen=True)
class Window:
    start_s: float  # epoch seconds, first reading
    end_s: float  # epoch seconds, the backfill's "now" (past readings are before it)

    @property
    def hours(self) -> float:
        return (self.end_s - self.start_s) / 3600.0


def window(start_s: float, end_s: float, max_age_s: float) -> Window:
    """The window actually filled: never older than the ingest accepts (`max_age_s` less a margin
    for the time the backfill itself takes)."""
    return Window(max(start_s, end_s - max_age_s + AGE_MARGIN_S), end_s)


def backfill_devices(fleet: Fleet) -> list:
    """The devices backfilled: every device of BACKFILL_KINDS, or an even spread of at most
    MAX_DEVICES_PER_KIND of a kind with more (the panels draw means and maxima)."""
    chosen = []
    for kind in BACKFILL_KINDS:
        devices = fleet.of_kind(kind)
        if len(devices) > MAX_DEVICES_PER_KIND:
            step = len(devices) / MAX_DEVICES_PER_KIND
            devices = [devices[int(i * step)] for i in range(MAX_DEVICES_PER_KIND)]
        chosen.extend(devices)
    return chosen


def steps(win: Window, step_s: float = STEP_S) -> list[float]:
    """The reading times of the past: every `step_s` from the window's start, before its end."""
    out, t = [], win.start_s
    while t < win.end_s - 1.0:
        out.append(t)
        t += step_s
    return out


def telemetry(device, t: float) -> tuple[str, bytes]:
    """(topic, payload) of `device`'s normal reading at epoch seconds `t` (ts in epoch ms)."""
    payload = {"ts": int(t * 1000)}
    payload.update(reading(device, t))
    return f"ioc/v1/{device.kind}/{device.id}/telemetry", orjson.dumps(payload)


def step_messages(devices: list, t: float, step_s: float = STEP_S, end_s: float | None = None) -> list[tuple[str, bytes]]:
    """One reading per device around `t` (each device offset within the step by its own key, so
    they do not all share one timestamp). Nothing at or after `end_s`, the backfill's "now": a
    reading stamped later would be newer than the live readings that follow it, take the device's
    latest state and make those live readings late (kept out of the latest state and the rules)."""
    out = []
    for d in devices:
        at = t + int(hash01(d.key, 0xBAC) * min(step_s, 60.0))
        if end_s is None or at < end_s:
            out.append(telemetry(d, at))
    return out


class ProgressBar:
    """`[#########-----------] 45 %  24,700/55,000 readings` on one console line (a line per
    10 % when the output is not a terminal, e.g. a log file)."""

    WIDTH = 30

    def __init__(self, total: int, label: str, out=None, unit: str = "readings"):
        self.total, self.label, self.unit = max(1, total), label, unit
        self.out = out or sys.stdout
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.shown = -1

    def update(self, done: int) -> None:
        percent = min(100, int(100 * done / self.total))
        if percent == self.shown or (not self.tty and percent // 10 == self.shown // 10 and percent < 100):
            return
        self.shown = percent
        filled = self.WIDTH * percent // 100
        line = f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {percent:3d} %  {done:,}/{self.total:,} {self.unit}"
        if self.tty:
            self.out.write("\r" + line + ("\n" if percent == 100 else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


def _backlog(client) -> int:
    return len(getattr(client, "_out_packet", ()))


def run_backfill(mqtt_url: str, fleet: Fleet, start_s: float, end_s: float | None = None, *,
                 max_age_s: float = 86400.0, device_max_rate: int = 50, step_s: float = STEP_S,
                 stop=None, out=None) -> int:
    """Publish the backfill of `fleet` from `start_s` to `end_s` (default now); returns the number
    of past readings sent. `stop` (an object with `is_set()`) ends it early."""
    from ioc.adapters.mqtt import connect, make_client

    end_s = time.time() if end_s is None else end_s
    win = window(start_s, end_s, max_age_s)
    devices = backfill_devices(fleet)
    times = steps(win, step_s)
    if not devices or not times:
        return 0
    pace = device_max_rate / 2.0 if device_max_rate > 0 else DEFAULT_PACE  # steps (readings per device) a second
    log.info("backfill: %.1f h of %s (%d devices, a reading every %.0f min) through the ingest",
             win.hours, ", ".join(BACKFILL_KINDS), len(devices), step_s / 60.0)
    client = make_client(mqtt_url, f"ioc-sim-backfill-{int(time.time() * 1000) % 10**8}", name="backfill")
    connect(client)
    sent = 0
    try:
        births = [client.publish(status_topic(d.kind, d.id), birth_payload(d), qos=1, retain=True) for d in devices]
        for info in births:  # the ingest knows every device before its first reading
            while not info.is_published() and not (stop and stop.is_set()):
                time.sleep(0.01)
        for topic, payload in [telemetry(d, win.end_s) for d in devices]:  # their latest: now
            client.publish(topic, payload, qos=1)
        total = (len(times) - 1) * len(devices) + len(step_messages(devices, times[-1], step_s, win.end_s))
        bar = ProgressBar(total, f"backfill {win.hours:.0f} h", out)
        started = time.monotonic()
        last = None
        for i, t in enumerate(times):
            if stop is not None and stop.is_set():
                break
            due = started + i / pace
            while time.monotonic() < due:
                time.sleep(min(0.05, due - time.monotonic()))
            qos = 1 if i == len(times) - 1 else 0  # the last step acknowledged: everything before it is out
            messages = step_messages(devices, t, step_s, win.end_s)
            for topic, payload in messages:
                last = client.publish(topic, payload, qos=qos)
            sent += len(messages)
            bar.update(sent)
            while _backlog(client) > 20_000:
                time.sleep(0.01)
        deadline = time.monotonic() + 30
        while last is not None and not last.is_published() and time.monotonic() < deadline:
            time.sleep(0.01)
        log.info("backfill: %d past readings published in %.1f s", sent, time.monotonic() - started)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent
