"""Scenario `recorder`: the recorder (`python -m ioc recorder`) keeping the record (PostgreSQL)
while the ingest takes 20,000 msg/s.

A private PostgreSQL (the embedded one, durable as in production: fsync on) gets the schema
(`ioc.record.migrate.upgrade`); the bench's Redis holds the seeded city (`bench.views.seeded`).
The recorder first catches up with what the streams already hold (the seeded cases' record
entries, the telemetry's readings; reported as the catch-up rate over at most `CATCH_UP_S`
seconds — at full scale the seeded 180,000 cases are ~1.1 M record entries, ~11 minutes; what
is left then is trimmed from the streams, counted lost by the recorder, and the harness waits
until the recorder is caught up), then the paced publisher
feeds the ingest worker `OFFERED_LOAD` msg/s (quick: `QUICK_LOAD`), and once the ingest runs at
that rate a window of `WINDOW_S` seconds is measured:
- rows/s the recorder commits, sustained (least-squares slope of its `recorder:rows:<table>`
  counters over the window), raw readings and all tables together; the ingest's own rate beside;
- its lag every half second, per stream, measured from outside: the age of the oldest entry
  of the stream not yet recorded (the group's smallest pending id, else the first entry after the
  last one delivered) — the same definition as `ioc_recorder_lag_seconds`; p50, p99 and max of the
  largest stream lag of each sample, against the target (p99 ≤ 2 s);
- PostgreSQL's size per day at that rate: the database's growth over the window, scaled to a day
  (the raw readings are kept `IOC_RECORD_RAW_HOURS`, so the steady size is bounded: the detail
  gives each family's share);
- CPU of the recorder, the PostgreSQL server and the ingest, and per 1,000 rows;
- baseline (same run): the same raw-reading rows, read back from the record, COPY'd in batches
  of `IOC_RECORD_BATCH` rows (one transaction each) into a copy of the readings table by a bare
  psycopg loop: what PostgreSQL alone takes for the plainest part of the work. The ratio of the
  recorder's cost per reading to it says what the rest costs (parsing the streams, the rollups'
  and hourly upserts, the offsets and acknowledgements).
"""

from __future__ import annotations

import dataclasses
import time

from bench.model import Measurement, ScenarioResult, Series, at_most

SCENARIO = "recorder"
TARGET_LAG_S = 2.0
WINDOW_S, QUICK_WINDOW_S = 120.0, 30.0
SAMPLE_EVERY_S = 0.5
CATCH_UP_S, QUICK_CATCH_UP_S = 180.0, 600.0  # the first catch-up is measured this long at most; the rest is dropped
SETTLE_LIMIT_S = 300.0  # after the drop, the recorder must catch up within this
BASELINE_ROWS, QUICK_BASELINE_ROWS = 200_000, 30_000


# --- lag, from outside the recorder ----------------------------------------------------------------

def _ms(stream_id) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
    return int(text.split("-", 1)[0])


def oldest_unrecorded_ms(client, key: str, group: str) -> int | None:
    """The time (epoch ms, from its id) of the oldest entry of stream `key` the consumer group
    `group` has not recorded yet: its smallest pending entry, else the first entry after the
    last one delivered (the stream's first entry while the group does not exist yet); None when
    every entry is recorded or the stream does not exist."""
    if not client.exists(key):
        return None
    delivered = "0-0"
    for info in client.xinfo_groups(key):
        name = info.get("name")
        if (name.decode() if isinstance(name, bytes) else name) == group:
            last = info.get("last-delivered-id")
            delivered = last.decode() if isinstance(last, bytes) else str(last)
            pending = client.xpending(key, group)
            if pending and pending.get("pending"):
                return _ms(pending["min"])
    after = client.xrange(key, min=f"({delivered}", max="+", count=1)
    return _ms(after[0][0]) if after else None


def lags(client, keys: list[str], group: str, now_ms: int) -> dict[str, float]:
    """Seconds per stream: the age of its oldest entry not yet recorded (0 when caught up)."""
    out = {}
    for key in keys:
        oldest = oldest_unrecorded_ms(client, key, group)
        out[key] = max(0.0, (now_ms - oldest) / 1000.0) if oldest is not None else 0.0
    return out


@dataclasses.dataclass
class Sample:
    t: float  # time.monotonic()
    lag: dict  # stream -> seconds
    rows: dict  # table -> rows recorded so far (the recorder's counters)
    accepted: int  # the ingest's messages:accepted


