"""The per-device hourly aggregates (migrations 0008 to 0010): a batch appends the contributions
of the readings it does not keep raw to `device_hourly_parts` in its own transaction; the ones
it keeps raw are summed in the recorder's memory; a fold writes the memory's cells, sums the raw
readings the memory does not hold, and merges every part into `device_hourly`; readers see the folded rows and the parts through `device_hourly_all`. (T0 is
older than the raw window: its readings take the parts path; `RECENT` ones are kept raw.)"""

from __future__ import annotations

import time

import psycopg
import pytest

from ioc.record.recorder import Recorder, record_once
from tests.recorder_entries import T0, add_readings

pytestmark = pytest.mark.integration

RECENT = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 3_600_000  # the start of the last whole hour

HOURLY = "SELECT n, sum, min, max, last, last_text FROM {} WHERE device_id = %s ORDER BY hour, attribute"


def q(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def q_exec(url, sql, *args) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(sql, args)


@pytest.fixture
def recorder(record_settings, redis_client):
    r = Recorder(record_settings, redis_client)
    assert r._connect(wait_s=10)
    r._ensure_groups()
    yield r
    r.close()


def _record_without_folding(recorder) -> None:
    while True:
        read, _rows = recorder.step(force=True)
        if not read and not any(s.buf for s in recorder.streams):
            return


def test_a_batch_s_hourly_contributions_wait_as_parts_until_folded(record_settings, redis_client, recorder):
    add_readings(redis_client, record_settings.redis_shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])

    _record_without_folding(recorder)

    url = record_settings.database_url
    assert q(url, HOURLY.format("device_hourly"), "n1") == []
    assert q(url, HOURLY.format("device_hourly_parts"), "n1") == [(1, 50.0, 50.0, 50.0, 50.0, None)]


