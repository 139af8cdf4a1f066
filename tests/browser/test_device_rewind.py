"""设备回溯 (`/device/<id>`) in a real headless Chromium against a record filled by SQL: a water-level
gauge with raw readings around a 水位超警戒 alarm. The page shows the device in words, its alarms,
a chart with the rule's threshold and the alarm's markers, and moves its window; the wall's alarm
board links to it. A phone gets it without sideways scrolling, with touch-sized targets.

With IOC_SCREENSHOTS=1 the tests leave /tmp/device-rewind-<name>.png to look at."""

from __future__ import annotations

import json
import os

import pytest
from dash.testing.wait import until

from ioc.adapters.geodata_files import load_city_map
from ioc.record import db
from ioc.web.app import create_app
from tests.browser.screen import DESK, PHONE, emulate, js, reset, text
from tests.browser.test_mobile import layout_problems
from tests.browser.test_wall import Wall
from tests.integration.rewind_fixture import BASE, MIN, fill, ts

RAISED, ACKED, CLEARED = BASE + 20 * MIN, BASE + 25 * MIN, BASE + 50 * MIN


@pytest.fixture
def recorded(record_settings):
    """The rewind fixture's record plus gauge-1's alarm (raised, acknowledged by op1, cleared) and
    a reading every 10 minutes from 2 h before to 2 h after it (rising over the warning line)."""
    city = load_city_map(record_settings.geodata_dir)
    d0 = city.districts[0].id
    fill(record_settings.database_url, d0, city.districts[1].id)
    data = {"id": "gauge-1|water_level_warning", "device_id": "gauge-1", "kind": "water_level", "rule_id": "water_level_warning",
            "severity": "major", "district": d0, "attribute": "waterLevel", "value": 4.3, "threshold": 4.2, "raised_at": RAISED,
            "name_zh": "水位超警戒", "name_en": "Water level above warning line"}
    with db.connection(record_settings.database_url) as conn:
        conn.execute("INSERT INTO alarms (alarm_id, raised_at, cleared_at, acknowledged_at, acknowledged_by, device_id, kind, rule,"
                     " severity, district, data) VALUES (%s,%s,%s,%s,'op1','gauge-1','water_level','water_level_warning','major',%s,%s)",
                     (data["id"], ts(RAISED), ts(CLEARED), ts(ACKED), d0, json.dumps(data)))
        for k in range(-12, 13):
            at = RAISED + k * 10 * MIN
            level = 4.3 if 0 <= k <= 3 else 3.9 + 0.02 * (k + 12) if k < 0 else 4.0
            conn.execute("INSERT INTO readings VALUES (%s,'gauge-1','water_level',%s,0,%s)",
                         (ts(at), f"s0:{at}-0", json.dumps({"waterLevel": round(level, 2), "flowRate": 100.0 + k})))
    yield record_settings
    db.close_pools()


@pytest.fixture
def portal(dash_duo, recorded):
    dash_duo.start_server(create_app(recorded), navigate=False)
    yield dash_duo
    reset(dash_duo)


def screenshot(duo, name: str) -> None:
    if os.environ.get("IOC_SCREENSHOTS"):
        duo.driver.save_screenshot(f"/tmp/device-rewind-{name}.png")


def charts_drawn(duo, n: int = 2) -> bool:
    return len(duo.find_elements("#device-charts .device-chart .main-svg")) >= n


def open_device(duo, sign_in_as, size=DESK, role="operator"):
    emulate(duo, *size)
    sign_in_as(role, name="devrw-" + role, display_name="张三", next_path=f"/device/gauge-1?at={RAISED}")
    until(lambda: charts_drawn(duo), timeout=25)


