"""The web process's shared big-screen snapshot (`CityCache`) on a real Redis: one snapshot for
every viewer while it is fresh, and what pages make of it computed once per snapshot."""

from __future__ import annotations

import time

import pytest

from ioc.adapters.city_snapshot import CityCache
from tests.conftest import wait_for


@pytest.fixture
def cache(redis_client, settings):
    return CityCache(lambda: redis_client, settings.redis_shards, ttl_s=60)


def test_viewers_share_one_snapshot_while_it_is_fresh(cache):
    assert cache.snapshot() is cache.snapshot()


def test_what_a_page_makes_of_a_snapshot_is_made_once_for_every_viewer(cache):
    made = []
    snapshot = cache.snapshot()
    first = cache.derived(snapshot, ("page", "zh"), lambda _s: made.append(1) or ["frame"])
    again = cache.derived(cache.snapshot(), ("page", "zh"), lambda _s: made.append(1) or ["frame"])
    assert first is again and made == [1]


def test_each_language_or_page_gets_its_own_value(cache):
    snapshot = cache.snapshot()
    assert cache.derived(snapshot, ("page", "zh"), lambda _s: "中文") == "中文"
    assert cache.derived(snapshot, ("page", "en"), lambda _s: "English") == "English"


def test_a_new_snapshot_makes_the_values_again(cache):
    made = []
    cache.derived(cache.snapshot(), "page", lambda _s: made.append(1))
    cache.invalidate()  # as after an alarm acknowledged in this process
    cache.derived(cache.snapshot(), "page", lambda _s: made.append(2))
    assert made == [1, 2]


def test_a_value_for_a_snapshot_that_is_no_longer_shared_is_not_kept(cache):
    old = cache.snapshot()
    cache.invalidate()
    cache.snapshot()
    made = []
    cache.derived(old, "page", lambda _s: made.append(1))
    cache.derived(old, "page", lambda _s: made.append(2))
    assert made == [1, 2]


def test_the_next_snapshot_comes_with_what_viewers_asked_for_made_ahead(cache):
    made = []
    cache.derived(cache.snapshot(), "page", lambda s: made.append(s) or len(made))
    before = cache.snapshot()
    cache.prepare_next()  # what the background thread does every ttl_s while viewers watch
    after = cache.snapshot()
    assert after is not before and made == [before, after]
    assert cache.derived(after, "page", lambda s: made.append(s)) == 2 and len(made) == 2


def test_a_snapshot_read_before_an_invalidation_is_not_swapped_in(cache, monkeypatch):
    cache.snapshot()
    read, taken = cache._read, []

    def read_then_act(*args):
        taken.append(read(*args))
        cache.invalidate()  # an alarm acknowledged in this process while the next snapshot was read
        return taken[-1]

    monkeypatch.setattr(cache, "_read", read_then_act)
    cache.prepare_next()
    monkeypatch.undo()
    assert taken and cache.snapshot() is not taken[0]


def _hgetall_calls(client) -> int:
    return int(client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0))


def test_a_warmed_up_cache_answers_the_first_viewer_without_reading_the_registry(cache, redis_client):
    cache.warm_up()  # what a web worker does in the background when it starts
    before = _hgetall_calls(redis_client)
    cache.devices()
    assert _hgetall_calls(redis_client) == before


def test_a_web_process_warms_its_cache_up_in_the_background(settings, redis_client):
    from ioc.web.services import Services

    services = Services.from_settings(settings)
    services.warm_up().join(30)
    before = _hgetall_calls(redis_client)
    services.city_cache.devices()
    assert _hgetall_calls(redis_client) == before


def test_a_web_process_with_a_record_has_this_month_s_indicators_ready_after_its_warm_up(record_settings, redis_client):
    from ioc.reports.cache import cache_for
    from ioc.views.cases import period_range
    from ioc.web.services import Services

    services = Services.from_settings(record_settings)
    services.warm_up().join(30)
    now = int(time.time() * 1000)
    cache = cache_for(record_settings.database_url)
    cache.first_wait_s = 0  # only what the warm-up computed counts
    wait_for(lambda: cache.get(*period_range("this_month", now), now) is not None, message="this month's indicators")


def test_warming_up_without_redis_leaves_the_error_to_the_requests(settings):
    from ioc.web.services import Services

    services = Services.from_settings(settings.replace(redis_url="redis://127.0.0.1:1/0"))
    thread = services.warm_up()
    thread.join(30)
    assert not thread.is_alive()


def test_the_snapshot_carries_the_water_gauges_latest_levels_for_the_highest_gauge(ingest, publisher, redis_client, settings, city):
    from ioc.views.bigscreen import kpi_texts, kpis
    from tests.conftest import wait_for
    from tests.integration.test_ingest_pipeline import JINFENG, YANGSHE, birth, send

    birth(publisher, "water_level", "wl-test-1", YANGSHE, name="杨舍 长江水位站 1")
    birth(publisher, "water_level", "wl-test-2", JINFENG, name="锦丰 二干河水位站 2")
    send(publisher, "water_level", "wl-test-1", waterLevel=3.1)
    send(publisher, "water_level", "wl-test-2", waterLevel=3.6)
    cache = CityCache(lambda: redis_client, settings.redis_shards, ttl_s=0)
    cache.GAUGES_S = 0  # read them at every snapshot here
    snapshot = wait_for(lambda: (s := cache.snapshot()).water_levels.get("wl-test-2") and s, message="the gauges' levels")
    assert snapshot.water_levels == {"wl-test-1": 3.1, "wl-test-2": 3.6}
    assert kpi_texts(kpis(snapshot), "zh", city)["kpi_water"][1].startswith("锦丰 二干河水位站 2 (锦丰镇)")
