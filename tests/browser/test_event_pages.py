"""Linked events (大联动) in a real headless Chromium: starting an event from the wall, the wall in
event mode at 1920×1080 (banner, area fitted on the map, task board with overdue tasks in red,
the newest log, tabs for several events, the proposal banner), and the event page as the
dispatcher, the leader, the department handler and the operator each see it and act on it."""

from __future__ import annotations

import time

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from ioc.domain.access import Principal
from ioc.domain.event_triggers import Evidence, Proposal
from ioc.web.app import create_app
from tests.conftest import wait_for

DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}), "李调度")
LEADER = Principal("setup-leader", frozenset({"leader"}), "陈刚")
WATER = Principal("setup-water", frozenset({"handler"}), "王水务", department="water_affairs")
M = 60_000


@pytest.fixture
def portal(dash_duo, settings):
    """dash_duo with the app running, nobody signed in; `.events` is the app's event service."""
    app = create_app(settings)
    dash_duo.start_server(app, navigate=False)
    dash_duo.events = app.server.extensions["ioc_services"].events
    return dash_duo


def text(duo, selector: str) -> str:
    """The rendered text of the first element matching `selector` ('' when none), read in one step."""
    return duo.driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';",
                                     selector)


def count(duo, selector: str) -> int:
    return duo.driver.execute_script("return document.querySelectorAll(arguments[0]).length;", selector)


def visible(duo, selector: str) -> bool:
    return duo.driver.execute_script(
        "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0;", selector)


def click(duo, selector: str) -> None:
    """Click the element (found again if a render replaced it in between)."""
    until(lambda: duo.driver.execute_script(
        "const e = document.querySelector(arguments[0]); if (!e || !e.getClientRects().length) return false; e.click(); return true;",
        selector), timeout=15)


def visible_buttons(duo) -> list[str]:
    return [b.get_attribute("id") for b in duo.driver.find_elements(By.CSS_SELECTOR, ".case-actions .case-buttons button")
            if b.is_displayed()]


def pick(duo, dropdown_id: str, label: str) -> None:
    """Choose `label` in the dcc.Dropdown `dropdown_id`."""
    duo.select_dcc_dropdown(f"#{dropdown_id}", value=label)
    duo.find_element(f"#{dropdown_id}").send_keys(Keys.ESCAPE)


def flood(duo, at_ms: int | None = None, district: str = "yangshe", title: str = "杨舍城区内涝", level: str = "IV"):
    return duo.events.start(DISPATCHER, plan="flood", level=level, district=district, title=title, now_ms=at_ms)


# ---- the wall -----------------------------------------------------------------------------------

def test_a_dispatcher_starts_an_event_from_the_wall_and_the_wall_follows_it(portal, sign_in_as):
    sign_in_as("dispatcher", name="lidiao", display_name="李调度", next_path="/")
    portal.wait_for_element("#ev-wall-start-open", timeout=15)
    assert text(portal, "#bigscreen-grid") and "event-mode" not in portal.find_element("#bigscreen-grid").get_attribute("class")
    click(portal, "#ev-wall-start-open")
    wait_for(lambda: visible(portal, "#ev-wall-start"), message="the start dialog")
    wait_for(lambda: text(portal, "#ev-wall-start-plan") == "防汛", message="the first plan chosen")
    wait_for(lambda: text(portal, "#ev-wall-start-level") == "Ⅳ级（一般）", message="its first level")
    pick(portal, "ev-wall-start-district", "锦丰镇")
    portal.find_element("#ev-wall-start-title").send_keys("锦丰沿江低洼积水")
    click(portal, "#ev-wall-start-submit")
    wait_for(lambda: "event-mode" in portal.find_element("#bigscreen-grid").get_attribute("class"), timeout=20,
             message="the wall in event mode")
    wait_for(lambda: "锦丰沿江低洼积水" in text(portal, "#ev-wall-banner"), message="the banner")
    assert "防汛 · Ⅳ级" in text(portal, "#ev-wall-banner") and "李调度" in text(portal, "#ev-wall-banner")
    assert not visible(portal, "#ev-wall-start")
    wait_for(lambda: count(portal, "#ev-wall-board .ev-task") == 3, message="the task board")
    assert "市水务局" in text(portal, "#ev-wall-board") and "锦丰镇人民政府" in text(portal, "#ev-wall-board")
    # the area is drawn on the map (a dashed outline) and the map fits it
    wait_for(lambda: count(portal, "#map path[stroke-dasharray]") >= 1, message="the area on the map")
    assert [e.id for e in portal.events.active_events()][0].startswith("EV-")
    assert portal.get_logs() == []