def test_the_device_page_shows_the_gauge_its_alarm_and_its_readings_around_it(portal, sign_in_as):
    open_device(portal, sign_in_as)
    assert "水位站一" in text(portal, "#device-title")
    facts = text(portal, "#device-facts")
    assert "水位" in facts and "北纬 30.2000°，东经 120.2000°" in facts and "在线" in facts
    alarm = text(portal, ".device-alarm.active")
    assert alarm.startswith("12-01 16:20 · 水位超警戒 · 重要 · 已确认（op1 16:25） · 已解除 12-01 16:50"), alarm
    # 2 h before the raise to 1 h after the clear
    assert text(portal, "#device-window-text") == "12-01 14:20 至 12-01 17:50（北京时间）"
    chart = text(portal, "#device-charts")
    assert "水位（m）" in chart and "流量" in chart
    assert "水位超警戒 ≥ 4.20 m" in chart  # the rule's threshold line is labelled
    assert all(word in chart for word in ("告警", "确认", "解除"))  # the raise, acknowledgement and clear markers
    assert text(portal, "#device-note") == ""  # raw readings: no hourly note
    screenshot(portal, "desk-zh")
    assert portal.get_logs() == []


def test_the_window_buttons_move_and_zoom_and_an_alarm_centres_it_again(portal, sign_in_as):
    open_device(portal, sign_in_as)
    portal.find_element("#device-span-24").click()
    until(lambda: text(portal, "#device-window-text") == "12-01 04:05 至 12-02 04:05（北京时间）", timeout=15)
    portal.find_element("#device-earlier").click()
    until(lambda: text(portal, "#device-window-text") == "11-30 16:05 至 12-01 16:05（北京时间）", timeout=15)
    portal.find_element(".device-alarm").click()
    until(lambda: text(portal, "#device-window-text") == "12-01 14:20 至 12-01 17:50（北京时间）", timeout=15)
    portal.find_element("#device-span-1").click()
    until(lambda: text(portal, "#device-window-text") == "12-01 15:35 至 12-01 16:35（北京时间）", timeout=15)
    assert portal.get_logs() == []


def test_the_page_switches_to_english(portal, sign_in_as):
    open_device(portal, sign_in_as)
    portal.find_element("#lang-switch").click()
    until(lambda: "Water level above warning line" in text(portal, "#device-alarms"), timeout=20)
    until(lambda: charts_drawn(portal), timeout=20)
    assert "(China time)" in text(portal, "#device-window-text")
    assert "Water level (m)" in text(portal, "#device-charts")
    assert "Air quality" not in text(portal, "#device-facts") and "Water level" in text(portal, "#device-facts")
    screenshot(portal, "desk-en")
    portal.find_element("#lang-switch").click()  # back to Chinese for the next test's session
    until(lambda: "水位超警戒" in text(portal, "#device-alarms"), timeout=20)
    assert portal.get_logs() == []


def test_the_window_stays_across_the_language_switch_and_a_reload(portal, sign_in_as):
    open_device(portal, sign_in_as)
    portal.find_element("#device-span-24").click()
    until(lambda: text(portal, "#device-window-text") == "12-01 04:05 至 12-02 04:05（北京时间）", timeout=15)
    until(lambda: "from=" in portal.driver.current_url, timeout=10)  # kept in the address
    portal.find_element("#lang-switch").click()
    until(lambda: "Water level above warning line" in text(portal, "#device-alarms"), timeout=20)
    until(lambda: text(portal, "#device-window-text") == "12-01 04:05 to 12-02 04:05 (China time)", timeout=20)
    portal.driver.refresh()
    until(lambda: charts_drawn(portal), timeout=25)
    assert text(portal, "#device-window-text") == "12-01 04:05 to 12-02 04:05 (China time)"
    portal.find_element("#lang-switch").click()  # back to Chinese for the next test's session
    until(lambda: text(portal, "#device-window-text") == "12-01 04:05 至 12-02 04:05（北京时间）", timeout=20)
    assert portal.get_logs() == []


@pytest.fixture
def many_alarms(recorded):
    """24 older alarms of gauge-1 (one every 3 h before the fixture's): 25 in all."""
    with db.connection(recorded.database_url) as conn:
        for k in range(1, 25):
            raised = RAISED - k * 180 * MIN
            conn.execute("INSERT INTO alarms (alarm_id, raised_at, cleared_at, device_id, kind, rule, severity, data)"
                         " VALUES ('gauge-1|water_level_warning', %s, %s, 'gauge-1', 'water_level', 'water_level_warning', 'major', '{}')",
                         (ts(raised), ts(raised + 30 * MIN)))
    return recorded


