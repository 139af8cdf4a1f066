"""The demo city's fleet, flattened once per run into what the publisher needs.

`build_fleet` (simulators/fleet.py) takes ~8 s for 50,000 devices, so the harness builds it
once, turns every device into a compact template (topic, birth payload, telemetry values as
JSON) and pickles that into the work dir; publisher processes load the pickle in well under a
second. Telemetry values come from the simulators' own reading functions (simulators/patterns.py)
at build time, so the payloads have the sizes, attributes and types of the real simulator's.
"""

from __future__ import annotations

import pickle
import random
import time
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True, slots=True)
class DeviceTemplate:
    id: str
    kind: str
    iso_ts: bool  # sends `ts` as ISO 8601 with +08:00 (10 % of the demo fleet does)
    topic: str  # telemetry topic
    status_topic: str
    birth: bytes  # status payload {"state":"online","lat","lon","name"}
    values: bytes  # telemetry attributes as a JSON object, without `ts`


@dataclass
class FleetData:
    devices: list[DeviceTemplate]
    order: list[int]  # publishing order (a fixed shuffle, so kinds and shards interleave)

    def by_kind(self, kind: str) -> list[int]:
        return [i for i, d in enumerate(self.devices) if d.kind == kind]


def build(n: int, seed: int = 20260101) -> FleetData:
    from ioc.adapters.geodata_files import load_city_map
    from simulators.fleet import build_fleet
    from simulators.patterns import READINGS
    from simulators.wire import birth_payload, status_topic

    city = load_city_map()
    fleet = build_fleet(city, n, seed)
    now = time.time()
    devices = [
        DeviceTemplate(
            d.id, d.kind, bool(d.iso_ts), f"ioc/v1/{d.kind}/{d.id}/telemetry", status_topic(d.kind, d.id),
            birth_payload(d), orjson.dumps(READINGS[d.kind](d, now)),
        )
        for d in fleet.devices
    ]
    order = list(range(len(devices)))
    random.Random(seed).shuffle(order)
    return FleetData(devices, order)


def load(work_dir: Path, n: int) -> tuple[FleetData, Path]:
    """The fleet of `n` field devices (plus the 48 platform systems), cached in `work_dir`."""
    path = Path(work_dir) / f"fleet-{n}.pickle"
    if path.exists():
        with path.open("rb") as fh:
            return pickle.load(fh), path
    data = build(n)
    with path.open("wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return data, path


def read(path: Path) -> FleetData:
    with Path(path).open("rb") as fh:
        return pickle.load(fh)
