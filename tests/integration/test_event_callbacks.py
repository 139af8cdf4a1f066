"""The linked events' callbacks (callbacks/events.py) called as plain functions (`signed_in`: a
request of the app on the test Redis with a signed-in principal, in a Dash callback context):
the events page and its start form, the event page and its actions per role, the wall's event
mode, the department's tasks and notices, the district page and the indicators. Who may run each
callback at all is the guard's (tests/integration/test_access_matrix.py); the rules of each
action are the event service's (its own tests); these are the callbacks' decisions and words."""

from __future__ import annotations

import json

import orjson
import pytest
from dash import no_update
from dash._callback_context import context_value
from flask import g

from callbacks import events as cb
from ioc.domain.access import Principal
from ioc.domain.event_triggers import Evidence, Proposal
from ioc.i18n import t
from layouts.cases import HIDDEN_LAID_OUT

DISPATCHER = Principal("lidiao", frozenset({"dispatcher"}), "李调度")
KIOSK = Principal("kiosk:wall", frozenset({"operator"}), kind="kiosk", read_only=True)
OUT = {o.component_id + "." + o.component_property: i for i, o in enumerate(cb.LOAD_OUTPUTS)}
WALL = {o.component_id + "." + o.component_property: i for i, o in enumerate(cb.WALL_OUTPUTS)}


def services_of(portal_app):
    return portal_app.server.extensions["ioc_services"]


@pytest.fixture
def event(portal_app):
    """A flood event at level IV in 杨舍, started by the dispatcher 李调度."""
    return services_of(portal_app).events.start(DISPATCHER, plan="flood", level="IV", district="yangshe", title="杨舍城区内涝")


def text_of(value) -> str:
    return json.dumps(orjson.loads(orjson.dumps(value, default=lambda c: c.to_plotly_json())), ensure_ascii=False, default=str)


def shown_buttons(outputs) -> list[str]:
    names = [f"ev-act-{a}" for a in cb.EVENT_BUTTONS] + [f"ev-task-{a}" for a in cb.TASK_BUTTONS]
    return [n for n in names if outputs[OUT[f"{n}.style"]] == cb.SHOWN]


def with_states(*states) -> None:
    """The pattern-matched States the renderer would send with the callback (`ctx.states_list`)."""
    context_value.get().states_list = list(states)


# ---- /events --------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, shown", [("dispatcher", cb.SHOWN), ("leader", cb.SHOWN), ("operator", HIDDEN_LAID_OUT),
                                         ("handler", HIDDEN_LAID_OUT)])
def test_the_start_form_is_for_command_roles(signed_in, role, shown):
    with signed_in(role, department="water_affairs" if role == "handler" else ""):
        style, options, first, _ = cb.events_setup("events-page", "zh")
    assert style == shown
    assert [o["label"] for o in options][:4] == ["防汛", "水污染", "大客流", "危化品泄漏"] and first == "flood"


def test_the_level_choice_offers_the_plans_own_levels(signed_in, portal_app):
    with signed_in("dispatcher"):
        options, first = cb.start_levels("flood", "en")
        none, nothing = cb.start_levels("no-such-plan", "zh")
    assert [o["value"] for o in options] == list(services_of(portal_app).events.plan("flood").level_ids) and first == "IV"
    assert options[0]["label"] == "Level IV (General)" and (none, nothing) == ([], None)


def test_a_district_area_is_previewed_on_the_map(signed_in):
    with signed_in("dispatcher"):
        area, _, preview = cb.area_input("district", "yangshe", None, None, "zh")
    assert area == {"type": "district", "district": "yangshe"}
    assert preview["features"][0]["properties"]["district"] == "yangshe"


def test_a_circle_drawn_with_the_map_tools_becomes_the_area(signed_in):
    drawn = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.556, 31.872]},
         "properties": {"type": "circle", "_radius": 1500.4}}]}
    with signed_in("dispatcher"):
        area, message, preview = cb.area_input("draw", None, drawn, None, "zh")
    assert area == {"type": "circle", "center": [120.556, 31.872], "radius_m": 1500}
    assert message == "已绘制圆形：半径 1500 米" and preview is None


