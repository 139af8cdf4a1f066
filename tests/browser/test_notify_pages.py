"""The notification pages in a real headless Chromium: an admin adds a contact and a silence on
/notify, an operator reads /duty, at 1920x1080 and on a 390x844 phone. With IOC_SCREENSHOTS=1
the tests leave /tmp/notify-<name>.png to look at."""

from __future__ import annotations

import os
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from ioc.adapters.roster_store import RosterStore
from ioc.domain.clock import local_text
from ioc.domain.departments import department_ids
from ioc.domain.roster import Contact, Group, Roster, Shift
from ioc.web.app import create_app
from tests.conftest import wait_for

HOUR_MS = 3_600_000
KEY = "693a91f6-7d2e-4b8c-9a1e-0c5f2a7be4f1"
PHONE = (390, 844)
DESK = (1920, 1080)


def window(duo, width: int, height: int) -> None:
    """The viewport at width x height (headless Chromium's outer size has no browser chrome, mostly)."""
    duo.driver.set_window_size(width, height)
    inner = duo.driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [width, height]:
        duo.driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


def shot(duo, name: str) -> None:
    if os.environ.get("IOC_SCREENSHOTS"):
        duo.driver.save_screenshot(f"/tmp/notify-{name}.png")


@pytest.fixture
def roster(redis_client, city):
    now = int(time.time() * 1000)
    iso = lambda ms: local_text(ms, "%Y-%m-%dT%H:%M")  # noqa: E731
    value = Roster(
        (Contact("c1", "张三", "13912345678", "zhangsan@zjg.gov.cn", "", "值班长", ("sms", "email")),
         Contact("c2", "李四", "13812345678", "", "water_affairs", "科长", ("sms",)),
         Contact("c3", "王五", "0512-58123456", "", "")),
        (Group("g1", "水务局工作群", "water_affairs", "dingtalk", KEY, "SEC0123456789abcdef"),
         Group("g2", "调度席邮件组", "dispatch", "email", "dispatch@zjg.gov.cn")),
        (Shift("center", "c1", iso(now - HOUR_MS), iso(now + 8 * HOUR_MS), "值班领导"),
         Shift("center", "c3", iso(now - HOUR_MS), iso(now + 8 * HOUR_MS), "值班员"),
         Shift("water_affairs", "c2", iso(now + 8 * HOUR_MS), iso(now + 20 * HOUR_MS))),
    )
    RosterStore(redis_client, department_ids(city)).put(value, "setup")
    return value


def open_page(duo, settings, sign_in_as, role: str, path: str, ready: str):
    duo.start_server(create_app(settings), navigate=False)
    sign_in_as(role, next_path=path)
    duo.wait_for_element(ready, timeout=15)
    return duo


def tab(duo, label: str) -> None:
    duo.driver.find_element(By.XPATH, f"//div[contains(@class, 'notify-tab-label')][normalize-space()='{label}']").click()


def pick(duo, dropdown: str, label: str) -> None:
    duo.select_dcc_dropdown(dropdown, value=label)
    duo.find_element(dropdown).send_keys(Keys.ESCAPE)


def text_of(duo, selector: str) -> str:
    """The text of the element now on the page ('' while there is none: a page re-drawn on a language switch)."""
    return duo.driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", selector)


def no_sideways_scroll(duo) -> bool:
    return duo.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_an_admin_adds_a_contact_on_the_notify_page(dash_duo, settings, sign_in_as, roster, redis_client, city):
    duo = open_page(dash_duo, settings, sign_in_as, "admin", "/notify", "#notify-page")
    wait_for(lambda: "张三" in duo.find_element("#notify-duty-cards").text, message="who is on duty now")
    shot(duo, "roster-zh")
    tab(duo, "通讯录")
    duo.wait_for_element('#notify-group-grid .ag-row[row-id="g1"]', timeout=15)
    assert KEY not in duo.driver.page_source and "SEC0123456789abcdef" not in duo.driver.page_source
    duo.find_element("#notify-contact-name").send_keys("赵六")
    duo.find_element("#notify-contact-phone").send_keys("13712345678")
    pick(duo, "#notify-contact-department", "市水务局")
    duo.find_element("#notify-contact-add").click()
    wait_for(lambda: "已新增联系人：赵六" in duo.find_element("#notify-contact-message").text, message="the contact added")
    wait_for(lambda: "赵六" in duo.find_element("#notify-contact-grid").text, message="the contact in the table")
    (added,) = [c for c in RosterStore(redis_client, department_ids(city)).get().contacts if c.name == "赵六"]
    assert (added.phone, added.department, added.channels) == ("13712345678", "water_affairs", ("sms",))
    shot(duo, "contacts-zh")

    # a bad phone number is refused, in words the admin can act on
    duo.find_element("#notify-contact-name").send_keys("钱七")
    duo.find_element("#notify-contact-phone").send_keys("12345")
    duo.find_element("#notify-contact-add").click()
    wait_for(lambda: "不是有效的手机号" in duo.find_element("#notify-contact-message").text, message="the refusal")
    assert duo.get_logs() == []


