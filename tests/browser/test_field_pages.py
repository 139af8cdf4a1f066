"""The field pages at 390x844 in a real headless Chromium, the phone's position set through the
DevTools protocol (`Emulation.setGeolocationOverride`): the inspector verifies the nearest case
first and checks a handled one with its photos before | after; a department's handler
acknowledges, checks in (too far: refused naming the distance; on site: accepted) and reports
the case handled with an after photo (without one: refused); neither page scrolls sideways."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from ioc.domain.access import Principal
from tests.browser.screen import PHONE, emulate, reset
from tests.conftest import wait_for

HERE = (31.8720, 120.5560)  # where the phone stands, in 杨舍镇
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
HANDLER = Principal("setup-handler", frozenset({"handler"}), department="water_affairs")


@pytest.fixture
def portal(case_portal):
    emulate(case_portal, *PHONE)  # a phone's viewport, touch screen and viewport meta tag
    yield case_portal
    reset(case_portal)


def stand_at(duo, lat: float, lon: float, accuracy: float = 12) -> None:
    """The phone's position, as its GPS would give it to the page."""
    origin = duo.server.url.rstrip("/")
    duo.driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": origin, "permissions": ["geolocation"]})
    duo.driver.execute_cdp_cmd("Emulation.setGeolocationOverride", {"latitude": lat, "longitude": lon, "accuracy": accuracy})


def text(duo, selector: str) -> str:
    return duo.driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';",
                                     selector)


def card_ids(duo, page: str) -> list[str]:
    return duo.driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset.case)", f"#{page}-list .field-card")


def click(duo, selector: str) -> None:
    element = duo.find_element(selector)
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def visible(duo, selector: str) -> bool:
    found = duo.driver.find_elements(By.CSS_SELECTOR, selector)
    return bool(found) and found[0].is_displayed()


def no_sideways_scroll(duo) -> bool:
    return duo.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def small_targets(duo, page: str) -> list[str]:
    """The visible buttons and links of the field page smaller than 44 px (height or width)."""
    return duo.driver.execute_script("""
        return [...document.querySelectorAll(arguments[0])].filter(e => e.offsetParent !== null).filter(e => {
            const r = e.getBoundingClientRect(); return r.height < 44 || r.width < 44;
        }).map(e => e.id || e.className || e.textContent);""", f"#{page}-page .btn, #{page}-page .field-tab")


def new_case(cases, lat: float, lon: float, class_code: str = "10101", address: str = "") -> str:
    case, created = cases.report(class_code=class_code, lat=lat, lon=lon, source="inspector", actor="setup-inspector",
                                 role="inspector", address=address)
    assert created
    return case.id


def advance(cases, case_id: str, to: str) -> None:
    steps = {"accepted": ["accept"], "dispatched": ["accept", "verify", "dispatch"],
             "handled": ["accept", "verify", "dispatch", "handle"]}[to]
    who = {"accept": DISPATCHER, "verify": INSPECTOR, "dispatch": DISPATCHER, "handle": HANDLER}
    for action in steps:
        cases.act(case_id, action, who[action])


def png_photo(color=(40, 120, 200)) -> bytes:
    """A small photo; another colour makes another file (photos are kept by their content's hash)."""
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "PNG")
    return buffer.getvalue()


def add_photo(duo, page: str, stage: str, path) -> None:
    click(duo, f"#{page}-upload-stage input[value='{stage}']")
    duo.driver.find_element(By.CSS_SELECTOR, f"#{page}-upload input[type=file]").send_keys(str(path))