def test_a_polygon_drawn_says_its_corners(signed_in):
    ring = [[120.5, 31.85], [120.6, 31.85], [120.6, 31.9], [120.5, 31.85]]
    drawn = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                                                        "properties": {"type": "polygon"}}]}
    with signed_in("dispatcher"):
        area, message, _ = cb.area_input("draw", None, drawn, None, "en")
    assert area["type"] == "Polygon" and message == "Polygon drawn: 3 corners"


def test_a_cases_place_fills_in_the_area_and_links_the_case(signed_in, portal_app):
    services = services_of(portal_app)
    case, _ = services.cases.report(class_code="10101", lat=31.872, lon=120.556, source="hotline", actor="hotline")
    with signed_in("dispatcher", triggered="ev-start-prefill.n_clicks"):
        prefilled = cb.prefill(1, "case", "", case.id, "zh")
        area, message, preview = cb.area_input("case", None, None, prefilled, "zh")
        _, _, _ = cb.start(1, "flood", "IV", "", "case", area, "", case.id, "", "", 0, "zh")
    assert area == {"type": "circle", "center": [120.556, 31.872], "radius_m": 1000}
    assert message.startswith(f"已带入：案件 {case.id}") and "杨舍镇" in message and preview is not None
    started = services.events.active_events()[0]
    assert started.cases == (case.id,) and started.area.kind == "circle"


def test_the_case_pages_link_opens_the_start_form_on_that_case(signed_in, portal_app):
    services = services_of(portal_app)
    case, _ = services.cases.report(class_code="10101", lat=31.872, lon=120.556, source="hotline", actor="hotline")
    with signed_in("dispatcher", triggered="events-page.id"):
        kind, alarm_id, case_id, prefilled = cb.start_from_link("events-page", f"?case={case.id}", "zh")
    assert (kind, alarm_id, case_id) == ("case", "", case.id)
    assert prefilled["area"] == {"type": "circle", "center": [120.556, 31.872], "radius_m": 1000}


@pytest.mark.parametrize("role, search", [("dispatcher", ""), ("operator", "?case=ZJG-20260101-000001")])
def test_the_events_page_without_a_case_or_for_a_reader_sets_nothing(signed_in, role, search):
    with signed_in(role, triggered="events-page.id"):
        assert cb.start_from_link("events-page", search, "zh") == (no_update,) * 4


def test_a_commander_finds_the_way_to_start_an_event_on_the_console_and_the_case_page(portal_app):
    from layouts.cases import case_page, console_page
    city = services_of(portal_app).city
    assert "/events?case=ZJG-20260101-000001" in str(case_page(city, "ZJG-20260101-000001", "zh", can_command=True))
    assert "/events?case=" not in str(case_page(city, "ZJG-20260101-000001", "zh", can_command=False))
    assert "'/events'" in str(console_page(city, "zh", can_command=True))


def test_an_unknown_alarm_fills_in_nothing_and_says_so(signed_in):
    with signed_in("dispatcher", triggered="ev-start-prefill.n_clicks"):
        prefilled = cb.prefill(1, "alarm", "no-such|alarm", "", "zh")
        area, message, preview = cb.area_input("alarm", None, None, prefilled, "zh")
    assert (area, message, preview) == (None, t("ev_prefill_missing", "zh"), None)


def test_a_dispatcher_starts_an_event_and_the_list_shows_it(signed_in, portal_app):
    with signed_in("dispatcher", name="lidiao", triggered="ev-start-submit.n_clicks"):
        message, started, note = cb.start(1, "flood", "III", "长江水位超警", "district", {"type": "district", "district": "jinfeng"},
                                          None, None, "沿江巡查", "", 0, "zh")
    assert started == 1 and note == ""
    event_id = message[1].children
    assert event_id.startswith("EV-") and message[1].href == f"/event/{event_id}"
    with signed_in("dispatcher"):
        rows, key = cb.events_list(1, "live", None, None, 1, "zh", None)
        again = cb.events_list(2, "live", None, None, 1, "zh", key)
    assert [(r["id"], r["level"], r["districts"]) for r in rows] == [(event_id, "Ⅲ级（较大）", "锦丰镇")]
    assert again == (no_update, no_update)  # nothing changed: nothing sent