def test_the_wall_in_event_mode_at_1080p(portal, sign_in_as):
    event = flood(portal, at_ms=int(time.time() * 1000) - 50 * M)  # 50 minutes ago: past every limit to acknowledge and arrive
    portal.events.task_act(event.id, "water_affairs", "acknowledge", WATER)
    sign_in_as("operator", name="zhangsan", display_name="张三", next_path="/")
    wait_for(lambda: "event-mode" in portal.find_element("#bigscreen-grid").get_attribute("class"), timeout=20,
             message="the wall in event mode")
    wait_for(lambda: count(portal, "#ev-wall-board .ev-task") == 3, message="the task board")
    assert "已持续 50 分钟" in text(portal, "#ev-wall-banner") or "已持续 51 分钟" in text(portal, "#ev-wall-banner")
    assert "处置中" in text(portal, "#ev-wall-banner")  # the first acknowledgement: responding
    assert count(portal, "#ev-wall-board .ev-task.overdue") == 3  # two not acknowledged, the lead not on site in time
    red = portal.driver.execute_script(
        "return getComputedStyle(document.querySelector('#ev-wall-board .ev-task.overdue .ev-task-deadline')).color")
    assert red == "rgb(255, 107, 96)"
    assert "市水务局签收任务" in text(portal, "#ev-wall-log")
    # nothing overflows the 1920×1080 wall: the page does not scroll, the board and banner fit their boxes
    assert portal.driver.execute_script("return document.documentElement.scrollHeight <= window.innerHeight")
    assert portal.driver.execute_script(
        "const m = document.querySelector('#map').getBoundingClientRect(); return m.height > 400 && m.bottom <= window.innerHeight")
    # the operator watches: no start button, the proposal banner hidden (none)
    assert not visible(portal, "#ev-wall-start-open") and not visible(portal, "#ev-wall-proposal")
    # a second event: tabs, and a picked one stays on the wall
    other = flood(portal, district="jinfeng", title="锦丰港区积水", level="III")
    wait_for(lambda: count(portal, "#ev-wall-tabs .ev-tab") == 3, timeout=20, message="a tab per event and the rotate switch")
    click(portal, f"#ev-wall-tabs button[title='锦丰港区积水']")
    wait_for(lambda: "锦丰港区积水" in text(portal, "#ev-wall-banner"), message="the picked event")
    assert other.id
    assert portal.get_logs() == []


def test_the_wall_shows_a_proposal_that_a_dispatcher_confirms(portal, sign_in_as):
    evidence = (Evidence("wl-1", "暨阳湖水位站", "yangshe", "water_level", "waterLevel", 4.32, 4.2, 0, ">="),
                Evidence("wl-2", "锦丰港水位站", "jinfeng", "water_level", "waterLevel", 4.25, 4.2, 0, ">="))
    proposal = Proposal("flood:IV", "flood", "IV", evidence, ("yangshe", "jinfeng"), int(time.time() * 1000))
    portal.events.store.put_proposals({proposal.id: proposal.to_dict()})
    sign_in_as("dispatcher", name="lidiao", display_name="李调度", next_path="/")
    wait_for(lambda: visible(portal, "#ev-wall-proposal"), timeout=20, message="the proposal banner")
    assert "建议启动防汛Ⅳ级响应" in text(portal, "#ev-wall-proposal") and "暨阳湖水位站" in text(portal, "#ev-wall-proposal")
    click(portal, "#ev-wall-confirm")
    wait_for(lambda: "event-mode" in portal.find_element("#bigscreen-grid").get_attribute("class"), timeout=20,
             message="the event started from the proposal")
    wait_for(lambda: not visible(portal, "#ev-wall-proposal"), message="the proposal gone")
    assert portal.get_logs() == []