def test_the_inspector_verifies_the_nearest_case_first(portal, sign_in_as):
    far = new_case(portal.cases, HERE[0] + 0.03, HERE[1], address="东二环路 1 号")  # ~3.3 km north
    near = new_case(portal.cases, HERE[0] + 0.001, HERE[1], address="人民中路 88 号")  # ~110 m
    middle = new_case(portal.cases, HERE[0], HERE[1] + 0.01, address="长安路 12 号")  # ~950 m east
    for case_id in (far, near, middle):
        advance(portal.cases, case_id, "accepted")
    stand_at(portal, *HERE)
    sign_in_as("inspector", next_path="/inspections")
    wait_for(lambda: card_ids(portal, "insp") == [near, middle, far], timeout=20, message="the queue nearest first")
    assert text(portal, "#insp-sortnote").startswith("按距离由近到远排列 · 已定位（精度 ±12 米")
    assert text(portal, f"[data-case='{near}'] .field-distance") == "110 米"
    assert text(portal, f"[data-case='{far}'] .field-distance") == "3.3 公里"
    assert "井盖丢失" in text(portal, f"[data-case='{near}'] .field-class")
    assert text(portal, f"[data-case='{near}'] .field-where") == "人民中路 88 号 · 杨舍镇"
    geo = portal.find_element(f"[data-case='{near}'] .field-nav-link").get_attribute("href")
    assert geo == f"geo:{HERE[0] + 0.001:.6f},{HERE[1]:.6f}?q={HERE[0] + 0.001:.6f},{HERE[1]:.6f}"
    assert no_sideways_scroll(portal) and small_targets(portal, "inspections") == []

    # the nearest: verified on site; it leaves the queue
    click(portal, f"[data-case='{near}'] .field-open")
    wait_for(lambda: visible(portal, "#insp-sheet") and visible(portal, "#insp-act-verify"), message="the work sheet")
    assert not visible(portal, "#insp-act-check_pass") and no_sideways_scroll(portal)
    click(portal, "#insp-act-void")  # voiding needs a note
    wait_for(lambda: "请填写" in text(portal, "#insp-message"), message="the note asked for")
    click(portal, "#insp-act-verify")
    wait_for(lambda: text(portal, "#insp-message") == "已办理：核实属实", message="verified")
    assert portal.cases.store.get(near).stage == "verified"
    click(portal, "#insp-close")
    wait_for(lambda: card_ids(portal, "insp") == [middle, far], message="the verified case gone from the queue")
    assert text(portal, "#insp-count-verify") == "（2）"
    assert portal.get_logs() == []


def test_without_a_position_the_queue_is_by_deadline_and_says_so(portal, sign_in_as):
    first, second = new_case(portal.cases, *HERE), new_case(portal.cases, HERE[0] + 0.01, HERE[1])
    for case_id in (first, second):
        advance(portal.cases, case_id, "accepted")
    portal.driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": portal.server.url.rstrip("/"), "permissions": []})
    sign_in_as("inspector", next_path="/inspections")
    wait_for(lambda: text(portal, "#insp-sortnote").startswith("按时限排列（未允许使用位置"), timeout=20, message="the note")
    assert card_ids(portal, "insp") == [first, second]
    assert text(portal, f"[data-case='{first}'] .field-distance") == ""
    assert portal.get_logs() == []


def test_the_inspector_checks_a_handled_case_with_its_photos_before_and_after(portal, sign_in_as, tmp_path):
    case_id = new_case(portal.cases, HERE[0] + 0.002, HERE[1], address="人民中路 90 号")
    advance(portal.cases, case_id, "dispatched")
    photo = tmp_path / "after.png"
    photo.write_bytes(png_photo())
    stand_at(portal, *HERE)
    sign_in_as("inspector", next_path="/inspections")
    wait_for(lambda: text(portal, "#insp-count-check") == "（0）", timeout=20, message="the counts")
    media = portal.server.app.server.extensions["ioc_services"].media
    media.attach_files(case_id, HANDLER, [("done.png", png_photo((90, 160, 60)))], "after")  # the department's photo of its work
    portal.cases.act(case_id, "handle", HANDLER, require_after_photo=True)
    click(portal, "#insp-tab-check")
    wait_for(lambda: card_ids(portal, "insp") == [case_id], message="the check queue")
    click(portal, f"[data-case='{case_id}'] .field-open")
    wait_for(lambda: visible(portal, "#insp-act-check_pass"), message="the check actions")
    assert [text(portal, f"#insp-gallery .media-{s} .media-stage") for s in ("before", "after")] == ["处置前", "处置后"]
    wait_for(lambda: len(portal.driver.find_elements(By.CSS_SELECTOR, "#insp-gallery .media-after img")) == 1,
             message="the department's after photo")
    add_photo(portal, "insp", "before", photo)
    wait_for(lambda: text(portal, "#insp-upload-message") == "已上传 1 张照片", message="the photo added")
    wait_for(lambda: len(portal.driver.find_elements(By.CSS_SELECTOR, "#insp-gallery .media-before img")) == 1,
             message="the photo among the before ones")
    before, after = (portal.find_element(f"#insp-gallery .media-{s} img").rect for s in ("before", "after"))
    assert before["y"] == after["y"] and before["x"] + before["width"] <= after["x"]  # side by side
    assert no_sideways_scroll(portal)
    click(portal, "#insp-act-check_fail")  # a rework needs a note
    wait_for(lambda: "请填写" in text(portal, "#insp-message"), message="the note asked for")
    click(portal, "#insp-act-check_pass")
    wait_for(lambda: text(portal, "#insp-message") == "已办理：核查通过", message="checked")
    assert portal.cases.store.get(case_id).stage == "checked"
    assert portal.get_logs() == []


