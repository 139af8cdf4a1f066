"""The recorder under faults: `python -m ioc recorder` as a real subprocess killed -9 again and
again during a burst, PostgreSQL stopped for a while (its own server, same port), Redis restarted
mid-run (the test's private Redis). Each time the record must end exactly as an undisturbed run
of the same streams writes it (`record_once` into a fresh database, the group rewound)."""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import postgres_server
from ioc.record.migrate import upgrade
from ioc.record.recorder import GROUP, record_once, streams
from tests.conftest import drop_database, fresh_database, wait_for
from tests.recorder_entries import (T0, a_case, add_alarm_event, add_audit, add_case, add_readings, add_registry, add_user,
                                    an_alarm, device_meta)
from tests.resilience.conftest import quiet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TABLES = ("cases", "case_versions", "case_timeline", "events", "event_versions", "alarm_events", "alarms", "audit", "users",
          "tokens", "devices", "device_events", "rollup_minute", "device_hourly", "readings")
SHARDS = 8
# the columns that hold what was recorded (a raw reading's `seq` is the order it was written in)
CONTENT = {"readings": "at, device_id, kind, stream_id, idx, values"}


def dump(url: str) -> dict:
    with psycopg.connect(url) as conn:
        # every row in a total order (rows equal in their first columns, e.g. one minute's rollups, come in any order)
        out = {t: sorted(conn.execute(f"SELECT {CONTENT.get(t, '*')} FROM {t}").fetchall(), key=repr) for t in TABLES}
        out["offsets"] = conn.execute("SELECT stream, last_id, rows FROM recorder_offsets ORDER BY 1").fetchall()
        return out