# ---- the event page as each role --------------------------------------------------------------------

def test_the_event_page_as_the_dispatcher_raises_the_level(portal, sign_in_as):
    event = flood(portal)
    sign_in_as("dispatcher", name="lidiao", display_name="李调度", next_path=f"/event/{event.id}")
    wait_for(lambda: "杨舍城区内涝" in text(portal, "#event-banner"), timeout=20, message="the banner")
    wait_for(lambda: "ev-act-level" in visible_buttons(portal), message="the command buttons")
    assert set(visible_buttons(portal)) == {"ev-act-level", "ev-act-add_task", "ev-act-withdraw_task", "ev-act-contain",
                                            "ev-act-cancel"}
    assert count(portal, "#event-tasks .ev-task") == 3
    wait_for(lambda: count(portal, "#event-map path[stroke-dasharray]") >= 1, message="the area on the map")
    pick(portal, "ev-act-level-pick", "升级 → Ⅲ级（较大）")
    portal.find_element("#ev-act-text").send_keys("水位持续上涨")
    click(portal, "#ev-act-level")
    wait_for(lambda: text(portal, "#event-message") == "已办理：调整响应级别", message="the level change")
    wait_for(lambda: count(portal, "#event-tasks .ev-task") == 5, message="the new level's tasks")
    assert "Ⅲ级（较大）" in text(portal, "#event-banner")
    wait_for(lambda: "由Ⅳ级（一般）升级为Ⅲ级（较大）：水位持续上涨" in text(portal, "#event-log"), message="the log")
    assert portal.get_logs() == []


def test_a_stale_event_page_says_it_changed_meanwhile_and_reloads(portal, sign_in_as):
    event = flood(portal)
    sign_in_as("leader", name="chengang", display_name="陈刚", next_path=f"/event/{event.id}")
    wait_for(lambda: "ev-act-instruct" in visible_buttons(portal), timeout=20, message="the leader's buttons")
    portal.events.act(event.id, "contain", DISPATCHER)  # someone else, meanwhile
    portal.find_element("#ev-act-text").send_keys("务必确保群众安全")
    click(portal, "#ev-act-instruct")
    wait_for(lambda: "已被他人更新" in text(portal, "#event-message"), message="the conflict message")
    wait_for(lambda: "已控制" in text(portal, "#event-status"), message="the page reloaded")
    click(portal, "#ev-act-instruct")
    wait_for(lambda: text(portal, "#event-message") == "已办理：发布批示", message="the instruction")
    wait_for(lambda: "务必确保群众安全" in text(portal, "#event-instructions"), message="the instruction listed")
    assert "市水务局" in text(portal, "#event-instructions .ev-pending")
    assert portal.get_logs() == []


