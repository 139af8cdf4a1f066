"""The wall (big screen) and the district page as an operator works them unattended: the alarm
board at 1080p and 4K, the critical pop-up's lifecycle, the map's layers, labels and tooltips,
empty states, the kiosk's top bar and a quiet browser console.

Alarms, their devices and the ticker's events are written straight into the private Redis, the
way the ingest worker stores them (see ioc.adapters.alarm_store and redis_keys), so a test can
hold exactly 0, 1, 6 or 30 active alarms without a rule having to fire for each.
"""

from __future__ import annotations

import os
import random
import time

import orjson
import pytest
from dash.testing.wait import until
from selenium.common.exceptions import StaleElementReferenceException

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.domain.alarms import Alarm
from ioc.domain.rules import RULES
from ioc.web.app import create_app

RESOLUTIONS = {"1080p": (1920, 1080), "4k": (3840, 2160)}
SEVERE_FIRST = sorted(RULES, key=lambda r: ("critical", "major", "minor").index(r.severity))
DEVICE_NAMES = {"manhole": "智能井盖", "water_level": "水位站", "streetlight": "路灯", "crowd": "客流监测点",
                "air_quality": "空气质量监测点", "noise": "噪声监测点", "traffic": "路口检测器",
                "water_quality": "排口水质站", "platform": "业务系统"}


class Wall:
    """Writes devices, active alarms and alarm events into the test Redis like the ingest worker."""

    def __init__(self, redis_client, settings, city):
        self.redis, self.shards, self.city = redis_client, settings.redis_shards, city
        self.rng = random.Random(13)
        self.devices: dict[str, tuple[float, float]] = {}
        self.raised = 0

    def device(self, device_id: str, kind: str, district: str) -> tuple[float, float]:
        if device_id not in self.devices:
            lon, lat = self.city.random_point_in(district, self.rng)
            shard = keys.shard_of(device_id, self.shards)
            meta = {"kind": kind, "name": f"{DEVICE_NAMES.get(kind, kind)} {len(self.devices) + 1}", "lat": lat, "lon": lon,
                    "district": district, "cell": self.city.cell_at(lon, lat) or ""}
            pipe = self.redis.pipeline()
            pipe.hset(keys.meta(shard), device_id, orjson.dumps(meta))
            pipe.hset(keys.district(shard), device_id, district)
            pipe.hset(keys.state(shard), device_id, "online")
            pipe.incr(keys.registry_version(shard))
            pipe.incr(keys.state_version(shard))
            pipe.execute()
            self.devices[device_id] = (lon, lat)
        return self.devices[device_id]

    def raise_alarms(self, n: int, minutes_ago: float = 1.0) -> list[str]:
        """`n` active alarms (critical first), each on a device of its own, spread over the districts;
        each also becomes a `raised` event of the ticker."""
        now = int(time.time() * 1000)
        ids = []
        districts = [d.id for d in self.city.districts]
        for i in range(self.raised, self.raised + n):
            rule = SEVERE_FIRST[i % len(SEVERE_FIRST)]
            device_id = f"{rule.kind[:2]}-wall-{i:03d}"
            district = districts[i % len(districts)]
            self.device(device_id, rule.kind, district)
            value = rule.threshold if not isinstance(rule.threshold, (int, float)) or isinstance(rule.threshold, bool) else rule.threshold * 1.2
            if rule.op == "!=":
                value = "defectiveLamp"
            alarm = Alarm(f"{device_id}|{rule.id}", device_id, rule.kind, rule.id, rule.severity, district, rule.attribute,
                          value, rule.threshold, now - int(minutes_ago * 60_000) - i * 1000, rule.name_zh, rule.name_en)
            self.redis.hset(keys.ALARMS_ACTIVE, alarm.id, orjson.dumps(alarm.to_dict()))
            self.event("raised", alarm.to_dict())
            ids.append(alarm.id)
        self.raised += n
        return ids

    def event(self, kind: str, alarm: dict) -> None:
        self.redis.xadd(keys.ALARMS_EVENTS, {"event": kind, "alarm": orjson.dumps(alarm)})

    def fill_ticker(self, n: int = 8) -> None:
        """`n` cleared events of other devices: the ticker is full whatever the board holds."""
        now = int(time.time() * 1000)
        for i in range(n):
            rule = SEVERE_FIRST[(i * 5) % len(SEVERE_FIRST)]
            self.event("cleared", {"id": f"tk-{i}|{rule.id}", "device_id": f"tk-{i}", "kind": rule.kind, "rule_id": rule.id,
                                   "severity": rule.severity, "district": self.city.districts[i % len(self.city.districts)].id,
                                   "attribute": rule.attribute, "value": rule.threshold, "raised_at": now - 600_000,
                                   "cleared_at": now - 60_000 + i * 1000, "name_zh": rule.name_zh, "name_en": rule.name_en})

    def clear_all(self) -> None:
        self.redis.delete(keys.ALARMS_ACTIVE, keys.ALARMS_ACKS)