class Sampler:
    """A `Sample` every `every` seconds in a thread (`bench.uploads.CounterSampler` keeping whole samples)."""

    def __init__(self, client, keys: list[str], group: str, every: float = SAMPLE_EVERY_S):
        from bench.uploads import CounterSampler

        self.client, self.keys, self.group = client, keys, group
        self._thread = CounterSampler(self.take, every, keep=lambda sample: sample)

    @property
    def samples(self) -> list[Sample]:
        return [sample for _t, sample in self._thread.samples]

    def take(self) -> Sample:
        from ioc.adapters import redis_keys as keys

        metrics = self.client.hgetall(keys.METRICS)
        rows = {}
        for k, v in metrics.items():
            k = k.decode() if isinstance(k, bytes) else k
            if k.startswith("recorder:rows:"):
                rows[k.rpartition(":")[2]] = int(v)
        accepted = int(metrics.get(b"messages:accepted", metrics.get("messages:accepted", 0)) or 0)
        return Sample(time.monotonic(), lags(self.client, self.keys, self.group, int(time.time() * 1000)), rows, accepted)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()

    def between(self, t0: float, t1: float) -> list[Sample]:
        return [s for s in self.samples if t0 <= s.t <= t1]


def worst_lag(sample: Sample) -> float:
    return max(sample.lag.values(), default=0.0)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# --- PostgreSQL ------------------------------------------------------------------------------------