def test_the_handler_acknowledges_checks_in_and_reports_handled_with_an_after_photo(portal, sign_in_as, tmp_path):
    case_id = new_case(portal.cases, HERE[0], HERE[1], address="人民中路 88 号")
    advance(portal.cases, case_id, "dispatched")
    photo = tmp_path / "done.png"
    photo.write_bytes(png_photo())
    stand_at(portal, HERE[0] + 0.01, HERE[1])  # ~1.1 km away
    sign_in_as("handler", department="water_affairs", next_path="/tasks")
    wait_for(lambda: card_ids(portal, "tasks") == [case_id], timeout=20, message="the task")
    assert text(portal, "#tasks-department") == "市水务局" and text(portal, "#tasks-count-unacked") == "1"
    assert no_sideways_scroll(portal) and small_targets(portal, "tasks") == []
    click(portal, f"[data-case='{case_id}'] .field-open")
    wait_for(lambda: visible(portal, "#tasks-act-acknowledge"), message="the acknowledge button")
    assert not visible(portal, "#tasks-act-arrive")  # 签收 first
    click(portal, "#tasks-act-acknowledge")
    wait_for(lambda: text(portal, "#tasks-message") == "已办理：签收", message="acknowledged")

    # too far to check in: refused, naming the distance and the radius
    wait_for(lambda: visible(portal, "#tasks-act-arrive"), message="the check-in button")
    click(portal, "#tasks-act-arrive")
    wait_for(lambda: "超出到场签到范围（300 米）" in text(portal, "#tasks-message"), message="too far")
    assert text(portal, "#tasks-message").startswith("未能办理：您距案件位置约 111")  # ~1112 m
    assert not portal.cases.store.get(case_id).arrived_at
    # on site: accepted
    stand_at(portal, HERE[0] + 0.0005, HERE[1])
    click(portal, "#tasks-sheet-locate")
    wait_for(lambda: "已定位" in text(portal, "#tasks-sortnote") and "60 米" in text(portal, "#tasks-sheet-facts"),
             message="the new position")
    click(portal, "#tasks-act-arrive")
    wait_for(lambda: text(portal, "#tasks-message") == "已办理：到场签到", message="checked in")
    assert portal.cases.store.get(case_id).arrived_at

    # handled: refused without an after photo, done with one
    click(portal, "#tasks-act-handle")
    wait_for(lambda: "处置后照片" in text(portal, "#tasks-message"), message="the after photo asked for")
    add_photo(portal, "tasks", "after", photo)
    wait_for(lambda: len(portal.driver.find_elements(By.CSS_SELECTOR, "#tasks-gallery .media-after img")) == 1,
             message="the after photo")
    click(portal, "#tasks-act-handle")
    wait_for(lambda: text(portal, "#tasks-message") == "已办理：处置完毕", message="handled")
    assert portal.cases.store.get(case_id).stage == "handled"
    assert portal.get_logs() == []
