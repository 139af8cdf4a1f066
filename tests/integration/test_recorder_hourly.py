"""The per-device hourly aggregates (migration 0008): each batch appends its contributions to
`device_hourly_parts` in its own transaction, a fold merges them into `device_hourly`, and
readers see both through `device_hourly_all` — so the figures never depend on when a fold ran."""

from __future__ import annotations

import psycopg
import pytest

from ioc.record.recorder import Recorder, record_once
from tests.recorder_entries import T0, add_readings

pytestmark = pytest.mark.integration

HOURLY = "SELECT n, sum, min, max, last, last_text FROM {} WHERE device_id = %s ORDER BY hour, attribute"


def q(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


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
