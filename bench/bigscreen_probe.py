"""A simulated big-screen wall, run as its own process: `python -m bench.bigscreen_probe '<spec JSON>'`.

It repeats what the big screen's `refresh` callback (callbacks/bigscreen.py) computes on each
tick — the per-process `CityCache` snapshot (as the web process reads it) plus every view function whose output the callback returns (KPIs, district
hideout, alarm board, alarms GeoJSON, offline ids, unit grid, ticker) — without Dash and HTTP.
Like the page, it waits the interval (2 s) after a tick finishes before the next one (the page
pauses its timer while a refresh runs). For every alarm that appears in the tick's alarms
GeoJSON (`map-alarms` data) it prints `{"seen": [[alarm id, raised_at, tick end ms], …]}`;
`raised_at` is the ts of the reading that raised it, which the publisher set to its publish
time, so tick end − raised_at is publish → visible in the big screen's data.
"""

from __future__ import annotations

import json
import signal
import sys
import time


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    from ioc.adapters.city_snapshot import CityCache
    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis
    from ioc.adapters.snapshot_store import SnapshotStore
    from ioc.settings import Settings
    from ioc.views.bigscreen import (alarm_board, alarms_geojson, district_hideout, district_values, escalated_count,
                                     grid_values, kpi_texts, kpis, popup_alarm, ticker, water_alert)

    settings = Settings.from_env()
    client = connect_redis(spec["redis_url"])
    city = load_city_map(settings.geodata_dir)
    policy = settings.escalation_policy()
    snapshots = SnapshotStore(client, settings.redis_shards)
    cache = CityCache(lambda: client, settings.redis_shards)
    interval = float(spec.get("interval", 2.0))
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    known: set = set()
    print(json.dumps({"event": "ready"}), flush=True)
    while not stop["now"]:
        t0 = time.time()
        now_ms = int(t0 * 1000)
        snapshot = cache.snapshot(now_ms)
        events = snapshots.alarm_events(8)
        figures = kpis(snapshot, "zh")
        kpi_texts(figures, "zh")
        escalated_count(snapshot.alarms, now_ms, policy)
        water_alert(figures)
        district_hideout(district_values(snapshot, "alarms"), "alarms")
        alarm_devices = snapshot.fleet.of_alarms(snapshot.alarms)
        alarm_board(snapshot.alarms, alarm_devices, city, now_ms, policy, "zh")
        popup_alarm(snapshot.alarms, [])
        geo = alarms_geojson(snapshot.alarms, alarm_devices, "zh")
        grid_values(snapshot.alarms, alarm_devices)
        ticker(events, city, "zh")
        t1 = time.time()
        raised = {a["id"]: a.get("raised_at", 0) for a in snapshot.alarms}
        fresh = []
        for feature in geo["features"]:
            key = (feature["properties"]["id"], raised.get(feature["properties"]["id"], 0))
            if key not in known:
                known.add(key)
                fresh.append([key[0], key[1], int(t1 * 1000)])
        print(json.dumps({"tick_ms": round((t1 - t0) * 1000, 1), "devices": len(snapshot.devices),
                          "alarms": len(snapshot.alarms), "seen": fresh}), flush=True)
        end = time.time() + interval
        while not stop["now"] and time.time() < end:
            time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
