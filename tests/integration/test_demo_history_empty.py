"""Which data the demo's history is written into: only an empty city (simulators.history.city_is_empty)."""

from __future__ import annotations

from ioc.adapters.case_store import CaseStore
from ioc.record.db import connect
from simulators.history import city_is_empty


def test_fresh_redis_and_a_fresh_record_are_an_empty_city(redis_client, settings, database_url):
    assert city_is_empty(redis_client, settings, database_url)


def test_a_record_that_knows_devices_is_not_an_empty_city(redis_client, settings, database_url):
    with connect(database_url) as conn:
        conn.execute("INSERT INTO devices (id, kind, first_seen, updated_at) VALUES ('ns-1', 'noise', now(), now())")
        conn.commit()
    assert city_is_empty(redis_client, settings)
    assert not city_is_empty(redis_client, settings, database_url)


def test_a_redis_that_numbered_a_case_is_not_an_empty_city(redis_client, settings):
    CaseStore(redis_client).next_id(0)
    assert not city_is_empty(redis_client, settings)