def test_an_event_without_an_area_is_refused_naming_the_area(signed_in):
    with signed_in("dispatcher", triggered="ev-start-submit.n_clicks"):
        message, started, _ = cb.start(1, "flood", "IV", "", "draw", None, None, None, "", "", 0, "zh")
    assert started is no_update and message == "未能办理：请检查“事件范围”"


def test_a_handler_sees_only_the_events_its_department_has_a_task_in(signed_in, event):
    with signed_in("handler", department="water_affairs"):
        mine = cb.events_list(1, "live", None, None, 0, "zh", None)[0]
    with signed_in("handler", department="landscaping"):
        other = cb.events_list(1, "live", None, None, 0, "zh", None)[0]
    assert [r["id"] for r in mine] == [event.id] and other == []


# ---- proposals ----------------------------------------------------------------------------------

@pytest.fixture
def proposal(portal_app):
    """A current proposal to start the flood plan at level IV (two gauges over the warning line)."""
    store = services_of(portal_app).events.store
    evidence = (Evidence("wl-1", "暨阳湖水位站", "yangshe", "water_level", "waterLevel", 4.32, 4.2, 0, ">="),
                Evidence("wl-2", "锦丰港水位站", "jinfeng", "water_level", "waterLevel", 4.25, 4.2, 0, ">="))
    p = Proposal("flood:IV", "flood", "IV", evidence, ("yangshe", "jinfeng"), 1)
    store.put_proposals({p.id: p.to_dict()})
    return p


def test_a_proposal_shows_its_evidence_and_buttons_only_for_command_roles(signed_in, proposal):
    with signed_in("dispatcher"):
        cards, _ = cb.proposals(1, 0, "zh", None)
    with signed_in("operator"):
        read_only, _ = cb.proposals(1, 0, "zh", None)
    text = text_of(cards)
    assert "建议启动防汛Ⅳ级响应" in text and "暨阳湖水位站" in text and "4.32 m" in text
    assert "ev-prop-confirm" in text and "ev-prop-confirm" not in text_of(read_only)
    assert t("ev_read_only", "zh") in text_of(read_only)


def test_dismissing_a_proposal_needs_a_reason(signed_in, proposal):
    trigger = '{"id":"flood:IV","type":"ev-prop-dismiss"}.n_clicks'
    with signed_in("dispatcher", triggered=trigger):
        with_states([{"id": {"type": "ev-prop-reason", "id": "flood:IV"}, "property": "value", "value": ""}])
        refused = cb.proposal_act([0], [1], [""], 0, "zh")
        with_states([{"id": {"type": "ev-prop-reason", "id": "flood:IV"}, "property": "value", "value": "潮位回落，继续观察"}])
        done = cb.proposal_act([0], [1], ["潮位回落，继续观察"], 0, "zh")
    assert refused == (t("ev_dismiss_need_reason", "zh"), no_update)
    assert done == (t("ev_dismissed", "zh"), 1)


def test_confirming_a_proposal_starts_its_event(signed_in, proposal, portal_app):
    with signed_in("leader", triggered='{"id":"flood:IV","type":"ev-prop-confirm"}.n_clicks'):
        message, changed = cb.proposal_act([1], [0], [""], 0, "zh")
    event = services_of(portal_app).events.store.get(message[1].children)
    assert (event.plan, event.level, event.proposal) == ("flood", "IV", "flood:IV") and changed == 1


# ---- /event/<id> ----------------------------------------------------------------------------------

