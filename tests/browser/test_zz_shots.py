"""Temporary: screenshots of the linked-event views (not committed)."""
import time

from tests.browser.test_event_pages import portal, text, click, wait_for, Principal, DISPATCHER, LEADER, WATER, M, Evidence, Proposal, count  # noqa
from tests.browser.test_wall import Wall

OUT = "/tmp/shots"


def size(duo, w, h):
    duo.driver.set_window_size(w, h)
    inner = duo.driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [w, h]:
        duo.driver.set_window_size(2 * w - inner[0], 2 * h - inner[1])


def setup_city(portal, redis_client, settings, city):
    wall = Wall(redis_client, settings, city)
    wall.raise_alarms(8)
    now = int(time.time() * 1000)
    e1 = portal.events.start(DISPATCHER, plan="flood", level="III", district="yangshe", title="杨舍城区暴雨内涝", now_ms=now - 55 * M)
    portal.events.task_act(e1.id, "water_affairs", "acknowledge", WATER, now_ms=now - 50 * M)
    portal.events.task_act(e1.id, "water_affairs", "arrive", WATER, now_ms=now - 30 * M)
    portal.events.task_act(e1.id, "water_affairs", "support", WATER, note="需要 2 台移动泵车", now_ms=now - 20 * M)
    urban = Principal("u1", frozenset({"handler"}), "赵城管", department="urban_management")
    portal.events.task_act(e1.id, "urban_management", "acknowledge", urban, now_ms=now - 45 * M)
    portal.events.instruct(e1.id, LEADER, text="务必确保低洼地区群众安全，及时转移")
    e2 = portal.events.start(DISPATCHER, plan="crowd", level="IV", district="jinfeng", title="步行街元宵灯会客流", now_ms=now - 12 * M)
    evidence = (Evidence("wl-1", "暨阳湖水位站", "yangshe", "water_level", "waterLevel", 4.32, 4.2, 0, ">="),
                Evidence("wl-2", "锦丰港水位站", "jinfeng", "water_level", "waterLevel", 4.25, 4.2, 0, ">="))
    p = Proposal("water_pollution:IV", "water_pollution", "IV",
                 (Evidence("wq-1", "东横河排口水质站", "yangshe", "water_quality", "cod", 138.0, 100, now - 6 * M, ">"),), ("yangshe",), now)
    portal.events.store.put_proposals({p.id: p.to_dict()})
    return e1, e2


def test_shots(portal, sign_in_as, redis_client, settings, city):
    e1, e2 = setup_city(portal, redis_client, settings, city)
    sign_in_as("dispatcher", name="lidiao", display_name="李调度", next_path="/")
    wait_for(lambda: "event-mode" in portal.find_element("#bigscreen-grid").get_attribute("class"), timeout=20)
    time.sleep(4)
    portal.driver.save_screenshot(f"{OUT}/wall-1080-zh.png")
    size(portal, 3840, 2160)
    time.sleep(4)
    portal.driver.save_screenshot(f"{OUT}/wall-4k-zh.png")
    size(portal, 1920, 1080)
    click(portal, "#lang-switch")
    time.sleep(5)
    portal.driver.save_screenshot(f"{OUT}/wall-1080-en.png")
    click(portal, "#lang-switch")
    portal.driver.get(portal.server.url + f"/event/{e1.id}")
    wait_for(lambda: "杨舍" in text(portal, "#event-banner"), timeout=20)
    time.sleep(3)
    portal.driver.save_screenshot(f"{OUT}/event-1080-zh.png")
    h = portal.driver.execute_script("return document.querySelector('main').scrollHeight")
    size(portal, 1920, max(1080, h + 120))
    time.sleep(2)
    portal.driver.save_screenshot(f"{OUT}/event-full-zh.png")
    size(portal, 1920, 1080)
    portal.driver.get(portal.server.url + "/events")
    wait_for(lambda: e1.id in text(portal, "#events-grid"), timeout=20)
    click(portal, "#ev-start-area-kind input[value='draw']")
    time.sleep(3)
    h = portal.driver.execute_script("return document.querySelector('main').scrollHeight")
    size(portal, 1920, max(1080, h + 120))
    time.sleep(2)
    portal.driver.save_screenshot(f"{OUT}/events-zh.png")
    size(portal, 1920, 1080)
    portal.driver.get(portal.server.url + "/district/yangshe")
    time.sleep(5)
    portal.driver.save_screenshot(f"{OUT}/district-zh.png")
    portal.driver.get(portal.server.url + "/indicators")
    time.sleep(5)
    h = portal.driver.execute_script("return document.querySelector('main').scrollHeight")
    size(portal, 1920, max(1080, h + 120))
    time.sleep(2)
    portal.driver.save_screenshot(f"{OUT}/indicators-zh.png")
    size(portal, 1920, 1080)
    portal.driver.delete_all_cookies()
    sign_in_as("handler", name="town1", display_name="杨舍镇值班", department="town_yangshe", next_path="/tasks")
    time.sleep(5)
    portal.driver.save_screenshot(f"{OUT}/tasks-zh.png")
    portal.driver.delete_all_cookies()
    sign_in_as("operator", name="zhangsan", display_name="张三", next_path="/")
    time.sleep(5)
    portal.driver.save_screenshot(f"{OUT}/wall-operator-zh.png")
    print("LOGS", portal.get_logs())