def test_the_event_page_as_the_handler_works_its_task_and_acknowledges_the_instruction(portal, sign_in_as):
    event = flood(portal)
    portal.events.task_act(event.id, "water_affairs", "acknowledge", WATER)
    portal.events.instruct(event.id, LEADER, text="加强巡查")
    sign_in_as("handler", name="water1", display_name="王水务", department="water_affairs", next_path=f"/event/{event.id}")
    # the frame's notice: an instruction to acknowledge
    wait_for(lambda: "领导批示待确认：加强巡查" in text(portal, "#ev-notices"), timeout=20, message="the notice")
    wait_for(lambda: visible_buttons(portal) == ["ev-task-arrive", "ev-task-return", "ev-task-support"], message="its task's next actions")
    click(portal, "#ev-task-arrive")
    wait_for(lambda: text(portal, "#event-message") == "已办理：到场", message="arrived")
    wait_for(lambda: "ev-task-report" in visible_buttons(portal), message="the next actions")
    click(portal, "button[id*='ev-ack-instr']")
    wait_for(lambda: text(portal, "#event-message") == "已办理：确认批示", message="the instruction acknowledged")
    wait_for(lambda: text(portal, "#ev-notices") == "", timeout=20, message="the notice gone")
    assert portal.events.store.get(event.id).task("water_affairs").status == "on_site"
    assert portal.get_logs() == []


def test_the_event_page_as_the_operator_only_reads(portal, sign_in_as):
    event = flood(portal)
    sign_in_as("operator", name="zhangsan", display_name="张三", next_path=f"/event/{event.id}")
    wait_for(lambda: "杨舍城区内涝" in text(portal, "#event-banner"), timeout=20, message="the banner")
    wait_for(lambda: visible(portal, "#ev-no-actions"), message="nothing to do")
    assert visible_buttons(portal) == []
    assert "启动防汛Ⅳ级（一般）响应" in text(portal, "#event-log")
    assert portal.get_logs() == []


def test_the_tasks_page_and_the_notice_as_the_handler(portal, sign_in_as):
    event = flood(portal)
    sign_in_as("handler", name="urban1", display_name="赵城管", department="urban_management", next_path="/tasks")
    wait_for(lambda: "新联动任务：杨舍城区内涝" in text(portal, "#ev-notices"), timeout=20, message="the notice")
    wait_for(lambda: event.id in text(portal, "#tasks-events"), message="the event task on /tasks")
    click(portal, "#ev-notices button")
    wait_for(lambda: text(portal, "#ev-notices") == "", timeout=20, message="the notice gone once acknowledged")
    wait_for(lambda: "已签收" in text(portal, "#tasks-events"), timeout=20, message="the task acknowledged")
    assert portal.events.store.get(event.id).task("urban_management").status == "acknowledged"
    assert portal.get_logs() == []


def test_a_dispatcher_draws_the_area_on_the_events_page_and_starts_the_event(portal, sign_in_as):
    from selenium.webdriver.common.action_chains import ActionChains

    sign_in_as("dispatcher", name="lidiao", display_name="李调度", next_path="/events")
    wait_for(lambda: visible(portal, "#ev-start-form") and text(portal, "#ev-start-level") == "Ⅳ级（一般）", timeout=20,
             message="the start form")
    click(portal, "#ev-start-area-kind input[value='draw']")
    wait_for(lambda: text(portal, "#ev-start-area-msg") == "用地图左上角的工具画一个圆形或多边形，最后画的为准。", message="the hint")
    portal.driver.execute_script("document.querySelector('#ev-start-map').scrollIntoView({block: 'center'})")
    click(portal, "#ev-start-map .leaflet-draw-draw-circle")
    map_box = portal.find_element("#ev-start-map")
    ActionChains(portal.driver).move_to_element(map_box).click_and_hold().move_by_offset(60, 0).release().perform()
    wait_for(lambda: text(portal, "#ev-start-area-msg").startswith("已绘制圆形：半径"), message="the circle drawn")
    portal.find_element("#ev-start-title").send_keys("化工园区疑似泄漏")
    click(portal, "#ev-start-submit")
    wait_for(lambda: text(portal, "#ev-start-message").startswith("已启动联动事件"), message="the event started")
    event = portal.events.active_events()[0]
    assert event.area.kind == "circle" and event.area.radius_m >= 50 and event.title == "化工园区疑似泄漏"
    wait_for(lambda: event.id in text(portal, "#events-grid"), timeout=20, message="the event listed")
    assert portal.get_logs() == []