def test_the_event_page_shows_a_commander_the_command_actions(signed_in, event):
    with signed_in("dispatcher", triggered="event-id.data"):
        outputs = cb.load_event(event.id, 0, 0, 0, "zh", None)
    assert outputs[OUT["event-missing.style"]] == cb.HIDDEN
    assert set(shown_buttons(outputs)) == {"ev-act-level", "ev-act-add_task", "ev-act-withdraw_task", "ev-act-contain",
                                           "ev-act-cancel"}
    assert [o["value"] for o in outputs[OUT["ev-act-level-pick.options"]]] == ["III", "II", "I"]
    assert outputs[OUT["event-map-area.data"]]["features"][0]["properties"]["district"] == "yangshe"
    assert "防汛 · Ⅳ级（一般）" in text_of(outputs[OUT["event-banner.children"]])


def test_a_leader_may_also_instruct(signed_in, event):
    with signed_in("leader", triggered="event-id.data"):
        assert "ev-act-instruct" in shown_buttons(cb.load_event(event.id, 0, 0, 0, "zh", None))


def test_a_handler_sees_its_tasks_next_actions_only(signed_in, event):
    with signed_in("handler", department="water_affairs", triggered="event-id.data"):
        outputs = cb.load_event(event.id, 0, 0, 0, "zh", None)
    assert shown_buttons(outputs) == ["ev-task-acknowledge", "ev-task-return"]
    assert outputs[OUT["event-task-version.data"]] == 1
    assert outputs[OUT["ev-my-task.children"]].startswith("市水务局 · 已下达")


def test_an_operator_reads_the_event_without_actions(signed_in, event):
    with signed_in("operator", triggered="event-id.data"):
        outputs = cb.load_event(event.id, 0, 0, 0, "zh", None)
    assert shown_buttons(outputs) == [] and outputs[OUT["ev-no-actions.style"]] == cb.SHOWN


def test_another_departments_handler_is_told_there_is_no_such_event(signed_in, event):
    with signed_in("handler", department="landscaping", triggered="event-id.data"):
        outputs = cb.load_event(event.id, 0, 0, 0, "zh", None)
    assert outputs[OUT["event-missing.style"]] == cb.SHOWN and outputs[OUT["event-body.style"]] == cb.HIDDEN


def test_a_periodic_reread_sends_nothing_while_the_event_is_as_shown(signed_in, event):
    with signed_in("dispatcher", triggered="event-id.data"):
        first = cb.load_event(event.id, 0, 0, 0, "zh", None)
    shown = first[OUT["event-shown.data"]]
    with signed_in("dispatcher", triggered="event-tick.n_intervals"):
        again = cb.load_event(event.id, 0, 1, 0, "zh", shown)
    with signed_in("dispatcher", triggered="event-changed.data"):
        reloaded = cb.load_event(event.id, 1, 1, 0, "zh", shown)
    assert again == [no_update] * len(cb.LOAD_OUTPUTS)
    assert reloaded[OUT["event-map-area.data"]] is no_update  # the area's geometry once per event
    assert reloaded[OUT["event-tasks.children"]] is not no_update


def test_a_handler_acknowledges_its_task_on_the_event_page(signed_in, event, portal_app):
    with signed_in("handler", name="water-1", department="water_affairs", triggered="ev-task-acknowledge.n_clicks"):
        message, changed, text = cb.act(*[0] * (len(cb.EVENT_BUTTONS) + len(cb.TASK_BUTTONS)), [], event.id, event.version, 1,
                                        None, None, "", 0, "zh")
    assert message == "已办理：签收" and changed == 1 and text == ""
    stored = services_of(portal_app).events.store.get(event.id)
    assert stored.task("water_affairs").status == "acknowledged" and stored.status == "responding"