@pytest.fixture
def wall(redis_client, settings, city):
    return Wall(redis_client, settings, city)


@pytest.fixture
def server(dash_duo, settings):
    dash_duo.start_server(create_app(settings), navigate=False)
    return dash_duo


def sized(duo, resolution: str):
    width, height = RESOLUTIONS[resolution]
    duo.driver.set_window_size(width, height)
    # the window's outer size includes no browser chrome in headless mode; make sure of the viewport
    inner = duo.driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [width, height]:
        duo.driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
    until(lambda: duo.driver.execute_script("return [window.innerWidth, window.innerHeight]") == [width, height], timeout=10)
    duo.driver.refresh()  # the map fits the city when it is created: at the wall's own size, as a wall loads it
    duo.wait_for_element("#page .leaflet-container", timeout=20)


def screenshot(duo, name: str) -> None:
    """With IOC_SCREENSHOTS=1 the test leaves /tmp/wall-<name>.png to look at."""
    if os.environ.get("IOC_SCREENSHOTS"):
        duo.driver.save_screenshot(f"/tmp/wall-{name}.png")


def board_rows(duo) -> int:
    return len(duo.driver.find_elements("css selector", "#alarm-board .board-row"))


@pytest.fixture
def dispatcher_wall(server, sign_in_as):
    """The big screen signed in as a dispatcher: both 确认 and 消警 on every board row."""
    sign_in_as("dispatcher", name="wangwu", display_name="王五")
    server.wait_for_element("#bigscreen")
    return server


def in_language(duo, lang: str) -> None:
    if lang == "en":
        duo.find_element("#lang-switch").click()
        duo.wait_for_text_to_equal("#app-title", "Zhangjiagang City Operations Center")


