"""The record's schema: migrations from an empty database, repeatable, refused when changed."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from ioc.record.migrate import MigrationError, applied, migrations, upgrade
from ioc.settings import REPO_ROOT

TABLES = {"recorder_offsets", "cases", "case_versions", "case_timeline", "events", "event_versions", "alarm_events",
          "alarms", "audit", "users", "tokens", "devices", "device_events", "rollup_minute", "device_hourly", "readings"}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_upgrade_of_an_empty_database_makes_every_table(empty_database_url):
    done = upgrade(empty_database_url)
    assert done == [m.version for m in migrations()]
    assert TABLES <= _tables(empty_database_url)


def test_upgrade_twice_applies_nothing_the_second_time(empty_database_url):
    upgrade(empty_database_url)
    assert upgrade(empty_database_url) == []


def test_upgrade_step_by_step_ends_where_one_upgrade_does(empty_database_url, database_url):
    for m in migrations():
        upgrade(empty_database_url, target=m.version)
    assert _tables(empty_database_url) == _tables(database_url)


def test_a_migration_changed_after_it_was_applied_is_refused(database_url, tmp_path):
    for m in migrations():
        (tmp_path / f"{m.version:04d}_{m.name}.sql").write_text(m.sql + "\n-- edited\n" if m.version == 1 else m.sql)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        upgrade(database_url, folder=tmp_path)


def test_partitions_are_made_for_the_period_of_a_row(database_url):
    with psycopg.connect(database_url) as conn:
        month = conn.execute("SELECT ioc_ensure_partition('audit', '2026-03-15T10:00:00Z')").fetchone()[0]
        day = conn.execute("SELECT ioc_ensure_partition('readings', '2026-03-15T23:59:00Z', 'day')").fetchone()[0]
        again = conn.execute("SELECT ioc_ensure_partition('audit', '2026-03-01T00:00:00Z')").fetchone()[0]
        conn.execute("INSERT INTO audit (stream_id, at, action) VALUES ('1-0', '2026-03-31T23:59:59Z', 'x')")
    assert (month, day, again) == ("audit_p202603", "readings_p20260315", "audit_p202603")


def test_db_upgrade_command_migrates_the_database_in_database_url(empty_database_url):
    env = {"DATABASE_URL": empty_database_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "ioc", "db", "upgrade"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"schema at version {migrations()[-1].version}" in out.stdout
    with psycopg.connect(empty_database_url) as conn:
        assert set(applied(conn)) == {m.version for m in migrations()}


def test_db_upgrade_without_database_url_says_what_to_set():
    out = subprocess.run([sys.executable, "-m", "ioc", "db", "upgrade"], cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "DATABASE_URL" in out.stderr


def test_the_hourly_and_minute_partitions_leave_room_for_updates_in_place(database_url):
    with psycopg.connect(database_url) as conn:
        hourly = conn.execute("SELECT ioc_ensure_partition('device_hourly', '2026-03-15T10:00:00Z')").fetchone()[0]
        audit = conn.execute("SELECT ioc_ensure_partition('audit', '2026-03-15T10:00:00Z')").fetchone()[0]
        options = dict(conn.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN (%s, %s)",
                                    (hourly, audit)).fetchall())
    assert options[hourly] == ["fillfactor=50"] and options[audit] is None


def _reloptions(conn, table: str):
    return conn.execute("SELECT reloptions FROM pg_class WHERE relname = %s", (table,)).fetchone()[0]


def test_raw_readings_partitions_are_not_vacuumed_for_their_inserts(database_url):
    with psycopg.connect(database_url) as conn:
        day = conn.execute("SELECT ioc_ensure_partition('readings', '2026-03-15T10:00:00Z', 'day')").fetchone()[0]
        assert _reloptions(conn, day) == ["autovacuum_vacuum_insert_threshold=-1"]


def test_raw_readings_partitions_made_before_version_10_lose_their_insert_vacuums_at_the_upgrade(empty_database_url):
    upgrade(empty_database_url, target=9)
    with psycopg.connect(empty_database_url) as conn:
        day = conn.execute("SELECT ioc_ensure_partition('readings', '2026-03-15T10:00:00Z', 'day')").fetchone()[0]
        conn.commit()
        assert _reloptions(conn, day) is None

    upgrade(empty_database_url)

    with psycopg.connect(empty_database_url) as conn:
        assert _reloptions(conn, day) == ["autovacuum_vacuum_insert_threshold=-1"]