def test_a_stale_version_says_the_event_changed_meanwhile_and_reloads(signed_in, event, portal_app):
    services_of(portal_app).events.act(event.id, "contain", DISPATCHER)
    with signed_in("leader", triggered="ev-act-cancel.n_clicks"):
        message, changed, text = cb.act(*[0] * (len(cb.EVENT_BUTTONS) + len(cb.TASK_BUTTONS)), [], event.id, event.version, None,
                                        None, None, "误报", 3, "zh")
    assert message == t("ev_conflict", "zh") and changed == 4 and text is no_update
    assert services_of(portal_app).events.store.get(event.id).status == "contained"


def test_a_refused_action_names_the_missing_reason(signed_in, event):
    with signed_in("dispatcher", triggered="ev-act-level.n_clicks"):
        message, _, _ = cb.act(*[0] * (len(cb.EVENT_BUTTONS) + len(cb.TASK_BUTTONS)), [], event.id, event.version, None, "III",
                               None, "", 0, "zh")
    assert message == "未能办理：请检查“原因”"


def test_a_commander_raises_the_level_with_a_reason(signed_in, event, portal_app):
    with signed_in("dispatcher", triggered="ev-act-level.n_clicks"):
        message, _, _ = cb.act(*[0] * (len(cb.EVENT_BUTTONS) + len(cb.TASK_BUTTONS)), [], event.id, event.version, None, "III",
                               None, "水位持续上涨", 0, "zh")
    assert message == "已办理：调整响应级别"
    assert services_of(portal_app).events.store.get(event.id).level == "III"


# ---- the wall -----------------------------------------------------------------------------------

def test_the_wall_is_calm_without_events(signed_in):
    with signed_in("operator"):
        outputs = cb.wall(1, "zh", None, None)
    assert outputs[WALL["bigscreen-grid.className"]] == "bigscreen"
    assert outputs[WALL["map-event-area.data"]] is no_update
    assert outputs[WALL["ev-wall-proposal.className"]] == "ev-wall-proposal hidden"