def test_the_alarm_list_pages_through_every_recorded_alarm_and_keeps_its_page(portal, sign_in_as, many_alarms):
    open_device(portal, sign_in_as)
    assert text(portal, "#device-alarms-page") == "第 1–20 条，共 25 条"
    assert len(portal.find_elements(".device-alarm")) == 20
    assert not portal.find_element("#device-alarms-newer").is_enabled()
    portal.find_element("#device-alarms-older").click()
    until(lambda: text(portal, "#device-alarms-page") == "第 21–25 条，共 25 条", timeout=15)
    assert len(portal.find_elements(".device-alarm")) == 5 and not portal.find_element("#device-alarms-older").is_enabled()
    oldest = RAISED - 24 * 180 * MIN
    portal.find_elements(".device-alarm")[-1].click()  # the oldest: the window centres on it
    until(lambda: f"at={oldest}" in portal.driver.current_url and "page=2" in portal.driver.current_url, timeout=15)
    portal.find_element("#lang-switch").click()
    until(lambda: text(portal, "#device-alarms-page") == "21–25 of 25", timeout=20)
    assert "active" in portal.find_elements(".device-alarm")[-1].get_attribute("class")
    portal.find_element("#device-alarms-newer").click()
    until(lambda: text(portal, "#device-alarms-page") == "1–20 of 25", timeout=15)
    portal.find_element("#lang-switch").click()  # back to Chinese for the next test's session
    until(lambda: text(portal, "#device-alarms-page") == "第 1–20 条，共 25 条", timeout=20)
    assert portal.get_logs() == []


def test_a_phone_gets_the_page_in_one_column_with_touch_sized_targets(portal, sign_in_as):
    open_device(portal, sign_in_as, PHONE)
    assert layout_problems(portal, PHONE[0]) == []
    screenshot(portal, "phone-zh")
    assert portal.get_logs() == []


def test_the_walls_alarm_board_links_each_alarm_to_its_devices_rewind(portal, sign_in_as, redis_client, recorded):
    city = load_city_map(recorded.geodata_dir)
    (alarm_id,) = Wall(redis_client, recorded, city).raise_alarms(1)
    emulate(portal, *DESK)
    sign_in_as("operator", name="devrw-operator", display_name="张三", next_path="/")
    until(lambda: portal.find_elements("#alarm-board .b-rewind"), timeout=25)
    screenshot(portal, "wall-desk-zh")
    link = portal.find_element("#alarm-board .b-rewind")
    device_id = alarm_id.split("|")[0]
    assert link.text == "回溯" and f"/device/{device_id}?at=" in link.get_attribute("href")
    link.click()
    until(lambda: portal.driver.current_url.split("?")[0].endswith(f"/device/{device_id}"), timeout=15)
    until(lambda: "记录中没有此设备" in text(portal, "#device-facts"), timeout=15)  # raised in Redis only: not recorded yet
    assert portal.get_logs() == []


def test_a_viewer_without_the_rewind_gets_no_link_and_no_page(portal, sign_in_as, redis_client, recorded):
    city = load_city_map(recorded.geodata_dir)
    Wall(redis_client, recorded, city).raise_alarms(1)
    emulate(portal, *DESK)
    sign_in_as("inspector", name="devrw-inspector", display_name="赵监督", next_path="/")
    until(lambda: portal.find_elements("#alarm-board .board-row"), timeout=25)
    assert portal.find_elements("#alarm-board .b-rewind") == []
    portal.driver.get(portal.server.url.rstrip("/") + f"/device/gauge-1?at={RAISED}")
    until(lambda: "/device/" not in portal.driver.current_url or portal.find_elements("#forbidden"), timeout=15)
    assert not portal.find_elements("#device-charts .device-chart")