def write_burst(client, start: int, n: int, rng: random.Random) -> None:
    """n rounds of every stream family (deterministic for a seed)."""
    for i in range(start, start + n):
        at = T0 + i * 1000
        cid = f"C-{i % 7}"
        add_case(client, a_case(cid, version=i + 1, stage="accepted", at=at), f"{at}-0")
        add_audit(client, at=at, actor=f"u{i % 3}")
        alarm = an_alarm(device=f"wl-{i % 5}", raised_at=T0 + (i // 5) * 5000)
        add_alarm_event(client, ("raised", "acknowledged", "cleared")[i % 3], alarm, by="li", role="operator",
                        acknowledged_at=at, cleared_at=at)
        dev = f"n{i % 11}"
        add_registry(client, SHARDS, [[dev, ("birth", "offline", "online")[i % 3], at, i % 3 != 1, device_meta(kind="noise")]])
        add_readings(client, SHARDS, [[dev, "noise", "d1", at + j, {"LAeq": float(rng.randint(30, 90))}] for j in range(5)])
        if i % 10 == 0:
            add_user(client, f"user{i % 4}", at=at)


def caught_up(client, url: str) -> bool:
    """Every stream's last entry is the recorded offset (or the stream is empty)."""
    with psycopg.connect(url) as conn:
        offsets = dict(conn.execute("SELECT stream, last_id FROM recorder_offsets").fetchall())
    for key, _family in streams_of():
        last = client.xinfo_stream(key)["last-generated-id"] if client.exists(key) else "0-0"
        last = last.decode() if isinstance(last, bytes) else last
        if last != "0-0" and offsets.get(key) != last:
            return False
    return True


def streams_of():
    from ioc.settings import Settings

    return streams(Settings.from_env(env={}))


def undisturbed(stack, client, pg_server_proc, pg_template) -> dict:
    """The record the same streams give in one quiet pass: a fresh database, the group rewound."""
    url = fresh_database(pg_server_proc, pg_template)
    try:
        for key, _family in streams_of():
            if client.exists(key):
                client.xgroup_setid(key, GROUP, "0")
        record_once(stack.settings(database_url=url, record_raw_hours=RAW_HOURS), client)
        return dump(url)
    finally:
        drop_database(pg_server_proc, url)


RAW_HOURS = 24 * 365 * 10  # the entries carry fixed past times: keep their raw readings (the raw window drops older ones)


def recorder_env(url: str) -> dict:
    # IOC_RECORD_TRIM=0: the streams must still hold every entry for the undisturbed replay to compare with
    return {"DATABASE_URL": url, "IOC_RECORD_BATCH": "40", "IOC_RECORD_FLUSH_MS": "50", "IOC_RECORD_TRIM": "0",
            "IOC_RECORD_RAW_HOURS": str(RAW_HOURS)}


def same_record(disturbed: dict, quiet_run: dict) -> None:
    # offsets' row counts may differ: a batch re-read after a kill writes fewer new rows
    assert all(disturbed[t] for t in TABLES if t not in ("events", "event_versions", "tokens"))
    for table in TABLES:
        assert disturbed[table] == quiet_run[table], table
    assert [r[:2] for r in disturbed["offsets"]] == [r[:2] for r in quiet_run["offsets"]]


def test_kill9_of_the_recorder_during_a_burst_leaves_the_record_of_an_undisturbed_run(
        stack, spawn, database_url, pg_server_proc, pg_template):
    client = stack.client()
    rng = random.Random(17)
    recorder = spawn("recorder", wait=False, **recorder_env(database_url))
    recorder.wait_log(r"recorder \S+ active")
    done = threading.Event()

    def produce():
        for k in range(12):
            write_burst(client, k * 20, 20, rng)
            time.sleep(0.05)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    kills = 0
    while not done.is_set() or kills < 6:
        time.sleep(rng.uniform(0.05, 0.4))  # mid-batch: reading, copying or committing
        recorder.kill9()
        kills += 1
        recorder.start()
        recorder.wait_log(r"recorder \S+ active")
    producer.join()
    wait_for(lambda: caught_up(client, database_url), timeout=90, interval=0.3, message="the recorder to catch up")
    recorder.terminate()
    assert kills >= 6 and recorder.log(since_start=False).count(" active: recording") == kills + 1
    same_record(dump(database_url), undisturbed(stack, client, pg_server_proc, pg_template))


def test_postgresql_down_for_a_while_the_streams_hold_and_the_recorder_catches_up(
        stack, spawn, tmp_path, pg_server_proc, pg_template):
    server = postgres_server(tmp_path / "pg", durable=False).start()
    try:
        url = server.url
        upgrade(url)
        client = stack.client()
        rng = random.Random(5)
        recorder = spawn("recorder", wait=False, **recorder_env(url))
        recorder.wait_log(r"recorder \S+ active")
        write_burst(client, 0, 30, rng)
        wait_for(lambda: caught_up(client, url), timeout=60, interval=0.3, message="the first burst recorded")
        server.stop()
        write_burst(client, 30, 60, rng)  # written while the record is down
        recorder.wait_log(r"PostgreSQL unavailable")
        time.sleep(1)
        assert recorder.alive
        server.start()
        wait_for(lambda: quiet(lambda: caught_up(client, url)), timeout=90, interval=0.5,
                 message="the recorder to catch up after PostgreSQL came back")
        recorder.terminate()
        same_record(dump(url), undisturbed(stack, client, pg_server_proc, pg_template))
    finally:
        server.stop()


def test_a_redis_restart_mid_run_leaves_the_record_of_an_undisturbed_run(
        stack, spawn, database_url, pg_server_proc, pg_template):
    client = stack.client()
    rng = random.Random(9)
    recorder = spawn("recorder", wait=False, **recorder_env(database_url))
    recorder.wait_log(r"recorder \S+ active")
    write_burst(client, 0, 60, rng)
    time.sleep(0.3)  # mid-run: part of it recorded
    stack.redis.restart()  # SIGTERM: Redis writes its AOF out, then starts again from it
    write_burst(client, 60, 40, rng)
    wait_for(lambda: quiet(lambda: caught_up(client, database_url)), timeout=90, interval=0.3,
             message="the recorder to catch up after the restart")
    assert recorder.alive
    recorder.terminate()
    same_record(dump(database_url), undisturbed(stack, client, pg_server_proc, pg_template))
    assert keys.RECORD in [k for k, _ in streams_of()]
