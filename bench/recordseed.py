"""A record at the bench's scale, COPYed straight into the tables (no Redis, no recorder): what the
`rewind` scenario reads. `python -m bench.recordseed DATABASE_URL [--days 30] [--devices 50000] [--cases 1000000]`.

What it writes, for `days` ending now (China's districts of the demo city, seeded randomness):
- devices: `devices` rows, all born a day before the range, a few hundred born inside it; 5 % of
  them go offline once a day for 5–120 minutes (device_events: birth, offline, online);
- alarms: about 200 raised an hour, cleared after ~40 min (exponential), 70 % acknowledged first
  (alarms + their alarm_events: raised, acknowledged, cleared);
- rollup_minute: every minute, every district, the kinds and attributes the wall reads (22 rows);
- device_hourly: the water gauges' hourly waterLevel (the only hourly rows a frame reads; the
  other devices' hourly rows are not written: they are not read by a frame);
- cases: `cases` over the range, each reported, dispatched (with a stage deadline, some missed),
  handled and closed after ~3 days (exponential; the newest are still open): cases (latest),
  case_versions (compact data) and case_spans (what migration 0002's trigger makes of the
  versions: written directly, the trigger disabled for the load).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import time
from datetime import datetime, timedelta, timezone

from ioc.record import db

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
KINDS = (("air_quality", 0.30), ("traffic", 0.15), ("crowd", 0.05), ("water_level", 0.01), ("streetlight", 0.40),
         ("platform", 0.001), ("noise", 0.089))
ROLLUP_ROWS = (  # (kind, attribute, numeric mean, spread): None mean = an enum count row
    ("air_quality", "airQualityIndex", 70, 40), ("air_quality", "pm25", 40, 25), ("air_quality", "pm10", 60, 30),
    ("air_quality", "no2", 30, 10), ("air_quality", "so2", 10, 5), ("air_quality", "o3", 80, 30), ("air_quality", "_", None, 0),
    ("traffic", "averageVehicleSpeed", 38, 12), ("traffic", "_", None, 0), ("crowd", "peopleCount", 300, 200), ("crowd", "_", None, 0),
    ("water_level", "waterLevel", 2.6, 0.6), ("water_level", "_", None, 0), ("streetlight", "powerState=on", None, 0),
    ("streetlight", "powerState=off", None, 0), ("streetlight", "_", None, 0), ("platform", "calls", 500, 100),
    ("platform", "errors", 3, 2), ("platform", "interfacesUp", 18, 1), ("platform", "interfacesTotal", 20, 0),
    ("platform", "_", None, 0), ("noise", "_", None, 0),
)
RULES = (("air_quality", "aqi_high", "major", "airQualityIndex", 180, 150), ("traffic", "congestion", "minor", "averageVehicleSpeed", 8, 10),
         ("water_level", "water_level_warning", "critical", "waterLevel", 4.2, 4.0), ("streetlight", "streetlight_fault", "minor", "powerState", "fault", "fault"),
         ("noise", "noise_high", "minor", "noise", 80, 70))
TABLES_MONTHLY = ("alarm_events", "device_events", "rollup_minute", "device_hourly", "case_versions", "case_timeline", "event_versions")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


def _esc(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return str(value)


class Copier:
    """COPY ... FROM STDIN in text format, written in chunks, on a connection of its own (a
    connection holds one COPY at a time; several tables are written side by side), committed at
    `close`."""

    def __init__(self, url: str, table: str, columns: tuple[str, ...], chunk: int = 20_000):
        self.conn = db.connect(url)
        self.conn.execute("SET synchronous_commit = off")
        self.copy_cm = self.conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")
        self.copy = self.copy_cm.__enter__()
        self.buf: list[str] = []
        self.chunk = chunk
        self.rows = 0

    def row(self, *values) -> None:
        self.buf.append("\t".join(_esc(v) for v in values))
        if len(self.buf) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.copy.write("\n".join(self.buf) + "\n")
            self.rows += len(self.buf)
            self.buf = []

    def close(self) -> int:
        self.flush()
        self.copy_cm.__exit__(None, None, None)
        self.conn.commit()
        self.conn.close()
        return self.rows


def partitions(conn, start_ms: int, end_ms: int) -> None:
    month = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month.timestamp() * 1000 <= end_ms:
        for table in TABLES_MONTHLY:
            conn.execute("SELECT ioc_ensure_partition(%s, %s, 'month')", (table, month))
        month = (month + timedelta(days=32)).replace(day=1)


def seed(url: str, days: int = 30, devices: int = 50_000, cases: int = 1_000_000, end_ms: int | None = None,
         districts: list[str] | None = None, bounds=(120.36, 31.72, 120.88, 32.04), progress=print, seed_value: int = 17) -> dict:
    """Fill the (empty, migrated) record at `url`; returns {table: rows} and the time taken."""
    rnd = random.Random(seed_value)
    end_ms = end_ms or int(time.time() * 1000) // MIN * MIN
    start_ms = end_ms - days * DAY
    districts = districts or [f"d{i}" for i in range(10)]
    rows: dict[str, int] = {}
    began = time.monotonic()
    with db.connect(url, autocommit=False) as conn:
        partitions(conn, start_ms - 2 * DAY, end_ms)
        conn.commit()

        # --- devices and their history -------------------------------------------------------
        kinds = [k for k, _ in KINDS]
        weights = [w for _, w in KINDS]
        fleet = []
        for i in range(devices):
            kind = rnd.choices(kinds, weights)[0]
            district = districts[i % len(districts)]
            born = start_ms - DAY if i >= 500 else start_ms + rnd.randrange(days * DAY)
            fleet.append((f"{kind[:2]}-{i:06d}", kind, district, rnd.uniform(bounds[0], bounds[2]), rnd.uniform(bounds[1], bounds[3]), born))
        dev = Copier(url, "devices", ("id", "kind", "name", "district", "cell", "lon", "lat", "online", "first_seen", "updated_at", "meta"))
        events = Copier(url, "device_events", ("stream_id", "at", "device_id", "event", "online", "lon", "lat", "district", "meta"))
        for n, (dev_id, kind, district, lon, lat, born) in enumerate(fleet):
            meta = json.dumps({"kind": kind, "name": f"{district} {kind} {n}", "district": district, "lon": lon, "lat": lat})
            dev.row(dev_id, kind, f"{district} {kind} {n}", district, "", lon, lat, True, iso(born), iso(born), meta)
            events.row(f"{born}-{n}", iso(born), dev_id, "birth", True, lon, lat, district, meta)
            if n % 20 == 0:  # 5 % flap: offline once a day
                for day in range(days):
                    off = start_ms + day * DAY + rnd.randrange(DAY - 3 * HOUR)
                    if off <= born:
                        continue
                    back = off + rnd.randrange(5 * MIN, 120 * MIN)
                    events.row(f"{off}-{n}", iso(off), dev_id, "offline", False, None, None, district, "{}")
                    events.row(f"{back}-{n}", iso(back), dev_id, "online", True, None, None, district, "{}")
        rows["devices"] = dev.close()
        rows["device_events"] = events.close()
        conn.commit()
        progress(f"recordseed: {rows['devices']:,} devices, {rows['device_events']:,} device events")

        # --- alarms --------------------------------------------------------------------------
        by_kind: dict[str, list] = {}
        for d in fleet:
            by_kind.setdefault(d[1], []).append(d)
        alarms = Copier(url, "alarms", ("alarm_id", "raised_at", "cleared_at", "acknowledged_at", "acknowledged_by", "device_id", "kind",
                                         "rule", "severity", "district", "data"))
        alarm_events = Copier(url, "alarm_events", ("stream_id", "at", "event", "alarm_id", "device_id", "data"))
        count = days * 24 * 200
        for n in range(count):
            kind, rule, severity, attribute, value, threshold = RULES[n % len(RULES)]
            dev_id, _, district, _, _, born = rnd.choice(by_kind[kind])
            raised = start_ms + rnd.randrange(days * DAY)
            if raised < born:
                raised = born + MIN + n  # unique (alarm_id, raised_at)
            cleared = raised + int(rnd.expovariate(1 / (40 * MIN))) + MIN
            cleared = cleared if cleared < end_ms else None
            alarm_id = f"{dev_id}|{rule}"
            alarm = {"id": alarm_id, "device_id": dev_id, "kind": kind, "rule_id": rule, "severity": severity, "district": district,
                     "attribute": attribute, "value": value, "threshold": threshold, "raised_at": raised, "name_zh": rule, "name_en": rule}
            acked = raised + rnd.randrange(MIN, 10 * MIN) if rnd.random() < 0.7 else None
            if acked is not None and (cleared is not None and acked >= cleared or acked >= end_ms):
                acked = None
            data = dict(alarm)
            if acked is not None:
                data["ack"] = {"by": "op1", "role": "operator", "at_ms": acked}
            alarms.row(alarm_id, iso(raised), iso(cleared) if cleared else None, iso(acked) if acked else None, "op1" if acked else "",
                       dev_id, kind, rule, severity, district, json.dumps(data))
            alarm_events.row(f"{raised}-{n}", iso(raised), "raised", alarm_id, dev_id, json.dumps(alarm))
            if acked is not None:
                alarm_events.row(f"{acked}-{n}", iso(acked), "acknowledged", alarm_id, dev_id,
                                 json.dumps({**alarm, "by": "op1", "role": "operator", "acknowledged_at": acked}))
            if cleared is not None:
                alarm_events.row(f"{cleared}-{n}", iso(cleared), "cleared", alarm_id, dev_id, json.dumps({**alarm, "cleared_at": cleared}))
        rows["alarms"] = alarms.close()
        rows["alarm_events"] = alarm_events.close()
        conn.commit()
        progress(f"recordseed: {rows['alarms']:,} alarms, {rows['alarm_events']:,} alarm events")

        # --- telemetry: minute rollups, the gauges' hourly levels ----------------------------------
        roll = Copier(url, "rollup_minute", ("minute", "district", "kind", "attribute", "s", "n", "x"), chunk=50_000)
        for minute in range(start_ms, end_ms, MIN):
            at = iso(minute)
            daily = math.sin(2 * math.pi * ((minute % DAY) / DAY))
            for district in districts:
                for kind, attribute, mean, spread in ROLLUP_ROWS:
                    n = 4 + rnd.randrange(8)
                    if mean is None:
                        if attribute == "powerState=on":
                            n = 40 if daily < 0 else 2
                        roll.row(at, district, kind, attribute, None, n, None)
                    else:
                        v = max(0.0, mean + spread * (0.5 * daily + rnd.uniform(-0.5, 0.5)))
                        roll.row(at, district, kind, attribute, round(v * n, 3), n, round(v * 1.2, 3))
            if (minute - start_ms) % (5 * DAY) == 0 and minute > start_ms:
                progress(f"recordseed: rollups to day {(minute - start_ms) // DAY} ({roll.rows + len(roll.buf):,} rows)")
        rows["rollup_minute"] = roll.close()
        hourly = Copier(url, "device_hourly", ("hour", "device_id", "attribute", "n", "sum", "min", "max", "last", "last_text", "last_at"))
        for dev_id, kind, district, _, _, born in by_kind.get("water_level", []):
            for hour in range(start_ms - start_ms % HOUR, end_ms, HOUR):
                level = 2.6 + 0.8 * math.sin(2 * math.pi * hour / DAY) + rnd.uniform(-0.2, 0.2)
                hourly.row(iso(hour), dev_id, "waterLevel", 60, round(level * 60, 3), round(level - 0.1, 3), round(level + 0.1, 3),
                           round(level, 3), None, iso(hour + HOUR - MIN))
        rows["device_hourly"] = hourly.close()
        conn.commit()
        progress(f"recordseed: {rows['rollup_minute']:,} minute rollups, {rows['device_hourly']:,} hourly gauge rows")

        # --- cases ---------------------------------------------------------------------------
        conn.execute("ALTER TABLE case_versions DISABLE TRIGGER case_versions_span")
        conn.execute("ALTER TABLE case_spans DISABLE TRIGGER case_spans_tally")  # rebuilt once after the load
        conn.commit()
        latest = Copier(url, "cases", ("id", "version", "class_code", "district", "department", "source", "stage", "urgent", "lon", "lat",
                                        "cell", "created_at", "closed_at", "due_at", "stage_deadline", "updated_at", "data"))
        versions = Copier(url, "case_versions", ("case_id", "version", "at", "stage", "district", "department", "stream_id", "data"))
        spans = Copier(url, "case_spans", ("case_id", "version", "valid_from", "valid_to", "open", "stage", "district", "class_code", "lon",
                                            "lat", "urgent", "created_at", "stage_deadline"))
        for n in range(cases):
            created = start_ms + rnd.randrange(days * DAY)
            life = int(rnd.expovariate(1 / (3 * DAY))) + 30 * MIN
            district = districts[n % len(districts)]
            lon, lat = rnd.uniform(bounds[0], bounds[2]), rnd.uniform(bounds[1], bounds[3])
            case_id = f"C{n:07d}"
            class_code = f"0{1 + n % 9}0{1 + n % 7}"
            dispatched = created + int(0.1 * life)
            deadline = dispatched + int(0.4 * life * rnd.uniform(0.5, 1.5))
            steps = [(1, created, "reported", 0), (2, dispatched, "dispatched", deadline), (3, created + int(0.8 * life), "handled", 0),
                     (4, created + life, "closed", 0)]
            steps = [s for s in steps if s[1] < end_ms]
            base = {"id": case_id, "class_code": class_code, "lat": lat, "lon": lon, "district": district, "source": "hotline",
                    "created_at": created}
            for i, (version, at, stage, dl) in enumerate(steps):
                data = json.dumps({**base, "version": version, "stage": stage, "stage_deadline": dl})
                versions.row(case_id, version, iso(at), stage, district, "", f"{at}-{n}", data)
                until = steps[i + 1][1] if i + 1 < len(steps) else None
                spans.row(case_id, version, iso(at), iso(until) if until else "infinity", stage != "closed", stage, district, class_code,
                          lon, lat, False, iso(created), iso(dl) if dl else None)
            version, at, stage, dl = steps[-1]
            closed = at if stage == "closed" else None
            latest.row(case_id, version, class_code, district, "", "hotline", stage, False, lon, lat, "", iso(created),
                       iso(closed) if closed else None, None, iso(dl) if dl else None, iso(at),
                       json.dumps({**base, "version": version, "stage": stage, "stage_deadline": dl}))
            if n and n % 200_000 == 0:
                progress(f"recordseed: {n:,} cases")
        rows["cases"] = latest.close()
        rows["case_versions"] = versions.close()
        rows["case_spans"] = spans.close()
        conn.execute("ALTER TABLE case_versions ENABLE TRIGGER case_versions_span")
        conn.execute("ALTER TABLE case_spans ENABLE TRIGGER case_spans_tally")
        conn.execute("SELECT ioc_case_tally_rebuild()")  # migration 0004: the case figures per 10 minutes
        rows["case_tally"] = conn.execute("SELECT count(*) FROM case_tally").fetchone()[0]
        conn.commit()
        progress(f"recordseed: {rows['cases']:,} cases, {rows['case_versions']:,} versions")
    with db.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    rows["seconds"] = round(time.monotonic() - began, 1)
    rows["start_ms"], rows["end_ms"] = start_ms, end_ms
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.recordseed", description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--devices", type=int, default=50_000)
    p.add_argument("--cases", type=int, default=1_000_000)
    args = p.parse_args(argv)
    from ioc.record.migrate import upgrade
    upgrade(args.url)
    print(seed(args.url, args.days, args.devices, args.cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
