"""One alarm store: every writer of the alarms goes through `ioc.adapters.alarm_store.AlarmStore`,
with one semantics per change, and the web process's store invalidates its city cache itself.

- A person's acknowledgement or hand clear, through the JSON API or through the portal's big
  screen (its callbacks called as Dash calls them, in a request of the app), is in the very next
  big-screen snapshot of the same process (the shared snapshot is held for an hour here, so only
  the invalidation can show it).
- A raise, from the ingest worker's batch pipeline or the case worker's overdue scan, raises an
  alarm only if it is not active already: a second raise keeps the first (its time and its
  acknowledgement) and writes no second `raised` event.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

import pytest
from flask import g

from callbacks import bigscreen

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.embedded import redis_server
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.adapters.user_store import Actor
from ioc.domain.alarms import Alarm
from ioc.domain.rules import RULES_BY_ID
from ioc.i18n import t
from ioc.settings import Settings
from tests.conftest import dash_callback


def water_alarm(device: str, value: float = 4.4, raised_at: int | None = None) -> Alarm:
    rule = RULES_BY_ID["water_level_warning"]
    return Alarm(f"{device}|water_level_warning", device, "water_level", rule.id, rule.severity, "yangshe", rule.attribute,
                 value, rule.threshold, raised_at or int(time.time() * 1000) - 60_000, rule.name_zh, rule.name_en)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The web app on a private Redis, its services, and an operator's and a dispatcher's bearer
    token and principal. Its city cache holds a snapshot for an hour (no background refresh to
    hide a missing invalidation)."""
    from ioc.web.app import create_app

    tmp = tmp_path_factory.mktemp("one-alarm-store")
    server = redis_server(tmp / "redis").start()
    settings = Settings.from_env(env={}, redis_url=server.url, mqtt_url="mqtt://127.0.0.1:1", data_dir=tmp)
    app = create_app(settings)
    services = app.server.extensions["ioc_services"]
    services.city_cache.ttl_s = services.city_cache.registry_s = 3600
    tokens, principals = {}, {}
    for who in ("operator", "dispatcher"):
        token, secret = services.users.create_token(who, [who], Actor("test", "admin"))
        tokens[who], principals[who] = {"Authorization": f"Bearer {secret}"}, token.principal()
    yield Web(app, services, tokens, principals)
    server.stop()


class Web:
    def __init__(self, app, services, tokens, principals):
        self.app, self.http, self.services, self.tokens, self.principals = app, app.server.test_client(), services, tokens, principals

    @contextlib.contextmanager
    def signed_in(self, who: str, triggered: str):
        """A request of the app whose principal is `who`'s token, in a Dash callback context."""
        with self.app.server.test_request_context(), dash_callback(triggered):
            g.ioc_principal = self.principals[who]
            yield


def acknowledge(entry: str, web: Web, alarm_id: str) -> None:
    if entry == "api":
        assert web.http.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=web.tokens["operator"]).status_code == 200
    else:  # the pop-up's acknowledge button on the big screen
        with web.signed_in("operator", "popup-ack.n_clicks"):
            message, _popup = bigscreen.acknowledge([], 1, None, alarm_id, "zh")
        assert message.startswith(t("acked_ok", "zh")), message


def clear(entry: str, web: Web, alarm_id: str) -> None:
    if entry == "api":
        answer = web.http.post(f"/api/v1/alarms/{alarm_id}/clear", json={"note": "现场已处置"}, headers=web.tokens["dispatcher"])
        assert answer.status_code == 200, answer.get_json()
    else:  # the clear dialog's confirm button
        with web.signed_in("dispatcher", "clear-confirm.n_clicks"):
            _dialog, error, message = bigscreen.confirm_clear(1, None, alarm_id, "现场已处置", "zh")
        assert message.startswith(t("cleared_ok", "zh")), (error, message)


def on_the_big_screen(services, alarm_id: str) -> dict | None:
    return next((a for a in services.city_cache.snapshot().alarms if a["id"] == alarm_id), None)


@pytest.mark.parametrize("entry", ["api", "portal"])
def test_an_acknowledgement_is_in_the_next_big_screen_snapshot_of_the_process(web, entry):
    services = web.services
    alarm = water_alarm(f"wl-ack-{entry}")
    assert services.alarms.raise_alarm(alarm)
    services.city_cache.invalidate()  # the raise came from another process (a worker): seen on the next read
    assert on_the_big_screen(services, alarm.id)["ack"] is None  # the snapshot the process now holds
    acknowledge(entry, web, alarm.id)
    assert on_the_big_screen(services, alarm.id)["ack"]["by"] == "token:operator"


@pytest.mark.parametrize("entry", ["api", "portal"])
def test_a_hand_clear_is_in_the_next_big_screen_snapshot_of_the_process(web, entry):
    services = web.services
    alarm = water_alarm(f"wl-clear-{entry}")
    assert services.alarms.raise_alarm(alarm)
    services.city_cache.invalidate()
    assert on_the_big_screen(services, alarm.id) is not None
    clear(entry, web, alarm.id)
    assert on_the_big_screen(services, alarm.id) is None


# ---- raising: one semantics for both workers -------------------------------------------------------

@pytest.fixture
def alarms(redis_client):
    return AlarmStore(redis_client)


@pytest.fixture
def events(redis_client, settings):
    snapshot = SnapshotStore(redis_client, settings.redis_shards)
    return lambda: [e["event"] for e in reversed(snapshot.alarm_events())]  # oldest first


def raise_through_pipeline(store: AlarmStore, alarm: Alarm) -> bool:
    pipe = store.redis.pipeline(transaction=False)
    store.raise_in(pipe, alarm)
    return bool(pipe.execute()[0])


RAISES = {"raise_alarm": lambda store, alarm: store.raise_alarm(alarm), "raise_in": raise_through_pipeline}


@pytest.mark.parametrize("way", sorted(RAISES))
def test_a_raise_of_an_inactive_alarm_stores_it_with_one_raised_event(alarms, events, way):
    alarm = water_alarm("wl-r-1")
    assert RAISES[way](alarms, alarm) is True
    assert [a["id"] for a in alarms.active()] == [alarm.id] and events() == ["raised"]


@pytest.mark.parametrize("way", sorted(RAISES))
def test_a_second_raise_of_an_active_alarm_keeps_the_first_and_its_ack(alarms, events, way):
    first = water_alarm("wl-r-2", 4.4)
    alarms.raise_alarm(first)
    alarms.acknowledge(first.id, "zhang", "operator", int(time.time() * 1000))
    again = replace(first, value=4.6, raised_at=first.raised_at + 30_000)
    assert RAISES[way](alarms, again) is False
    (active,) = alarms.active()
    assert (active["value"], active["raised_at"], active["ack"]["by"]) == (4.4, first.raised_at, "zhang")
    assert events() == ["raised", "acknowledged"]


def test_the_ingest_worker_raises_through_the_store_once_per_activation(settings, city, redis_client, alarms, events):
    from ioc.ingest.batch import Outcome
    from ioc.ingest.worker import IngestWorker

    worker = IngestWorker(settings, connect_redis(settings.redis_url), city)
    alarm = water_alarm("wl-r-3")
    worker.record(Outcome(raised=[alarm]))
    worker.record(Outcome(raised=[replace(alarm, value=4.7)]))  # e.g. a second ingest worker saw the same breach
    (active,) = alarms.active()
    assert active["value"] == 4.4 and events() == ["raised"]
    assert redis_client.hexists(keys.ALARMS_ACTIVE, alarm.id)
