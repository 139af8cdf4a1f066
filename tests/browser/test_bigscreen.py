"""The big screen and the district drill-down in a real headless Chromium, fed by the real pipeline."""

from __future__ import annotations

import time

import pytest
from dash.testing.wait import until
from selenium.common.exceptions import StaleElementReferenceException

from ioc.web.app import create_app
from tests.integration.test_ingest_pipeline import JINFENG, YANGSHE, birth, send


# KPI cards show the last complete minute of rollups: when the two readings fall on both sides of a
# minute boundary, the card shows the first one until that minute is complete
KPI_WAIT_S = 75


@pytest.fixture
def city_feed(ingest, publisher):
    """A few devices in two districts, a water level above its warning line, a raised alarm."""
    birth(publisher, "water_level", "wl-b-1", YANGSHE, "杨舍 水位站 1")
    birth(publisher, "air_quality", "aq-b-1", JINFENG, "锦丰 空气质量监测点 1")
    birth(publisher, "noise", "nz-b-1", JINFENG)
    now = int(time.time() * 1000)
    send(publisher, "water_level", "wl-b-1", ts=now - 2000, waterLevel=4.5)
    send(publisher, "water_level", "wl-b-1", ts=now - 1000, waterLevel=4.6)
    send(publisher, "air_quality", "aq-b-1", ts=now - 1000, airQualityIndex=88, pm25=60.0)
    return publisher


@pytest.fixture
def server(dash_duo, settings):
    dash_duo.start_server(create_app(settings), navigate=False)
    return dash_duo


@pytest.fixture
def screen(server, sign_in_as):
    """The big screen as the operator on duty (张三), signed in."""
    sign_in_as("operator", name="zhangsan", display_name="张三")
    return server


@pytest.fixture
def leader_screen(server, sign_in_as):
    sign_in_as("leader", name="chengang", display_name="陈刚")
    return server


def _clicked(duo, selector) -> bool:
    """Click the first element matching `selector`; False when the board drew it anew between
    finding and clicking (it is rendered every tick), so `until` tries again."""
    try:
        duo.find_element(selector).click()
        return True
    except StaleElementReferenceException:
        return False


def unstale(read, tries: int = 5):
    """`read()`, found again when the page redrew the element between finding and reading it
    (the board, ticker and cards are drawn anew every tick)."""
    for _ in range(tries - 1):
        try:
            return read()
        except StaleElementReferenceException:
            continue
    return read()


def _text(duo, selector) -> str:
    return unstale(lambda: duo.find_element(selector).text)


def test_the_big_screen_shows_live_kpis_map_and_alarm_ticker(screen, city_feed):
    screen.wait_for_text_to_equal("#app-title", "张家港市城市运行管理中心")
    until(lambda: _text(screen, "#value-kpi_water") == "4.60 m", timeout=KPI_WAIT_S)
    until(lambda: _text(screen, "#value-kpi_alarms") == "1", timeout=20)
    assert "alert" in screen.find_element("#card-kpi_water").get_attribute("class")
    until(lambda: "水位超警戒" in _text(screen, "#ticker"), timeout=20)
    assert _text(screen, "#value-kpi_aqi") == "88"
    assert len(screen.driver.find_elements("css selector", "#map path.leaflet-interactive")) >= 10  # district polygons
    assert screen.get_logs() == []


DEVICE_MARKERS = "#map .ioc-cluster, #map path.leaflet-interactive[stroke='#7fd1ff'][fill='#2fa4e7']"


def test_the_device_layer_is_fetched_by_the_map_and_drawn(screen, city_feed):
    """The 50,000-device layer never travels through a callback: the map fetches
    /api/v1/map/devices itself (with the session) and draws the devices, clustered."""
    until(lambda: _text(screen, "#value-kpi_alarms") == "1", timeout=20)
    screen.driver.get(screen.server_url + "/")  # the devices born by the feed are in the registry now
    until(lambda: len(screen.driver.find_elements("css selector", DEVICE_MARKERS)) >= 1, timeout=20)
    assert screen.get_logs() == []


