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

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.domain.alarms import Alarm
from ioc.domain.rules import RULES
from ioc.web.app import create_app
from tests.conftest import browser_sign_in

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


def screenshot(duo, name: str) -> None:
    """With IOC_SCREENSHOTS=1 the test leaves /tmp/wall-<name>.png to look at."""
    if os.environ.get("IOC_SCREENSHOTS"):
        duo.driver.save_screenshot(f"/tmp/wall-{name}.png")


def board_rows(duo) -> int:
    return len(duo.driver.find_elements("css selector", "#alarm-board .board-row"))


@pytest.fixture
def dispatcher_wall(server, make_user):
    """The big screen signed in as a dispatcher: both 确认 and 消警 on every board row."""
    browser_sign_in(server, *make_user("dispatcher", name="wangwu", display_name="王五"))
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
