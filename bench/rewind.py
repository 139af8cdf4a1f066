"""Scenario `rewind` (回溯): a frame of the wall for any moment of 30 days of record.

A private PostgreSQL (the embedded one) is filled by `bench.recordseed` (50,000 devices, 1 M
cases, 30 days of minute rollups; quick: 5,000 / 100,000 / 3 days), then:
- frame: `Rewind.snapshot_at(t)` + the wall's frame made from it (`callbacks.bigscreen.frame`:
  KPI texts, district colours, alarm board and layer, ticker), for random moments never asked
  before (no cache): p50 and p95 against the target (≤ 300 ms server time);
- baseline (same run): the same SQL a frame runs, by a bare psycopg loop (rows fetched, nothing
  made of them): what the database alone costs;
- playback at 3600×: one moment a second (each an hour after the last) with the next frames made
  ahead (`Rewind.prefetch`), as the page asks for them: the time a viewer waits per step.
"""

from __future__ import annotations

import random
import time

from bench.model import Measurement, ScenarioResult, Series, at_most

TARGET_MS = 300.0


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(ctx) -> ScenarioResult:
    from ioc.adapters.embedded import postgres_server
    from ioc.adapters.geodata_files import load_city_map
    from ioc.record import db
    from ioc.record.migrate import upgrade
    from ioc.record.rewind import TALLY_MS, Rewind, ts
    from ioc.web.services import Services

    from bench.recordseed import seed
    from callbacks.bigscreen import frame

    days, devices, cases = (3, 5_000, 100_000) if ctx.quick else (30, ctx.fleet_size(), 1_000_000)
    data_dir = ctx.work_dir / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    server = postgres_server(data_dir / "data", durable=False).start()
    result = ScenarioResult()
    try:
        upgrade(server.url)
        settings = ctx.settings(database_url=server.url)
        city = load_city_map(settings.geodata_dir)
        ctx.progress(f"rewind: seeding the record ({days} days, {devices:,} devices, {cases:,} cases)")
        rows = seed(server.url, days, devices, cases, districts=[d.id for d in city.districts],
                    bounds=city.bounds, progress=ctx.progress)
        seeded = sum(v for k, v in rows.items() if k not in ("seconds", "start_ms", "end_ms"))
        ctx.progress(f"rewind: {seeded:,} rows in {rows['seconds']:.0f} s")
        result.measurements.append(Measurement("rewind", "record seeded (COPY)", seeded / max(rows["seconds"], 0.001), "rows/s",
                                               detail={k: v for k, v in rows.items()}))
        services = Services.from_settings(settings)
        rewind = services.rewind
        start, end = rows["start_ms"], rows["end_ms"]
        began = time.perf_counter()
        rewind.snapshot_at(end - 60_000)  # the registry's history, loaded once per process
        cold_ms = 1000 * (time.perf_counter() - began)
        result.measurements.append(Measurement("rewind", "first frame of a process (registry history loaded)", cold_ms, "ms"))

        rnd = random.Random(1)
        moments = [rnd.randrange(start + 60_000, end) // 1000 * 1000 for _ in range(ctx.scaled(200, 60))]
        frames, parts, sizes = [], {"snapshot": [], "frame": []}, []
        for at in moments:
            t0 = time.perf_counter()
            snapshot = rewind.snapshot_at(at)
            t1 = time.perf_counter()
            frame(services, snapshot, "zh", "alarms", True, True)
            t2 = time.perf_counter()
            frames.append(1000 * (t2 - t0))
            parts["snapshot"].append(1000 * (t1 - t0))
            parts["frame"].append(1000 * (t2 - t1))
            sizes.append((len(snapshot.devices), len(snapshot.alarms), sum(n[0] for n in (snapshot.case_counts or {}).values())))
        detail = {"moments": len(moments), "p50_ms": round(_pct(frames, 0.5), 1), "max_ms": round(max(frames), 1),
                  "snapshot_p95_ms": round(_pct(parts["snapshot"], 0.95), 1), "render_p95_ms": round(_pct(parts["frame"], 0.95), 1),
                  "devices": max(s[0] for s in sizes), "alarms_max": max(s[1] for s in sizes),
                  "open_cases_max": max(s[2] for s in sizes), "open_cases_median": sorted(s[2] for s in sizes)[len(sizes) // 2]}
        p95 = _pct(frames, 0.95)
        result.measurements.append(Measurement("rewind", "frame of any moment p50", _pct(frames, 0.5), "ms", detail=detail))
        result.measurements.append(Measurement("rewind", "frame of any moment p95", p95, "ms", f"≤ {TARGET_MS:.0f} ms",
                                               at_most(p95, TARGET_MS), detail=detail))
        ctx.progress(f"rewind: frame p50 {_pct(frames, 0.5):.0f} ms, p95 {p95:.0f} ms ({detail})")

        # baseline: the same queries, rows fetched by a bare psycopg loop
        base, rows_read = [], []
        with db.connect(server.url) as conn:
            for at in moments[: len(moments) // 2]:
                when = ts(at + 500)
                t0 = time.perf_counter()
                conn.execute("SELECT data, acknowledged_at, acknowledged_by FROM alarms WHERE tstzrange(raised_at, cleared_at) @> %s::timestamptz",
                             (when,)).fetchall()
                conn.execute("SELECT minute, district, kind, attribute, s, n, x FROM rollup_minute WHERE minute >= %s AND minute <= %s",
                             (ts(at - 120_000), when)).fetchall()
                bucket = ts(at - at % TALLY_MS)
                conn.execute("SELECT district, sum(open), sum(overdue), sum(today) FROM case_tally WHERE bucket <= %s GROUP BY district",
                             (bucket,)).fetchall()
                conn.execute("SELECT case_id, version, district, extract(epoch FROM valid_from), extract(epoch FROM valid_to), stage_deadline, created_at"
                             " FROM case_spans"
                             " WHERE open AND ((valid_from > %(b)s AND valid_from <= %(t)s) OR (valid_to > %(b)s AND valid_to <= %(t)s)"
                             " OR (stage_deadline >= %(b)s AND stage_deadline < %(t)s))", {"b": bucket, "t": when}).fetchall()
                conn.execute("SELECT stream_id, event, data FROM alarm_events WHERE event <> 'notified' AND at <= %s ORDER BY at DESC LIMIT 24",
                             (when,)).fetchall()
                base.append(1000 * (time.perf_counter() - t0))
                t1 = time.perf_counter()  # what the frame read before the tally: every open case of the moment
                conn.execute("SELECT case_id, version, stage, district, class_code, lon, lat, urgent, created_at, stage_deadline FROM case_spans"
                             " WHERE open AND tstzrange(valid_from, valid_to) @> %s::timestamptz", (when,)).fetchall()
                rows_read.append(1000 * (time.perf_counter() - t1))
        result.measurements.append(Measurement("rewind", "baseline: the frame's SQL by a bare psycopg loop p95", _pct(base, 0.95), "ms",
                                               detail={"p50_ms": round(_pct(base, 0.5), 1),
                                                                       "open_case_rows_read_p50_ms": round(_pct(rows_read, 0.5), 1),
                                                                       "open_case_rows_read_p95_ms": round(_pct(rows_read, 0.95), 1)}))
        ctx.progress(f"rewind: baseline p50 {_pct(base, 0.5):.0f} ms, p95 {_pct(base, 0.95):.0f} ms; every open case read"
                     f" p50 {_pct(rows_read, 0.5):.0f} ms, p95 {_pct(rows_read, 0.95):.0f} ms")

        # playback at 3600×: a step a second, the next ones made ahead
        speed, steps = 3600, ctx.scaled(40, 15)
        t0_moment = start + rnd.randrange(0, max(1, end - start - steps * speed * 1000))
        play = {"speed": speed, "t0": t0_moment, "w0": 0, "last": end}
        from ioc.views.rewind import next_moments
        waits = []
        for k in range(steps):
            at = t0_moment + k * speed * 1000
            tick = time.perf_counter()
            snapshot = rewind.snapshot_at(at)
            rewind.prefetch(next_moments(play, at))
            rewind.derived(snapshot, ("bigscreen", "zh", "alarms", (True, True)), lambda s: frame(services, s, "zh", "alarms", True, True))
            waits.append(1000 * (time.perf_counter() - tick))
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - tick)))
        result.measurements.append(Measurement("rewind", "playback 3600×: wait per step p95", _pct(waits, 0.95), "ms",
                                               f"≤ {TARGET_MS:.0f} ms", at_most(_pct(waits, 0.95), TARGET_MS),
                                               detail={"steps": steps, "p50_ms": round(_pct(waits, 0.5), 1)}))
        result.series.append(Series("rewind", "frame of a random moment", list(range(len(frames))), frames, "moment", "ms", kind="line"))
        services.redis.close()
    finally:
        db.close_pools()
        server.stop()
    return result