def test_the_ticker_and_kpis_change_between_ticks(screen, city_feed):
    until(lambda: _text(screen, "#value-kpi_alarms") == "1", timeout=20)
    birth(city_feed, "crowd", "cr-b-1", YANGSHE)
    now = int(time.time() * 1000)
    send(city_feed, "crowd", "cr-b-1", ts=now - 1000, peopleCount=5200)
    send(city_feed, "crowd", "cr-b-1", ts=now, peopleCount=5400)
    until(lambda: _text(screen, "#value-kpi_alarms") == "3", timeout=20)  # crowd_dense + crowd_critical
    until(lambda: "人员严重聚集" in _text(screen, "#ticker"), timeout=20)
    assert screen.get_logs() == []


def test_the_freshness_indicator_turns_red_when_data_stops(screen, city_feed):
    screen.wait_for_element("#fresh-dot")
    until(lambda: "stale" in screen.find_element("#fresh-dot").get_attribute("class"), timeout=40)
    assert _text(screen, "#fresh-label") == "数据中断"
    assert screen.get_logs() == []


def test_a_district_deep_link_opens_that_districts_page(screen, city_feed):
    screen.wait_for_page(url=screen.server_url + "/district/yangshe")
    screen.wait_for_text_to_equal("#district-name", "杨舍镇")
    until(lambda: _text(screen, "#value-d-kpi_water") == "4.60 m", timeout=KPI_WAIT_S)
    until(lambda: "水位超警戒" in _text(screen, "#district-alarms"), timeout=20)
    screen.find_element("#back-to-city").click()
    screen.wait_for_element("#bigscreen")
    assert screen.get_logs() == []


def test_clicking_a_district_on_the_map_drills_down(screen, city_feed):
    screen.wait_for_element("#map path.leaflet-interactive")
    until(lambda: _text(screen, "#value-kpi_alarms") == "1", timeout=20)
    # the Yangshe polygon: find it through Leaflet's tooltip binding by hovering each path
    paths = screen.driver.find_elements("css selector", "#map path.leaflet-interactive")
    for path in paths:
        try:
            screen.driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", path)
        except StaleElementReferenceException:
            break  # the previous click already opened a district page
        if "/district/" in screen.driver.current_url:
            break
    until(lambda: "/district/" in screen.driver.current_url, timeout=10)
    screen.wait_for_element("#district-name")
    assert screen.get_logs() == []


def test_the_english_switch_relabels_the_big_screen(screen, city_feed):
    screen.wait_for_text_to_equal("#app-title", "张家港市城市运行管理中心")
    screen.find_element("#lang-switch").click()
    screen.wait_for_text_to_equal("#app-title", "Zhangjiagang City Operations Center")
    screen.wait_for_text_to_equal("#label-kpi_water", "Highest water level")
    screen.wait_for_text_to_equal("#sign-out", "Sign out")
    assert "Operator" in _text(screen, "#user-badge")
    until(lambda: "Water level 4.60 m" in _text(screen, "#ticker"), timeout=20)  # the reading in words
    assert screen.get_logs() == []