def test_an_admin_adds_a_silence_and_sees_it_active(dash_duo, settings, sign_in_as, roster):
    duo = open_page(dash_duo, settings, sign_in_as, "admin", "/notify", "#notify-page")
    tab(duo, "静默")
    wait_for(lambda: duo.find_element("#notify-silence-to").get_attribute("value"), message="the proposed window")
    pick(duo, "#notify-silence-kind", "案件超期")
    duo.find_element("#notify-silence-comment").send_keys("数字城管系统维护")
    duo.find_element("#notify-silence-add").click()
    wait_for(lambda: "已新增静默" in duo.find_element("#notify-silence-message").text, message="the silence added")
    wait_for(lambda: "生效中" in duo.find_element("#notify-silence-grid").text, message="the active silence in the list")
    assert "消息类型：案件超期" in duo.find_element("#notify-silence-grid").text
    shot(duo, "silences-zh")
    assert duo.get_logs() == []


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
def test_an_admin_reads_every_tab_of_the_notify_page(dash_duo, settings, sign_in_as, roster, size):
    duo = open_page(dash_duo, settings, sign_in_as, "admin", "/notify", "#notify-page")
    window(duo, *size)
    wait_for(lambda: "张三" in duo.find_element("#notify-duty-cards").text, message="the roster")
    for label, ready in (("通讯录", "#notify-contact-grid"), ("推送路由", "#notify-route-grid"), ("静默", "#notify-silence-grid"),
                         ("发送记录", "#notify-log-grid"), ("值班表", "#notify-shift-grid")):
        tab(duo, label)
        duo.wait_for_element(ready, timeout=15)
        shot(duo, f"tab-{ready[8:-5]}-{size[0]}")
    tab(duo, "推送路由")
    wait_for(lambda: "超期通知部门与调度" in duo.find_element("#notify-route-grid").text or size == PHONE,
             message="the built-in routes")
    if size == PHONE:
        assert no_sideways_scroll(duo)
    assert duo.get_logs() == []


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
def test_an_operator_sees_who_is_on_duty_with_phone_links(dash_duo, settings, sign_in_as, roster, size):
    duo = open_page(dash_duo, settings, sign_in_as, "operator", "/duty", "#duty-page")
    window(duo, *size)
    wait_for(lambda: duo.driver.find_elements(By.CSS_SELECTOR, "#duty-card-center a.duty-phone"), message="the center's card")
    center = duo.find_element("#duty-card-center")
    assert "张三" in center.text and "值班领导" in center.text and "王五" in center.text
    links = {a.get_attribute("href") for a in center.find_elements(By.CSS_SELECTOR, "a.duty-phone")}
    assert links == {"tel:13912345678", "tel:051258123456"}
    water = duo.find_element("#duty-card-water_affairs")
    assert "当前无人在岗" in water.text and "李四" in water.text  # the next shift
    assert not duo.find_element("#duty-silence-form").is_displayed()  # an operator may not add a silence
    shot(duo, f"duty-{size[0]}")
    if size == PHONE:
        assert no_sideways_scroll(duo)
        height = duo.driver.execute_script("return document.querySelector('#duty-card-center a.duty-phone').getBoundingClientRect().height")
        assert height >= 44
    assert duo.get_logs() == []


def test_the_duty_page_in_english(dash_duo, settings, sign_in_as, roster):
    duo = open_page(dash_duo, settings, sign_in_as, "dispatcher", "/duty", "#duty-page")
    duo.find_element("#lang-switch").click()
    wait_for(lambda: "On duty now" in text_of(duo, "#duty-card-center"), message="the English cards")
    assert "Operations center" in text_of(duo, "#duty-cards")
    assert duo.find_element("#duty-silence-form").is_displayed()  # a dispatcher may add a silence here
    shot(duo, "duty-en")
    assert duo.get_logs() == []