def test_readers_see_the_parts_not_folded_yet_merged_with_the_folded_rows(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    recorder.fold()
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0 + 1000, {"LAeq": 70.0}]])
    _record_without_folding(recorder)

    assert q(url, HOURLY.format("device_hourly_all"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]


def test_a_fold_merges_the_parts_into_the_hourly_rows_and_leaves_no_part(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    recorder.fold()
    add_readings(redis_client, shards, [["n1", "noise", "d1", T0 + 2000, {"LAeq": 40.0}]])
    add_readings(redis_client, shards, [["s1", "streetlight", "d1", T0, {"powerState": "on"}]])
    _record_without_folding(recorder)

    assert recorder.fold() == 2
    assert q(url, HOURLY.format("device_hourly"), "n1") == [(2, 90.0, 40.0, 50.0, 40.0, None)]
    assert q(url, "SELECT last_text FROM device_hourly WHERE device_id = 's1'") == [("on",)]
    assert q(url, "SELECT count(*) FROM device_hourly_parts") == [(0,)]


def test_a_recorder_that_starts_folds_the_parts_a_stopped_one_left(record_settings, redis_client, recorder):
    add_readings(redis_client, record_settings.redis_shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    recorder.close()  # stopped without folding, as a killed recorder

    record_once(record_settings, redis_client)

    url = record_settings.database_url
    assert q(url, HOURLY.format("device_hourly"), "n1") == [(1, 50.0, 50.0, 50.0, 50.0, None)]
    assert q(url, "SELECT count(*) FROM device_hourly_parts") == [(0,)]


def test_a_fold_in_the_background_folds_on_a_connection_of_its_own(record_settings, redis_client, recorder):
    add_readings(redis_client, record_settings.redis_shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    _record_without_folding(recorder)

    recorder.fold_in_background()
    recorder.wait_fold()

    url = record_settings.database_url
    assert q(url, HOURLY.format("device_hourly"), "n1") == [(1, 50.0, 50.0, 50.0, 50.0, None)]
    assert q(url, "SELECT count(*) FROM device_hourly_parts") == [(0,)]


def test_parts_appended_while_a_fold_runs_wait_for_the_next_fold(record_settings, redis_client, recorder):
    url = record_settings.database_url
    add_readings(redis_client, record_settings.redis_shards, [["n1", "noise", "d1", T0, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    with psycopg.connect(url) as folding:  # a fold whose snapshot is taken before the next batch commits
        folding.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        folding.execute("SELECT count(*) FROM device_hourly_parts").fetchone()
        add_readings(redis_client, record_settings.redis_shards, [["n1", "noise", "d1", T0 + 1000, {"LAeq": 70.0}]])
        _record_without_folding(recorder)
        folding.execute("SELECT ioc_fold_hourly_parts()")

    assert q(url, HOURLY.format("device_hourly"), "n1") == [(1, 50.0, 50.0, 50.0, 50.0, None)]
    assert q(url, HOURLY.format("device_hourly_all"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]
    recorder.fold()
    assert q(url, HOURLY.format("device_hourly"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]


# ---- readings kept raw: their hourly aggregates come from the raw rows at the fold ---------------

def test_a_reading_kept_raw_has_no_part_until_the_fold_sums_it_from_the_raw_rows(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 1000, {"LAeq": 50.0}],
                                        ["n1", "noise", "d1", RECENT + 3000, {"LAeq": 70.0}]])
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 2000, {"LAeq": 40.0}]])
    _record_without_folding(recorder)
    assert q(url, "SELECT count(*) FROM readings") == [(3,)]
    assert q(url, "SELECT count(*) FROM device_hourly_parts") == [(0,)]

    assert recorder.fold() == 1
    assert q(url, HOURLY.format("device_hourly"), "n1") == [(3, 160.0, 40.0, 70.0, 70.0, None)]  # the last by time


def test_the_fold_of_raw_readings_counts_values_as_the_batches_count_them(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    items = [["s1", "streetlight", "d1", RECENT + 1, {"powerState": "off", "brightness": 30}],
             ["s1", "streetlight", "d1", RECENT + 5, {"powerState": "on", "brightness": 80}],
             ["s1", "streetlight", "d1", RECENT + 5, {"powerState": "off", "brightness": 60}]]  # same time: the later wins
    add_readings(redis_client, shards, items)
    _record_without_folding(recorder)
    recorder.fold()
    from_raw = q(url, "SELECT attribute, n, sum, min, max, last, last_text, last_at FROM device_hourly ORDER BY attribute")

    from ioc.record.writers import READINGS, RawPolicy, build
    from tests.recorder_entries import dumps
    cells = build(READINGS, [("1-0", {"r": dumps(items)})], policy=RawPolicy(keep=False)).hourly
    expected = [(attribute, cell[0], cell[1], cell[2], cell[3], cell[4], cell[5], cell[6])
                for (_hour, _device, attribute), cell in sorted(cells.items(), key=lambda kv: kv[0][2])]
    assert [(a, n, s, lo, hi, last, text, int(at.timestamp() * 1000)) for a, n, s, lo, hi, last, text, at in from_raw] == expected
    assert [row[6] for row in from_raw] == [None, "off"]


def test_raw_readings_are_folded_once_and_later_ones_at_the_next_fold(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    recorder.fold()
    recorder.unfolded = True
    assert recorder.fold() == 0  # nothing new: nothing counted twice
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 1000, {"LAeq": 70.0}]])
    _record_without_folding(recorder)
    recorder.fold()

    assert q(url, HOURLY.format("device_hourly"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]


def test_a_reading_kept_raw_and_one_too_old_for_it_meet_in_one_hourly_row(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    recorder.settings = record_settings.replace(record_raw_hours=1)
    now = int(time.time() * 1000)
    hour = now // 3_600_000 * 3_600_000 - 3_600_000
    old = hour + 1000  # the previous hour's first second: past the 1 h window; the hour's start is within it
    add_readings(redis_client, shards, [["n1", "noise", "d1", old, {"LAeq": 50.0}]])
    add_readings(redis_client, shards, [["n1", "noise", "d1", hour + 3_600_000, {"LAeq": 70.0}]])
    _record_without_folding(recorder)
    assert q(url, "SELECT count(*) FROM readings") == [(1,)]
    recorder.fold()
    assert q(url, HOURLY.format("device_hourly"), "n1") == [(1, 50.0, 50.0, 50.0, 50.0, None), (1, 70.0, 70.0, 70.0, 70.0, None)]


def test_retention_folds_the_raw_readings_before_it_drops_their_partition(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT, {"LAeq": 50.0}]])
    _record_without_folding(recorder)

    dropped = recorder.retention(now_ms=RECENT + 3 * 86_400_000)

    assert any(name.startswith("readings_p") for name in dropped)
    assert q(url, HOURLY.format("device_hourly"), "n1") == [(1, 50.0, 50.0, 50.0, 50.0, None)]


# ---- the recorder's memory of its raw readings' hourly sums (migration 0010) ----------------------

def _mark(url) -> int:
    return q(url, "SELECT raw_seq FROM recorder_fold")[0][0]


def test_the_fold_writes_the_raw_readings_hourly_sums_from_the_recorder_s_memory(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 1000, {"LAeq": 50.0}],
                                        ["n1", "noise", "d1", RECENT + 3000, {"LAeq": 70.0}]])
    _record_without_folding(recorder)
    q_exec(url, "DELETE FROM readings")  # the fold does not read them again: it has their sums

    recorder.fold()

    assert q(url, HOURLY.format("device_hourly"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]
    assert _mark(url) == recorder.hourly.upto > 0


def test_a_recorder_that_starts_sums_from_the_raw_rows_what_a_stopped_one_held_in_memory(record_settings, redis_client,
                                                                                         recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    recorder.close()  # stopped without folding, as a killed recorder: its memory is gone
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 1000, {"LAeq": 70.0}]])

    record_once(record_settings, redis_client)

    assert q(url, HOURLY.format("device_hourly"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]


def test_a_fold_that_fails_loses_no_hourly_sum_and_counts_none_twice(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    recorder._fold_conn = psycopg.connect(url)
    q_exec(url, "SELECT pg_terminate_backend(%s)", recorder._fold_conn.info.backend_pid)

    recorder.fold_in_background()  # fails: its connection is gone, the cells it took with it
    recorder.wait_fold()
    assert q(url, "SELECT count(*) FROM device_hourly") == [(0,)]
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 1000, {"LAeq": 70.0}]])
    _record_without_folding(recorder)
    recorder.fold()

    assert q(url, HOURLY.format("device_hourly"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]


def test_a_fold_the_recorder_did_not_make_is_not_counted_again_from_its_memory(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    with psycopg.connect(url) as other:  # e.g. an operator folding by hand
        other.execute("SELECT ioc_fold_hourly_raw('{}'::jsonb)")
        other.execute("SELECT ioc_fold_hourly_parts()")
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 1000, {"LAeq": 70.0}]])
    _record_without_folding(recorder)

    recorder.fold()

    assert q(url, HOURLY.format("device_hourly"), "n1") == [(2, 120.0, 50.0, 70.0, 70.0, None)]


