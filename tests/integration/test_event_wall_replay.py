"""The wall's event mode under the time control (回溯): a replayed moment shows the linked events
live then, as they were then, from the record — not today's — and offers no command."""

from __future__ import annotations

import json
import time

import orjson
import pytest

from callbacks import events as cb
from ioc.domain.access import Principal
from ioc.record import db
from ioc.record.recorder import record_once

pytestmark = pytest.mark.integration

DISPATCHER = Principal("lidiao", frozenset({"dispatcher"}), "李调度")
WALL = {o.component_id + "." + o.component_property: i for i, o in enumerate(cb.WALL_OUTPUTS)}


def text_of(value) -> str:
    return json.dumps(orjson.loads(orjson.dumps(value, default=lambda c: c.to_plotly_json())), ensure_ascii=False, default=str)


@pytest.fixture
def portal_app(record_settings, redis_client):
    """The web app with a record (overrides the shared fixture: `signed_in` runs callbacks in it)."""
    from ioc.web.app import create_app

    app = create_app(record_settings)
    yield app
    db.close_pools()


@pytest.fixture
def recorded_event(portal_app, record_settings, redis_client):
    """(a moment before the event began, a moment while it is live), the flood event recorded."""
    before = int(time.time() * 1000) - 1000
    services = portal_app.server.extensions["ioc_services"]
    services.events.start(DISPATCHER, plan="flood", level="IV", district="yangshe", title="杨舍城区内涝")
    time.sleep(0.01)
    during = int(time.time() * 1000)
    record_once(record_settings, redis_client)
    return before, during


def test_a_moment_while_the_event_was_live_shows_it_on_the_wall(signed_in, recorded_event):
    _before, during = recorded_event
    with signed_in("operator"):
        outputs = cb.wall(1, "zh", None, None, during)
    assert outputs[WALL["bigscreen-grid.className"]] == "bigscreen event-mode"
    assert "杨舍城区内涝" in text_of(outputs[WALL["ev-wall-banner.children"]])


def test_a_moment_before_the_event_began_shows_a_calm_wall_though_it_is_live_now(signed_in, recorded_event):
    before, _during = recorded_event
    with signed_in("operator"):
        live = cb.wall(1, "zh", None, None)
        replayed = cb.wall(2, "zh", None, None, before)
    assert live[WALL["bigscreen-grid.className"]] == "bigscreen event-mode"
    assert replayed[WALL["bigscreen-grid.className"]] == "bigscreen"


def test_a_replayed_wall_offers_no_proposal_and_no_command(signed_in, recorded_event):
    _before, during = recorded_event
    with signed_in("dispatcher"):
        outputs = cb.wall(1, "zh", None, None, during)
    assert outputs[WALL["ev-wall-proposal.className"]] == "ev-wall-proposal hidden"
    assert outputs[WALL["ev-wall-proposal-buttons.style"]] == cb.HIDDEN


def test_a_viewer_who_may_not_rewind_gets_no_replayed_events(signed_in, recorded_event, portal_app):
    before, _during = recorded_event
    services = portal_app.server.extensions["ioc_services"]
    with signed_in("handler"):  # view:rewind is the operator's, the leader's and the dispatcher's
        assert cb.replayed_events(services, before) is None
    with signed_in("operator"):
        assert cb.replayed_events(services, before) == []