# One JS pass over the page: what an operator at the wall can see and reach.
WALL_CHECK = """
const vw = window.innerWidth, vh = window.innerHeight, out = {problems: []};
const doc = document.documentElement;
if (doc.scrollWidth > vw || doc.scrollHeight > vh) out.problems.push(`page scrolls: ${doc.scrollWidth}x${doc.scrollHeight}`);
for (const el of document.querySelectorAll('.topbar, .kpi-card, .map-toolbar, .city-map, .legend, .trends, .board-box, .ticker-box')) {
  const r = el.getBoundingClientRect();
  if (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1) out.problems.push(`${el.className} outside the viewport`);
}
const box = document.querySelector('.board-box').getBoundingClientRect();
const rows = [...document.querySelectorAll('#alarm-board .board-row')];
out.rows = rows.length;
out.visible = rows.filter(r => { const b = r.getBoundingClientRect(); return b.top >= box.top - 1 && b.bottom <= box.bottom + 1 && b.height > 0; }).length;
for (const button of document.querySelectorAll('#alarm-board button')) {
  button.scrollIntoView({block: 'nearest'});
  const b = button.getBoundingClientRect(), x = b.left + b.width / 2, y = b.top + b.height / 2;
  const top = document.elementFromPoint(x, y);
  if (!(top === button || button.contains(top))) out.problems.push(`${button.textContent} of row ${button.closest('li').innerText.slice(0, 30)} is under ${top && top.className}`);
}
document.querySelector('.board-box').scrollTop = 0;
const title = document.querySelector('#app-title').getBoundingClientRect();
for (const el of document.querySelectorAll('#nav a, .topbar-right > *')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0) continue;
  if (r.top >= title.bottom || r.bottom <= title.top) out.problems.push(`header item ${el.id || el.textContent} on another line`);
  if (r.height > 2 * parseFloat(getComputedStyle(el).fontSize) * 1.6) out.problems.push(`header item ${el.id || el.textContent} wraps`);
}
return out;
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("resolution", ["1080p", "4k"])
def test_the_alarm_board_stays_workable_with_a_full_ticker(dispatcher_wall, wall, resolution, lang):
    """With 0, 1, 6 and 30 active alarms and a full ticker, the board shows at least six rows (or all
    there are), every 确认/消警 button is the topmost element at its centre, nothing leaves the
    viewport and the header stays on one line."""
    duo = dispatcher_wall
    sized(duo, resolution)
    in_language(duo, lang)
    wall.fill_ticker()
    until(lambda: len(duo.driver.find_elements("css selector", "#ticker .ticker-row")) == 8, timeout=20)
    raised = 0
    for n in (0, 1, 6, 30):
        wall.raise_alarms(n - raised) if n > raised else None
        raised = n
        until(lambda: board_rows(duo) == min(n, 12) and (n == 0 or len(duo.driver.find_elements("css selector", "#alarm-board .btn-clear")) == min(n, 12)),
              timeout=20)
        seen = duo.driver.execute_script(WALL_CHECK)
        screenshot(duo, f"board-{resolution}-{lang}-{n}")
        assert seen["problems"] == [], f"{n} alarms: {seen['problems']}"
        assert seen["visible"] >= min(n, 6), f"{n} alarms: only {seen['visible']} of {seen['rows']} rows visible"
    assert duo.get_logs() == []


def popup_class(duo) -> str:
    return duo.find_element("#popup").get_attribute("class")


# the map's controls: each must be the topmost element at its own centre
MAP_CONTROLS_FREE = """
const out = [];
for (const sel of ['#indicator', '#district-picker', '#map .leaflet-control-zoom-in', '#map .leaflet-control-zoom-out', '#map .leaflet-control-layers']) {
  const el = document.querySelector(sel);
  if (!el) { out.push(`${sel} missing`); continue; }
  const r = el.getBoundingClientRect(), top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (!(top === el || el.contains(top))) out.push(`${sel} is under ${top && (top.id || top.className)}`);
}
return out;
"""


def assert_map_controls_free(duo) -> None:
    """The map's controls are whole and on top. The district picker renders once its lazily
    loaded component has arrived: a slow browser gets a moment for it before the verdict."""
    deadline = time.time() + 10
    while duo.driver.execute_script(MAP_CONTROLS_FREE) and time.time() < deadline:
        time.sleep(0.1)
    assert duo.driver.execute_script(MAP_CONTROLS_FREE) == []


@pytest.fixture
def operator_wall(server, sign_in_as):
    sign_in_as("operator", name="zhangsan", display_name="张三")
    server.wait_for_element("#bigscreen")
    return server


def test_the_popup_leaves_the_map_controls_free_and_closes_when_its_alarm_clears(operator_wall, wall, redis_client):
    duo = operator_wall
    [alarm_id] = wall.raise_alarms(1)
    until(lambda: popup_class(duo) == "popup", timeout=20)
    assert_map_controls_free(duo)
    AlarmStore(redis_client).clear(alarm_id, "chengang", "leader", "现场已处置", int(time.time() * 1000))
    until(lambda: popup_class(duo) == "popup hidden", timeout=20)
    assert duo.get_logs() == []


def test_the_popup_closes_when_its_alarm_is_acknowledged_elsewhere(operator_wall, wall, redis_client):
    duo = operator_wall
    [alarm_id] = wall.raise_alarms(1)
    until(lambda: popup_class(duo) == "popup", timeout=20)
    AlarmStore(redis_client).acknowledge(alarm_id, "lisi", "operator", int(time.time() * 1000))
    until(lambda: popup_class(duo) == "popup hidden", timeout=20)
    assert duo.get_logs() == []


def open_kiosk(duo, user_store) -> None:
    from ioc.adapters.user_store import Actor

    _, secret = user_store.create_token("hall wall", ["operator"], Actor("test", "admin"), kiosk=True)
    duo.driver.get(f"{duo.server.url.rstrip('/')}/kiosk/{secret}")
    duo.server_url = duo.server.url.rstrip("/")
    duo.wait_for_element("#bigscreen", timeout=20)


def test_a_kiosk_popup_folds_into_a_badge_after_ioc_popup_seconds(dash_duo, settings, user_store, wall):
    dash_duo.start_server(create_app(settings.replace(popup_seconds=3)), navigate=False)
    open_kiosk(dash_duo, user_store)
    wall.raise_alarms(1)
    until(lambda: popup_class(dash_duo) == "popup", timeout=20)
    until(lambda: popup_class(dash_duo) == "popup badge", timeout=20)
    assert_map_controls_free(dash_duo)
    badge = dash_duo.find_element("#popup").rect
    assert badge["height"] < 80 and badge["width"] < 1920 / 2
    screenshot(dash_duo, "kiosk-badge")
    assert dash_duo.get_logs() == []


def test_a_kiosk_wall_offers_no_sign_out(server, user_store):
    open_kiosk(server, user_store)
    until(lambda: "只读" in server.find_element("#user-badge").text, timeout=20)
    assert not server.find_element("#sign-out").is_displayed()
    assert server.get_logs() == []


def test_a_signed_in_user_is_offered_sign_out(operator_wall):
    until(lambda: operator_wall.find_element("#sign-out").is_displayed(), timeout=20)
    assert operator_wall.find_element("#sign-out").text == "退出"
    assert operator_wall.get_logs() == []


# every header item whole and inside the viewport (the title and the user's name may be cut short)
HEADER_REACHABLE = """
const vw = window.innerWidth, out = [];
for (const el of document.querySelectorAll('#nav a, #clock, #sign-out, #sound, #lang-switch')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0) continue;
  if (r.left < 0 || r.right > vw) out.push(`${el.id || el.textContent} outside the viewport`);
  if (el.scrollWidth > el.clientWidth + 1) out.push(`${el.id || el.textContent} cut`);
}
if (document.documentElement.scrollWidth > vw) out.push('the page scrolls sideways');
if (out.length) out.push('widths: ' + [...document.querySelector('.topbar').children, ...document.querySelector('.topbar-right').children]
  .map(e => `${e.id || e.tagName}=${Math.round(e.getBoundingClientRect().width)}`).join(' '));
