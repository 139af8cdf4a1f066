"""The bench's `events` scenario (`python -m bench --only events`): its script of linked events,
played through the product's JSON API, takes every event from start to close with every event
action and every task action; the wall's tick callbacks are found on the page; the rows carry
their targets. Timing is never asserted."""

from __future__ import annotations

import time

import pytest

from bench import events
from bench.model import Measurement
from bench.timed_web import ServerTiming, server_ms
from ioc.domain.departments import department_ids
from ioc.domain.plans import builtin_plans

pytestmark = [pytest.mark.integration]


def _client_sender(client, secrets) -> events.Send:
    def send(request: events.Request) -> events.Answer:
        t0 = time.perf_counter()
        r = client.open(request.path, method=request.method, json=request.body,
                        headers={"Authorization": f"Bearer {secrets[request.who]}"})
        return events.Answer(r.status_code, r.get_json(silent=True), (time.perf_counter() - t0) * 1000, server_ms(r.headers))

    return send


@pytest.fixture
def city_events(portal_app):
    """Three events of the script (flood, crowd, hazmat; a district area and a circle), the tokens
    of their principals, and `send` through the app's API with the bench's Server-Timing header."""
    server = portal_app.server
    city = server.extensions["ioc_services"].city
    departments = department_ids(city)
    plans = events.event_plans(3, builtin_plans(departments), city, departments)
    secrets = events.make_tokens(server.extensions["ioc_users"], departments)
    server.wsgi_app = ServerTiming(server.wsgi_app)
    return plans, _client_sender(server.test_client(), secrets)


def test_every_event_of_the_script_has_at_least_eight_working_departments(portal_app):
    city = portal_app.server.extensions["ioc_services"].city
    departments = department_ids(city)
    plans = events.event_plans(20, builtin_plans(departments), city, departments)

    assert len(plans) == 20 and len({p.plan for p in plans}) == 3
    for p in plans:
        assert len(set(p.working)) >= events.MIN_DEPARTMENTS
        assert {p.supporter, p.returner}.isdisjoint(p.working) and p.supporter != p.returner
        assert p.asks_support in p.working


def test_the_script_takes_every_event_from_start_to_close_through_the_api(city_events):
    plans, send = city_events
    samples: dict[str, events.Samples] = {}

    live = events.play(events.script(plans), send, samples, rate=1000.0, concurrency=1)

    refused = {action: s.refusals for action, s in samples.items() if s.errors or s.skipped}
    assert refused == {}
    assert [live.get(p.index)["status"] for p in plans] == ["closed"] * len(plans)
    assert set(samples) == set(events.ordered_rows())  # every event action, every task action, the reads
    assert all(len(s.server_ms) == len(s.http_ms) > 0 for s in samples.values())  # each answer had its server time
    closed = live.get(0)
    done = [t["department"] for t in closed["tasks"] if t["status"] == "done"]
    assert len(done) >= events.MIN_DEPARTMENTS


def test_the_wall_is_timed_with_an_event_changing_before_each_tick(city_events):
    plans, send = city_events
    phases = events.script(plans)
    until = [p.name for p in phases].index(events.WALL_AFTER) + 1
    live = events.play(phases[:until], send, {}, rate=1000.0, concurrency=1)  # the departments on site
    ticked = []

    class Wall:
        def tick(self):
            ticked.append(max(live.get(p.index)["version"] for p in plans))

    events.changing_ticks(Wall(), live, plans, send, 4)

    assert len(ticked) == 4 and ticked == sorted(ticked) and ticked[0] < ticked[-1]


def test_the_wall_s_tick_callbacks_are_those_on_the_tick_with_every_input_and_output_on_the_page():
    def dep(output, *inputs):
        return {"output": output, "inputs": [{"id": i, "property": p} for i, p in inputs], "state": []}

    on_page = {"tick": 1, "clock": 1, "lang": 1, "kpi": 1, "map": 1}
    deps = [
        dep("clock.children", ("tick", "n_intervals")),
        dep("..kpi.children...map.viewport..", ("tick", "n_intervals"), ("lang", "data")),
        dep("ranking.rowData", ("tick", "n_intervals")),  # another page's
        dep("map.center", ("lang", "data")),  # not on the tick
        {"output": "x.children", "inputs": [{"id": {"type": "row", "index": "ALL"}, "property": "n_clicks"}]},
    ]

    found = events.tick_callbacks(deps, on_page)

    assert [d["output"] for d in found] == ["clock.children", "..kpi.children...map.viewport.."]


def test_the_wall_keeps_between_ticks_what_the_answer_sent_for_its_state_as_a_browser_does():
    body = {"inputs": [{"id": "tick", "property": "n_intervals", "value": 1}, {"id": "lang", "property": "data", "value": "zh"}],
            "state": [{"id": "ev-wall-shown", "property": "data", "value": None}, {"id": "ev-wall-pick", "property": "data", "value": ""}]}
    answer = b'{"multi": true, "response": {"ev-wall-shown": {"data": {"key": [7], "id": "EV-1"}}, "ev-wall-banner": {"children": []}}}'

    events.carry_state(body, answer)
    events.carry_state(body, b"")  # nothing sent (no change): the state stays

    assert body["state"] == [{"id": "ev-wall-shown", "property": "data", "value": {"key": [7], "id": "EV-1"}},
                             {"id": "ev-wall-pick", "property": "data", "value": ""}]
    assert body["inputs"][0]["value"] == 3


def test_each_action_row_has_its_target_and_a_refused_action_fails_its_row():
    fast = events.Samples(server_ms=[5.0] * 20, http_ms=[8.0] * 20)
    refused = events.Samples(server_ms=[5.0] * 20, http_ms=[8.0] * 20, errors=1, refusals=["409 conflict: stale"])
    slow = events.Samples(server_ms=[5.0] * 10 + [80.0] * 10, http_ms=[90.0] * 20)
    read = events.Samples(server_ms=[70.0] * 5, http_ms=[75.0] * 5)

    rows = events.results({"task report": slow, "start": fast, "close": refused, "read event": read}, None, None,
                          {"events": 20}).measurements

    by_name = {m.name: m for m in rows}
    assert [m.name for m in rows] == ["event start (server) p95", "event close (server) p95", "task report (server) p95",
                                      "read event (server) p95"]
    assert all(isinstance(m, Measurement) and m.scenario == "events" and m.unit == "ms" for m in rows)
    assert (by_name["event start (server) p95"].target, by_name["event start (server) p95"].passed) == ("≤ 50 ms", True)
    assert by_name["event close (server) p95"].passed is False
    assert by_name["event close (server) p95"].detail["refusals"] == ["409 conflict: stale"]
    assert by_name["task report (server) p95"].passed is False
    assert by_name["read event (server) p95"].target == "≤ 100 ms"
    assert {"server_p50_ms", "http_p50_ms", "http_p95_ms", "samples"} <= set(by_name["event start (server) p95"].detail)


def test_the_server_time_is_read_from_the_server_timing_header():
    assert server_ms({"Server-Timing": "app;dur=12.5"}) == 12.5
    assert server_ms({"Server-Timing": "db;dur=3, app;desc=\"x\";dur=7"}) == 7.0
    assert server_ms({}) is None