def test_the_district_ranking_lists_every_district(screen, city_feed, city):
    screen.wait_for_page(url=screen.server_url + "/districts")
    until(lambda: len(screen.driver.find_elements("css selector", "#ranking .ag-row")) >= len(city.districts) // 2, timeout=20)
    assert "杨舍镇" in _text(screen, "#ranking")
    assert screen.get_logs() == []


@pytest.fixture
def old_critical_alarm(ingest, publisher):
    """A manhole cover displaced ten minutes ago: critical, unacknowledged, past its 5-minute escalation."""
    birth(publisher, "manhole", "mh-b-1", YANGSHE, "杨舍 智能井盖 1")
    now = int(time.time() * 1000)
    send(publisher, "manhole", "mh-b-1", ts=now - 600_000, displaced=True, tilt=40.0)
    send(publisher, "manhole", "mh-b-1", ts=now - 590_000, displaced=True, tilt=41.0)
    return "mh-b-1|manhole_displaced"


def test_a_new_critical_alarm_pops_up_and_the_operator_acknowledges_it(screen, old_critical_alarm, redis_client):
    from ioc.adapters.alarm_store import AlarmStore

    until(lambda: screen.find_element("#popup").get_attribute("class") == "popup", timeout=20)
    assert "井盖移位/丢失" in _text(screen, "#popup-text")
    screen.find_element("#popup-ack").click()
    until(lambda: "hidden" in screen.find_element("#popup").get_attribute("class"), timeout=10)
    until(lambda: "已确认 张三" in _text(screen, "#alarm-board"), timeout=20)  # by display name
    ack = AlarmStore(redis_client).acknowledgement(old_critical_alarm)
    assert ack.by == "zhangsan" and ack.role == "operator"
    assert not screen.find_elements("#alarm-board .btn-clear")  # an operator acknowledges; it may not clear
    assert screen.get_logs() == []


def test_a_leader_clears_an_alarm_by_hand_with_a_note(leader_screen, old_critical_alarm, redis_client):
    from ioc.adapters.alarm_store import AlarmStore
    from ioc.adapters.audit_log import AuditLog

    screen = leader_screen
    store = AlarmStore(redis_client)
    until(lambda: len(screen.find_elements("#alarm-board .btn-clear")) == 2, timeout=20)  # displaced and tilted
    before = len(store.active())
    screen.find_element("#popup-later").click()
    until(lambda: _clicked(screen, "#alarm-board .btn-clear"), timeout=10)
    until(lambda: screen.find_element("#clear-dialog").get_attribute("class") == "clear-dialog", timeout=10)
    screen.find_element("#clear-confirm").click()  # no note yet: refused, the dialog stays
    until(lambda: "须填写消警说明" in _text(screen, "#clear-error"), timeout=10)  # in the page's language
    screen.find_element("#clear-note").send_keys("现场核实：井盖已复位")
    screen.find_element("#clear-confirm").click()
    until(lambda: "已手动消警" in _text(screen, "#ack-message"), timeout=10)
    assert len(store.active()) == before - 1
    entry = AuditLog(redis_client).recent(1, action="alarm.")[0]
    assert (entry.actor, entry.role, entry.action, entry.detail["note"]) == ("chengang", "leader", "alarm.clear", "现场核实：井盖已复位")
    assert screen.get_logs() == []


def test_a_kiosk_wall_sees_alarms_but_has_no_buttons(server, old_critical_alarm, user_store):
    from ioc.adapters.user_store import Actor

    _, secret = user_store.create_token("hall wall", ["operator"], Actor("test", "admin"), kiosk=True)
    server.driver.get(f"{server.server.url.rstrip('/')}/kiosk/{secret}")
    # the board is polled once the wall's layout is there (a loaded machine renders it later)
    until(lambda: server.find_elements("#alarm-board") and _text(server, "#alarm-board"), timeout=30)
    until(lambda: server.find_element("#popup").get_attribute("class") == "popup", timeout=20)
    assert "hidden" in server.find_element("#popup-ack").get_attribute("class")
    assert not server.find_elements("#alarm-board .btn-ack") and not server.find_elements("#alarm-board .btn-clear")
    assert "只读" in _text(server, "#user-badge")
    assert server.get_logs() == []


def test_the_leaders_district_view_shows_the_escalation(leader_screen, old_critical_alarm):
    screen = leader_screen
    screen.wait_for_page(url=screen.server_url + "/district/yangshe")
    until(lambda: "已升级" in _text(screen, "#district-alarms"), timeout=20)
    assert not screen.find_elements("#district-alarms .btn-ack")  # leaders read, operators acknowledge
    assert screen.get_logs() == []


def test_the_24_hour_trends_are_drawn(screen, city_feed):
    until(lambda: len(screen.driver.find_elements("css selector", ".trends .main-svg")) >= 3, timeout=20)
    assert "24小时" in _text(screen, ".trends")
    assert screen.get_logs() == []


def test_picking_a_district_from_the_list_opens_its_page(screen, city_feed):
    screen.wait_for_element("#district-picker")
    screen.select_dcc_dropdown("#district-picker", value="锦丰镇")
    screen.wait_for_text_to_equal("#district-name", "锦丰镇")
    assert screen.driver.current_url.endswith("/district/jinfeng")
    assert screen.get_logs() == []