return out;
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_leaders_header_keeps_every_page_and_the_language_switch_on_a_1080p_wall(server, sign_in_as, lang):
    """A leader has the most pages (ten): in English they, the clock, sign out, sound and the language
    switch still fit a 1920 px wall on one line; the title gives way (whole in its tooltip)."""
    sign_in_as("leader", name="chengang", display_name="陈刚")
    server.wait_for_element("#bigscreen")
    sized(server, "1080p")
    in_language(server, lang)
    until(lambda: len(server.driver.find_elements("css selector", "#nav a")) >= 10, timeout=20)
    problems = server.driver.execute_script(HEADER_REACHABLE)
    assert problems == [], "; ".join(problems)
    title = server.driver.find_element("css selector", "#app-title .title-full")
    assert title.get_attribute("title") == title.get_attribute("textContent")
    assert server.get_logs() == []


def test_the_wall_and_the_district_page_keep_the_console_quiet(server, account, wall, verbose_browser):
    """No Permissions-Policy warning, no dash-leaflet debug lines ("ISSUE BOUNDS UPDATE"), nothing
    at any level while the wall refreshes and a district page opens."""
    from selenium.webdriver.common.by import By

    operator = account("operator", name="zhangsan", display_name="张三")
    name, password = operator.name, operator.password
    wall.raise_alarms(6)
    driver, base = verbose_browser, server.server.url.rstrip("/")
    driver.get(base + "/login")
    driver.find_element(By.ID, "login-name").send_keys(name)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#alarm-board .board-row")) == 6, timeout=20)
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#map .leaflet-control-layers"), timeout=20)
    driver.find_element(By.ID, "nav-districts").click()
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#ranking .ag-row"), timeout=20)
    driver.get(base + "/district/yangshe")
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#dmap .leaflet-control-layers"), timeout=20)
    until(lambda: driver.find_element(By.ID, "value-d-kpi_alarms").text not in ("", "—"), timeout=20)
    messages = [f"{e['level']}: {e['message']}" for e in driver.get_log("browser")]
    assert messages == []