def test_raw_readings_another_writer_adds_between_batches_are_summed_once(record_settings, redis_client, recorder):
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT, {"LAeq": 50.0}]])
    _record_without_folding(recorder)
    q_exec(url, "INSERT INTO readings (at, device_id, kind, stream_id, idx, values) "
                "VALUES (to_timestamp(%s / 1000.0), 'n1', 'noise', 'import:1-0', 0, '{\"LAeq\": 60.0}')", RECENT + 500)
    add_readings(redis_client, shards, [["n1", "noise", "d1", RECENT + 1000, {"LAeq": 70.0}]])
    _record_without_folding(recorder)

    recorder.fold()

    assert q(url, HOURLY.format("device_hourly"), "n1") == [(3, 180.0, 50.0, 70.0, 70.0, None)]


def test_the_memory_s_cells_are_merged_a_chunk_at_a_time_each_once(record_settings, redis_client, recorder, monkeypatch):
    from ioc.record import copy as record_copy
    monkeypatch.setattr(record_copy, "FOLD_CHUNK", 2)
    shards, url = record_settings.redis_shards, record_settings.database_url
    add_readings(redis_client, shards, [[f"n{i}", "noise", "d1", RECENT + i, {"LAeq": 50.0 + i}] for i in range(5)])
    _record_without_folding(recorder)

    recorder.fold_in_background()  # rests between chunks
    recorder.wait_fold()

    assert q(url, "SELECT device_id, n, sum FROM device_hourly WHERE attribute = 'LAeq' ORDER BY device_id") == [
        (f"n{i}", 1, 50.0 + i) for i in range(5)]