def database_size(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def family_sizes(url: str) -> dict[str, int]:
    """Bytes per partitioned table (all its partitions, indexes included) and per plain table."""
    import psycopg

    sql = """
        SELECT coalesce(parent.relname, c.relname) AS family, sum(pg_total_relation_size(c.oid))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class parent ON parent.oid = i.inhparent
        WHERE n.nspname = 'public' AND c.relkind = 'r'
        GROUP BY 1 ORDER BY 2 DESC"""
    with psycopg.connect(url) as conn:
        return {name: int(size) for name, size in conn.execute(sql).fetchall()}


def readings_bytes_per_row(url: str) -> float:
    """On-disk bytes (table, TOAST and indexes) per raw-reading row."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        size = family_sizes(url).get("readings", 0)
    return size / rows if rows else float("nan")


def copy_baseline(url: str, rows: int, batch: int) -> dict:
    """Raw-reading rows read back from the record, COPY'd by a bare psycopg loop in transactions of
    `batch` rows into a copy of the readings table: {"rows", "seconds", "rows_s"}."""
    import psycopg

    with psycopg.connect(url) as conn:
        sample = conn.execute("SELECT at, device_id, kind, stream_id, idx, \"values\"::text FROM readings LIMIT %s",
                              (rows,)).fetchall()
        conn.execute("DROP TABLE IF EXISTS bench_copy_baseline")
        conn.execute("CREATE TABLE bench_copy_baseline (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)")
        conn.commit()
        began = time.perf_counter()
        for i in range(0, len(sample), batch):
            with conn.cursor() as cur:
                with cur.copy('COPY bench_copy_baseline (at, device_id, kind, stream_id, idx, "values") FROM STDIN') as copy:
                    for row in sample[i:i + batch]:
                        copy.write_row(row)
            conn.commit()
        seconds = time.perf_counter() - began
        conn.execute("DROP TABLE bench_copy_baseline")
        conn.commit()
    return {"rows": len(sample), "seconds": round(seconds, 2), "rows_s": len(sample) / seconds if seconds > 0 else float("nan")}


# --- the run ---------------------------------------------------------------------------------------

def _slope(points: list[tuple[float, float]]) -> float:
    from bench.uploads import slope

    return slope(points, points[0][0], points[-1][0]) if points else float("nan")


def _row(name: str, value: float, unit: str, target: str = "", passed=None, **detail) -> Measurement:
    digits = 3 if unit in ("s", "ratio") else 1
    return Measurement(SCENARIO, name, round(value, digits) if value == value else value, unit, target, passed, detail)


def wait_caught_up(sampler: Sampler, limit_s: float, progress) -> tuple[bool, float, dict]:
    """Wait until every stream's lag is under the target (three samples in a row) or `limit_s`
    passed; (caught up, seconds it took, rows recorded meanwhile per table)."""
    began = time.monotonic()
    first = sampler.take()
    calm, last_print, s = 0, began, first
    while time.monotonic() - began < limit_s:
        s = sampler.take()
        calm = calm + 1 if worst_lag(s) < TARGET_LAG_S else 0
        if calm >= 3:
            break
        if time.monotonic() - last_print >= 15:
            last_print = time.monotonic()
            progress(f"  recorder: catching up, largest lag {worst_lag(s):,.0f} s, {sum(s.rows.values()):,} rows so far")
        time.sleep(SAMPLE_EVERY_S)
    return calm >= 3, time.monotonic() - began, {t: s.rows.get(t, 0) - first.rows.get(t, 0) for t in s.rows}


def drop_backlog(client, sample: Sample) -> dict[str, int]:
    """Trim every stream still behind (the seeded city's backlog the harness does not wait for);
    the recorder counts what it never read as lost (`recorder:lost:<stream>`). {stream: entries dropped}."""
    dropped = {}
    for key, lag in sample.lag.items():
        if lag >= TARGET_LAG_S:
            dropped[key] = int(client.xtrim(key, maxlen=0, approximate=False))
    return dropped


def run(ctx) -> ScenarioResult:
    from ioc.adapters.embedded import postgres_server
    from ioc.adapters.redis_client import connect_redis
    from ioc.record import recorder as product
    from ioc.record.migrate import upgrade

    from bench import views
    from bench.cpuwindow import CpuWindow
    from bench.seed import Scale
    from bench.uploads import CounterSampler, settle

    result = ScenarioResult()
    data_dir = ctx.work_dir / "postgres-recorder"
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    server = postgres_server(data_dir / "data", durable=True).start()
    processes, load = [], views.Load()
    sampler = None
    try:
        upgrade(server.url)
        rctx = dataclasses.replace(ctx, env_overrides={**ctx.env_overrides, "DATABASE_URL": server.url})
        settings = rctx.settings()
        seeded = views.seeded(rctx)
        client = connect_redis(ctx.redis_url)
        stream_keys = [key for key, _family in product.streams(settings)]
        sampler = Sampler(client, stream_keys, product.GROUP)
        recorder = views.start(rctx, "recorder", ["-m", "ioc", "recorder"])
        processes.append(recorder)
        postgres = views.Process("postgres", server.proc, data_dir / "postgres.log")
        done, caught_s, caught_rows = wait_caught_up(sampler, ctx.scaled(CATCH_UP_S, QUICK_CATCH_UP_S), ctx.progress)
        caught = sum(caught_rows.values())
        dropped = {} if done else drop_backlog(client, sampler.take())
        result.measurements.append(_row("first catch-up (what the streams held)", caught / max(caught_s, 0.001), "rows/s",
                                        seconds=round(caught_s, 1), rows=caught_rows, seeded=seeded, caught_up=done,
                                        backlog_dropped_entries=dropped))
        if dropped:
            ctx.progress(f"  recorder: {caught:,} rows in {caught_s:.0f} s; the rest of the backlog dropped: {dropped}")
            done, _s, _rows = wait_caught_up(sampler, SETTLE_LIMIT_S, ctx.progress)
            if not done:
                raise RuntimeError(f"the recorder did not catch up within {SETTLE_LIMIT_S:.0f} s after the backlog was dropped")
        ctx.progress(f"  recorder: caught up in {caught_s:.0f} s ({caught:,} rows)")

        rate = views.QUICK_LOAD if ctx.quick else views.OFFERED_LOAD
        load = views.start_load(rctx, Scale.of(ctx.quick).devices, rate)
        accepted = CounterSampler(lambda: views.accepted(rctx)).start()
        try:
            settle_s = settle(accepted, load.rate, 20.0 if ctx.quick else 90.0)
        finally:
            accepted.stop()
        sampler.start()
        window = QUICK_WINDOW_S if ctx.quick else WINDOW_S
        size0, t0 = database_size(server.url), time.monotonic()
        cpu = CpuWindow([recorder, postgres, *load.processes], ctx.server_pids).start()
        ctx.progress(f"  recorder: ingest at {load.rate:,.0f} msg/s offered (settled in {settle_s:.0f} s); measuring {window:.0f} s")
        time.sleep(window)
        t1 = time.monotonic()
        cpu_pct = cpu.stop()
        size1 = database_size(server.url)
        sampler.stop()
        load.stop()
        samples = sampler.between(t0, t1)
        if len(samples) < 3:
            raise RuntimeError("too few samples of the recorder's lag and rows")

        def rate_of(pick) -> float:
            return _slope([(s.t, pick(s)) for s in samples])

        readings_s = rate_of(lambda s: s.rows.get("readings", 0))
        rows_s = rate_of(lambda s: sum(s.rows.values()))
        ingest_s = rate_of(lambda s: s.accepted)
        per_table = {t: round(rate_of(lambda s, t=t: s.rows.get(t, 0))) for t in samples[-1].rows}
        worst = [worst_lag(s) for s in samples]
        by_stream = {k: round(pct([s.lag.get(k, 0.0) for s in samples], 0.99), 2) for k in stream_keys}
        p99 = pct(worst, 0.99)
        seconds = samples[-1].t - samples[0].t
        rows_done = sum(samples[-1].rows.values()) - sum(samples[0].rows.values())
        common = {"offered_msg_s": load.rate, "ingest_msg_s": round(ingest_s), "window_s": round(seconds, 1), "settle_s": round(settle_s, 1),
                  "samples": len(samples), "every_s": SAMPLE_EVERY_S}
        result.measurements += [
            _row("readings recorded, sustained", readings_s, "rows/s", f"≥ the ingest's rate ({ingest_s:,.0f} msg/s)",
                 readings_s >= 0.98 * ingest_s if ingest_s == ingest_s else None, **common,
                 readings_per_message=round(readings_s / ingest_s, 3) if ingest_s else None),
            _row("all rows recorded, sustained", rows_s, "rows/s", per_table=per_table, **common),
            _row("lag p50 (largest stream)", pct(worst, 0.5), "s", **common),
            _row("lag p99 (largest stream)", p99, "s", f"≤ {TARGET_LAG_S:g} s", at_most(p99, TARGET_LAG_S), p99_per_stream=by_stream, **common),
            _row("lag max (largest stream)", max(worst), "s", **common),
        ]
        growth = max(0, size1 - size0) / max(t1 - t0, 0.001)
        families = family_sizes(server.url)
        raw_hours = settings.record_raw_hours
        raw_row = readings_bytes_per_row(server.url)
        raw_per_hour = raw_row * readings_s * 3600
        result.measurements.append(_row("PostgreSQL growth per day at this rate", growth * 86_400 / 1e9, "GB/day",
                                        grew_bytes=size1 - size0, seconds=round(t1 - t0, 1), size_now_bytes=size1,
                                        family_bytes=families, raw_readings_kept_hours=raw_hours,
                                        note="raw readings are dropped after IOC_RECORD_RAW_HOURS: they bound the steady size; "
                                             "the hourly and minute aggregates grow with the fleet and the hours, not the message rate"))
        result.measurements.append(_row("raw readings per hour kept at this rate", raw_per_hour / 1e9, "GB/h",
                                        bytes_per_row=round(raw_row), readings_s=round(readings_s), kept_hours=raw_hours,
                                        steady_gb=round(raw_per_hour * raw_hours / 1e9, 1)))
        for name in ("recorder", "postgres", "ingest"):
            if name in cpu_pct:
                result.measurements.append(_row(f"CPU {name}", cpu_pct[name], "%", of="one core"))
        spent = cpu_pct.get("recorder", 0.0) + cpu_pct.get("postgres", 0.0)
        per_1000 = spent / 100 * 1000 / max(readings_s, 1e-9) * 1000  # CPU ms per 1,000 readings recorded
        ctx.progress(f"  recorder: {readings_s:,.0f} readings/s, {rows_s:,.0f} rows/s (ingest {ingest_s:,.0f} msg/s); lag p50 "
                     f"{pct(worst, 0.5):.2f} s, p99 {p99:.2f} s, max {max(worst):.2f} s; {growth * 86_400 / 1e9:.1f} GB/day; CPU % {cpu_pct}")

        base = copy_baseline(server.url, ctx.scaled(BASELINE_ROWS, QUICK_BASELINE_ROWS), settings.record_batch)
        base_per_1000 = 1000 * 1000 / base["rows_s"]
        result.measurements += [
            _row("recorder + PostgreSQL CPU per 1,000 readings", per_1000, "ms", cpu_pct=spent, readings_s=round(readings_s),
                 rows_per_reading=round(rows_s / readings_s, 2) if readings_s else None,
                 capacity_readings_s=round(1000 * 1000 / per_1000) if per_1000 else None,
                 note="capacity: the readings per second one core of recorder + PostgreSQL would record at this cost"),
            _row("baseline: the same readings COPY'd by a bare psycopg loop", base["rows_s"], "rows/s", batch=settings.record_batch,
                 ms_per_1000=round(base_per_1000, 2), **{k: v for k, v in base.items() if k != "rows_s"}),
            _row("ratio to baseline (cost per reading / bare COPY's)", per_1000 / base_per_1000, "ratio",
                 baseline_ms_per_1000=round(base_per_1000, 2)),
        ]
        ctx.progress(f"  recorder: {per_1000:.1f} ms CPU per 1,000 readings; baseline COPY {base['rows_s']:,.0f} rows/s "
                     f"({base_per_1000:.1f} ms per 1,000; {base['rows']:,} rows in {base['seconds']} s)")
        zero = samples[0].t
        result.series.append(Series("recorder", "largest stream lag", [round(s.t - zero, 1) for s in samples], [round(w, 2) for w in worst],
                                    "seconds into the window", "lag (s)"))
    finally:
        if sampler is not None:
            sampler.stop()
        load.stop()
        for p in processes:
            p.stop()
        server.stop()
    return result