# --- the map ---------------------------------------------------------------------------------

def leaflet(duo, script: str, map_id: str = "map"):
    """Run `script` with `map` bound to the page's Leaflet map (registered by assets/ioc_map.js)."""
    return duo.driver.execute_script(f"const map = window.iocMap.maps[{map_id!r}]; if (!map) return null; {script}")


def test_alarm_markers_lie_above_the_device_clusters(wall, operator_wall_with_alarms):
    duo = operator_wall_with_alarms
    until(lambda: duo.driver.find_elements("css selector", "#map .ioc-cluster"), timeout=20)
    until(lambda: len(duo.driver.find_elements("css selector", "#map path.alarm-critical, #map path.alarm-major, #map path.alarm-minor")) == 30,
          timeout=20)
    hidden = duo.driver.execute_script("""
      document.getElementById('popup').style.visibility = 'hidden';  // ten criticals pop up in turn: out of the way
      const z = el => parseInt(getComputedStyle(el.closest('.leaflet-pane:not(.leaflet-map-pane)')).zIndex);
      const cluster = z(document.querySelector('#map .ioc-cluster'));
      const out = [];
      for (const alarm of document.querySelectorAll('#map path[class*="alarm-"]')) {
        if (z(alarm) <= cluster) out.push('pane under the clusters');
        const r = alarm.getBoundingClientRect(), top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        if (!(top && top.closest('.leaflet-iocAlarms-pane'))) out.push(`alarm under ${top && top.className.baseVal !== undefined ? top.className.baseVal : top && top.className}`);
      }
      return out;""")
    assert hidden == []
    assert duo.get_logs() == []


@pytest.fixture
def operator_wall_with_alarms(wall, server, sign_in_as):
    """30 alarms on devices of their own, raised before the operator opens the wall (so the device
    layer the map fetches holds their devices)."""
    wall.raise_alarms(30)
    sign_in_as("operator", name="zhangsan", display_name="张三")
    server.wait_for_element("#bigscreen")
    return server


def test_district_names_are_written_on_the_map(operator_wall, city):
    duo = operator_wall
    until(lambda: len(duo.driver.find_elements("css selector", "#map .district-label")) == len(city.districts), timeout=20)
    labels = {e.text for e in duo.driver.find_elements("css selector", "#map .district-label")}
    assert labels == {d.name_zh for d in city.districts}
    assert duo.get_logs() == []


def district_tooltip(duo, district_id: str, map_id: str = "map") -> str:
    return leaflet(duo, f"""
      let text = null;
      map.eachLayer(l => {{ if (text === null && l.feature && l.feature.properties.id === {district_id!r} && l.getBounds) {{
        l.openTooltip(l.getBounds().getCenter()); text = l.getTooltip().getElement().innerText; l.closeTooltip(); }} }});
      return text;""", map_id)


def test_a_districts_hover_shows_its_figure_for_the_colouring(operator_wall_with_alarms):
    duo = operator_wall_with_alarms
    until(lambda: duo.find_element("#value-kpi_alarms").text == "30", timeout=20)
    until(lambda: "当前告警 3 条" in (district_tooltip(duo, "yangshe") or ""), timeout=20)  # 30 alarms over 10 districts
    assert "杨舍镇" in district_tooltip(duo, "yangshe")
    duo.find_element("#indicator label:nth-child(2) input").click()  # 在办案件
    until(lambda: "在办案件 0 件" in (district_tooltip(duo, "yangshe") or ""), timeout=20)
    assert duo.get_logs() == []