def test_the_wall_follows_a_live_event_and_sends_its_area_once(signed_in, event):
    with signed_in("operator"):
        first = cb.wall(1, "zh", None, None)
        again = cb.wall(2, "zh", None, first[WALL["ev-wall-shown.data"]])
        moved = cb.wall(3, "zh", None, {**first[WALL["ev-wall-shown.data"]], "key": []})
    assert first[WALL["bigscreen-grid.className"]] == "bigscreen event-mode"
    assert "杨舍城区内涝" in text_of(first[WALL["ev-wall-banner.children"]])
    assert "市水务局" in text_of(first[WALL["ev-wall-board.children"]])
    assert first[WALL["map-event-area.data"]]["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert again == [no_update] * len(cb.WALL_OUTPUTS)
    assert moved[WALL["map-event-area.data"]] is no_update and moved[WALL["ev-wall-board.children"]] is not no_update


def test_the_wall_sends_the_tabs_and_the_linked_points_again_only_when_they_changed(signed_in, event, portal_app):
    services_of(portal_app).events.start(DISPATCHER, plan="crowd", level="IV", district="jinfeng", title="步行街客流")
    with signed_in("operator"):
        first = cb.wall(1, "zh", event.id, None)
        shown = first[WALL["ev-wall-shown.data"]]
        moved = cb.wall(2, "zh", event.id, {**shown, "key": ""})  # the event shown changed (its version moved)
    assert first[WALL["ev-wall-tabs.children"]] and first[WALL["map-event-linked.data"]]["type"] == "FeatureCollection"
    assert moved[WALL["ev-wall-tabs.children"]] is no_update and moved[WALL["map-event-linked.data"]] is no_update
    assert moved[WALL["ev-wall-board.children"]] is not no_update


def test_the_wall_draws_at_most_its_share_of_linked_points_the_event_s_own_alarm_first(signed_in, event, portal_app, monkeypatch,
                                                                                         redis_client, settings):
    from ioc.adapters import redis_keys as keys
    from ioc.domain.alarms import Alarm

    services = services_of(portal_app)
    now = int(__import__("time").time() * 1000)
    for n in range(4):
        redis_client.hset(keys.meta(keys.shard_of(f"x-{n}", settings.redis_shards)), f"x-{n}",
                          orjson.dumps({"kind": "water_level", "name": f"水位站 {n}", "lon": 120.556 + n * 1e-4, "lat": 31.872,
                                        "district": "yangshe"}))
        services.alarms.raise_alarm(Alarm(f"x-{n}|water_level_warning", f"x-{n}", "water_level", "water_level_warning",
                                          "minor" if n else "critical", "yangshe", "waterLevel", 4.4, 4.2, now, "水位超警",
                                          "Water level"))
    own = services.events.start(DISPATCHER, plan="flood", level="IV", alarm_id="x-3|water_level_warning", district="yangshe",
                                area={"type": "district", "district": "yangshe"})
    services.city_cache.invalidate()
    monkeypatch.setattr(cb, "WALL_LINKED_POINTS", 2)
    with signed_in("operator"):
        layer = cb.wall(1, "zh", own.id, None)[WALL["map-event-linked.data"]]
    assert [f["properties"]["id"] for f in layer["features"]] == ["x-3|water_level_warning", "x-0|water_level_warning"]


def test_the_wall_goes_back_to_the_whole_city_when_the_last_event_ends(signed_in, event, portal_app):
    with signed_in("operator"):
        shown = cb.wall(1, "zh", None, None)[WALL["ev-wall-shown.data"]]
    services_of(portal_app).events.act(event.id, "cancel", DISPATCHER, reason="误报")
    with signed_in("operator"):
        calm = cb.wall(2, "zh", None, shown)
    assert calm[WALL["bigscreen-grid.className"]] == "bigscreen"
    assert calm[WALL["map-event-area.data"]]["features"][0]["properties"] == {"frame": True}


def test_several_events_get_tabs_and_a_picked_one_stays(signed_in, event, portal_app):
    other = services_of(portal_app).events.start(DISPATCHER, plan="crowd", level="IV", district="jinfeng", title="步行街客流")
    with signed_in("operator"):
        outputs = cb.wall(1, "zh", other.id, None)
    tabs = text_of(outputs[WALL["ev-wall-tabs.children"]])
    assert event.id in tabs and other.id in tabs and t("ev_wall_rotate", "zh") in tabs
    assert "步行街客流" in text_of(outputs[WALL["ev-wall-banner.children"]])
    with signed_in("operator", triggered=json.dumps({"id": other.id, "type": "ev-wall-tab"}, separators=(",", ":")) + ".n_clicks"):
        assert cb.wall_pick([1, 0, 0]) == other.id


@pytest.mark.parametrize("who, buttons", [("dispatcher", True), ("leader", True), ("operator", False), ("kiosk", False)])
def test_the_walls_proposal_banner_has_buttons_for_command_roles_only(signed_in, proposal, who, buttons):
    with signed_in("operator" if who == "kiosk" else who):
        if who == "kiosk":
            g.ioc_principal = KIOSK
        outputs = cb.wall(1, "zh", None, None)
    assert outputs[WALL["ev-wall-proposal.className"]] == "ev-wall-proposal"
    assert "建议启动防汛Ⅳ级响应" in text_of(outputs[WALL["ev-wall-proposal-text.children"]])
    assert (outputs[WALL["ev-wall-proposal-buttons.style"]] == cb.SHOWN) == buttons


def test_confirming_on_the_wall_starts_the_event_and_shows_it(signed_in, proposal, portal_app):
    with signed_in("dispatcher", triggered="ev-wall-confirm.n_clicks"):
        message, picked, _ = cb.wall_proposal(1, 0, "flood:IV", "", "zh")
    assert services_of(portal_app).events.store.get(picked).proposal == "flood:IV"


def test_starting_from_the_wall_shows_the_new_event(signed_in, portal_app):
    with signed_in("leader", triggered="ev-wall-start-submit.n_clicks"):
        message, dialog, picked = cb.wall_start(1, "hazmat", "II", "jinfeng", "", "zh")
    event = services_of(portal_app).events.store.get(picked)
    assert (event.plan, event.level, event.district, message, dialog) == ("hazmat", "II", "jinfeng", "", "clear-dialog ev-start-dialog hidden")


# ---- a department's tasks and notices --------------------------------------------------------------

def test_a_department_is_notified_of_its_new_task_until_it_acknowledges(signed_in, event):
    with signed_in("handler", department="urban_management"):
        items, key = cb.notices(1, "/tasks", 0, "zh", None)
    assert "新联动任务：杨舍城区内涝" in text_of(items)
    trigger = json.dumps({"event": event.id, "id": "", "kind": "task", "type": "ev-notice-ack"}, separators=(",", ":")) + ".n_clicks"
    with signed_in("handler", name="urban-1", department="urban_management", triggered=trigger):
        message, changed = cb.notice_ack([1], 0, "zh")
    assert message == "已办理：签收" and changed == 1
    with signed_in("handler", department="urban_management"):
        after, _ = cb.notices(2, "/tasks", 1, "zh", key)
    assert after == []


def test_people_without_a_department_cost_the_notices_nothing(signed_in, event):
    with signed_in("dispatcher"):
        assert cb.notices(1, "/", 0, "zh", None) == (no_update, no_update)


def test_the_tasks_page_lists_the_event_task_with_its_actions(signed_in, event, portal_app):
    with signed_in("handler", department="water_affairs"):
        cards, _ = cb.tasks_events(1, 0, "zh", [], None)
    text = text_of(cards)
    assert event.id in text and '"action": "acknowledge"' in text and '"action": "return"' in text
    trigger = json.dumps({"action": "return", "event": event.id, "type": "ev-task-btn", "version": 1}, separators=(",", ":")) + ".n_clicks"
    with signed_in("handler", name="water-1", department="water_affairs", triggered=trigger):
        with_states([{"id": {"type": "ev-task-note", "event": event.id}, "property": "value", "value": "非本部门职责"}])
        message, _ = cb.tasks_event_act([1, 0], [], ["非本部门职责"], 0, "zh")
    assert message == "已办理：退回"
    assert services_of(portal_app).events.store.get(event.id).task("water_affairs").return_reason == "非本部门职责"


def test_a_step_on_a_task_someone_else_moved_meanwhile_is_not_taken(signed_in, event, portal_app):
    water = Principal("water-2", frozenset({"handler"}), department="water_affairs")
    services_of(portal_app).events.task_act(event.id, "water_affairs", "acknowledge", water)  # a colleague, meanwhile
    trigger = json.dumps({"action": "return", "event": event.id, "type": "ev-task-btn", "version": 1}, separators=(",", ":")) + ".n_clicks"
    with signed_in("handler", name="water-1", department="water_affairs", triggered=trigger):
        with_states([{"id": {"type": "ev-task-note", "event": event.id}, "property": "value", "value": "非本部门职责"}])
        message, changed = cb.tasks_event_act([1, 0], [], ["非本部门职责"], 0, "zh")
    assert message == t("ev_conflict", "zh") and changed == 1
    assert services_of(portal_app).events.store.get(event.id).task("water_affairs").status == "acknowledged"


def test_the_district_page_lists_the_events_touching_it(signed_in, event):
    with signed_in("leader"):
        items, _ = cb.district_events(1, "yangshe", "zh", None)
        none, _ = cb.district_events(1, "fenghuang", "zh", None)
    assert event.id in text_of(items) and t("ev_district_none", "zh") in text_of(none)


def test_the_indicators_count_the_events_of_the_period(signed_in, event):
    with signed_in("leader"):
        by_plan, by_department = cb.event_indicators("this_month", 1, "zh")
    assert [(r["name"], r["events"], r["tasks"]) for r in by_plan] == [("防汛", 1, 3)]
    assert {r["name"] for r in by_department} == {"市水务局", "市城市管理局", "杨舍镇人民政府"}