def test_a_devices_tooltip_shows_its_latest_reading_in_words(operator_wall_with_alarms, wall, redis_client, settings):
    duo = operator_wall_with_alarms
    device = "wa-wall-002"  # the water level station of the third alarm
    redis_client.hset(keys.latest(keys.shard_of(device, settings.redis_shards)), device,
                      orjson.dumps({"ts": int(time.time() * 1000), "waterLevel": 4.61, "flowRate": 12.5}))
    lon, lat = wall.devices[device]
    until(lambda: duo.driver.find_elements("css selector", "#map .ioc-cluster"), timeout=20)
    leaflet(duo, f"map.setView([{lat}, {lon}], 18, {{animate: false}}); return true;")
    script = f"""
      let found = null;
      map.eachLayer(l => {{ if (!found && l.feature && l.feature.properties.id === {device!r} && l.getTooltip && !l.feature.properties.severity) found = l; }});
      if (!found) return null;
      found.openTooltip();
      return found.getTooltip().getElement().innerText;"""
    until(lambda: "水位 4.61 m" in (leaflet(duo, script) or ""), timeout=20)
    text = leaflet(duo, script)
    assert "流量 12.5 m³/s" in text and "在线" in text
    assert duo.get_logs() == []


def test_clicking_an_alarm_on_the_board_centres_the_map_on_it(operator_wall_with_alarms, wall):
    duo = operator_wall_with_alarms
    until(lambda: board_rows(duo) == 12, timeout=20)
    clicked = []

    def click_fourth_row() -> bool:  # the board is drawn anew every tick: a row found may be gone by the click
        try:
            row = duo.driver.find_elements("css selector", "#alarm-board .board-row .b-text")[3]
            alarm_id = row.get_attribute("data-alarm")
            row.click()
        except StaleElementReferenceException:
            return False
        clicked.append(alarm_id)
        return True

    until(click_fourth_row, timeout=10)
    alarm_id = clicked[0]
    lon, lat = wall.devices[alarm_id.split("|")[0]]
    until(lambda: leaflet(duo, "const c = map.getCenter(); return [c.lng, c.lat];") == pytest.approx([lon, lat], abs=1e-5), timeout=10)
    assert leaflet(duo, "return map.getZoom();") >= 14
    assert duo.get_logs() == []


# --- the district page and empty states --------------------------------------------------------

@pytest.fixture
def leader_wall(server, sign_in_as):
    sign_in_as("leader", name="chengang", display_name="陈刚")
    server.wait_for_element("#bigscreen")
    return server


CARDS_FIT = """
const vw = window.innerWidth, vh = window.innerHeight, out = [];
if (document.documentElement.scrollHeight > vh || document.documentElement.scrollWidth > vw) out.push('page scrolls');
for (const card of document.querySelectorAll('.district-page .kpi-card')) {
  const r = card.getBoundingClientRect(), col = card.parentElement.getBoundingClientRect();
  if (r.bottom > Math.min(vh, col.bottom) + 1 || r.top < 0 || r.height < 20) out.push(`${card.id} cut off`);
}
return out;
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_district_page_fits_1080p_and_says_when_it_has_no_alarms(leader_wall, lang):
    duo = leader_wall
    sized(duo, "1080p")
    in_language(duo, lang)
    duo.wait_for_page(url=duo.server_url + "/district/yangshe")
    until(lambda: duo.find_element("#district-alarms").text != "", timeout=20)
    empty = {"zh": "本区镇当前无告警", "en": "No active alarms in this district"}[lang]
    assert duo.find_element("#district-alarms").text == empty
    assert len(duo.driver.find_elements("css selector", ".district-page .kpi-card")) == 7
    assert duo.driver.execute_script(CARDS_FIT) == []
    assert len(duo.driver.find_elements("css selector", "#dlegend .legend-item")) == 5
    screenshot(duo, f"district-1080p-{lang}")
    assert duo.get_logs() == []


def test_the_empty_board_and_ticker_say_so(operator_wall):
    duo = operator_wall
    until(lambda: duo.find_element("#alarm-board").text == "当前无待处置告警", timeout=20)
    assert duo.find_element("#ticker").text == "暂无告警动态"
    assert duo.get_logs() == []
