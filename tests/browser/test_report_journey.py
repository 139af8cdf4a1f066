"""The inspector's 巡查上报 page in a real Chromium at phone size (390x844): the position from
the phone (CDP geolocation), a photo through the file input, a class found by search, a report
sent as an inspector case; the same report made offline, kept on the phone and sent once when
the network returns; the service worker keeping the shell; the page at phone and tablet sizes in
both languages with nothing wider than the screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dash.testing.wait import until
from PIL import Image
from selenium.webdriver.common.by import By

from ioc.domain.access import Principal
from ioc.web.app import create_app
from tests.conftest import wait_for

PHONE = (390, 844)
TABLET = (768, 1024)
HERE = (31.8732, 120.5560)  # 杨舍, in the city
# the only console errors an offline journey may show: the requests the emulated offline network refused
OFFLINE_NOISE = ("ERR_INTERNET_DISCONNECTED",)


@pytest.fixture
def phone(dash_duo, settings):
    """The app served, the browser at phone size with a position; everything undone afterwards."""
    dash_duo.start_server(create_app(settings), navigate=False)
    driver = dash_duo.driver
    resize(driver, PHONE)
    origin = dash_duo.server.url.rstrip("/")
    driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": origin, "permissions": ["geolocation"]})
    driver.execute_cdp_cmd("Emulation.setGeolocationOverride", {"latitude": HERE[0], "longitude": HERE[1], "accuracy": 12})
    yield dash_duo
    driver.execute_cdp_cmd("Emulation.clearGeolocationOverride", {})
    driver.execute_cdp_cmd("Browser.resetPermissions", {})
    try:
        driver.delete_network_conditions()
    except Exception:  # noqa: BLE001 - none were set
        pass


def resize(driver, size) -> None:
    driver.set_window_size(*size)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != list(size):  # headless: make sure of the viewport
        driver.set_window_size(2 * size[0] - inner[0], 2 * size[1] - inner[1])


def open_report(duo, make_user, lang: str = "") -> None:
    """Sign an inspector in through the sign-in page, landing on /report."""
    name, password = make_user("inspector", display_name="监督员 李强")
    base = duo.server.url.rstrip("/")
    duo.driver.get(f"{base}/login?next=/report" + (f"&lang={lang}" if lang else ""))
    duo.driver.find_element(By.ID, "login-name").send_keys(name)
    duo.driver.find_element(By.ID, "login-password").send_keys(password)
    duo.driver.find_element(By.ID, "login-submit").click()
    wait_for(lambda: duo.driver.find_elements(By.ID, "report-form"), message="the report page")


def photo(tmp_path: Path, name: str = "scene.jpg") -> str:
    path = tmp_path / name
    Image.new("RGB", (800, 600), (120, 160, 90)).save(path, "JPEG", quality=85)
    return str(path)


def fix_position(duo) -> None:
    until(lambda: "±12" in duo.find_element("#report-accuracy").text, timeout=15)


def pick_class_by_search(duo, query: str, code: str) -> None:
    duo.find_element("#report-search").send_keys(query)
    until(lambda: duo.driver.find_elements(By.CSS_SELECTOR, f'#report-results [data-code="{code}"]'), timeout=5)
    duo.find_element(f'#report-results [data-code="{code}"]').click()
    until(lambda: duo.find_element("#report-selected").get_attribute("data-code") == code, timeout=5)


def inspector_cases(case_service) -> list:
    everyone = Principal("test-dispatcher", frozenset({"dispatcher"}))
    return [c for c in case_service.cases_for(everyone, open_only=False) if c.source == "inspector"]


def severe(duo, allowed: tuple[str, ...] = ()) -> list:
    return [e for e in duo.get_logs() if not any(text in e.get("message", "") for text in allowed)]


def shoot(duo, name: str, size=PHONE) -> None:
    """With IOC_SCREENSHOT_DIR set: the whole page at `size`'s width, for a person to look at."""
    shots = os.environ.get("IOC_SCREENSHOT_DIR")
    if shots:
        height = duo.driver.execute_script("return document.documentElement.scrollHeight")
        resize(duo.driver, (size[0], max(size[1], height)))
        duo.driver.save_screenshot(str(Path(shots) / f"{name}.png"))
        resize(duo.driver, size)


def media_merged() -> bool:
    try:
        import ioc.media.service  # noqa: F401 - piece media: POST /api/v1/cases/<id>/media
    except ImportError:
        return False
    return True


def report_with_a_tap_east_of_the_marker(duo, code: str, px: int) -> None:
    """Pick a common class, tap the map `px` right of the marker's place (the map's centre after
    the fix) and submit; returns once the page says the report arrived."""
    from selenium.webdriver.common.action_chains import ActionChains

    duo.find_element(f'#report-common [data-code="{code}"]').click()
    map_box = duo.find_element("#report-map")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", map_box)
    ActionChains(duo.driver).move_to_element(map_box).move_by_offset(px, 0).click().perform()
    until(lambda: duo.find_element("#report-accuracy").get_attribute("data-state") == "corrected", timeout=5)
    duo.find_element("#report-submit").click()
    until(lambda: duo.find_element("#report-message").get_attribute("data-kind") == "ok", timeout=15)


# ---- the journey ---------------------------------------------------------------------------------

def test_an_inspector_reports_a_problem_with_position_class_and_description(phone, make_user, case_service):
    open_report(phone, make_user)
    fix_position(phone)
    assert phone.find_element("#report-accuracy").text == "定位精度 ±12 米"
    pick_class_by_search(phone, "暴露", "20101")
    phone.find_element("#report-description").send_keys("路口东侧垃圾堆放")
    phone.find_element("#report-submit").click()
    until(lambda: phone.find_element("#report-message").get_attribute("data-kind") == "ok", timeout=15)
    [case] = inspector_cases(case_service)
    assert case.class_code == "20101" and case.description == "路口东侧垃圾堆放"
    assert abs(case.lat - HERE[0]) < 1e-5 and abs(case.lon - HERE[1]) < 1e-5
    assert f"已上报，案件编号 {case.id}" in phone.find_element("#report-message").text
    assert phone.find_element("#report-case-link").get_attribute("href").endswith(f"/case/{case.id}")
    assert severe(phone) == []


def test_a_common_class_is_one_tap_and_the_map_corrects_the_position(phone, make_user, case_service):
    open_report(phone, make_user)
    fix_position(phone)
    report_with_a_tap_east_of_the_marker(phone, "20501", 60)
    [case] = inspector_cases(case_service)
    assert case.class_code == "20501" and case.lon > HERE[1] + 1e-5  # east of where the phone said
    assert severe(phone) == []


def test_on_a_4k_screen_the_page_is_twice_as_large_and_a_tap_on_the_map_still_lands(phone, make_user, case_service):
    resize(phone.driver, (1920, 1080))
    open_report(phone, make_user)
    fix_position(phone)
    height = "return document.querySelector('#report-submit').getBoundingClientRect().height"
    at_1080p = phone.driver.execute_script(height)
    resize(phone.driver, (3840, 2160))
    until(lambda: phone.driver.execute_script(height) == pytest.approx(2 * at_1080p, abs=1), timeout=5)
    assert phone.driver.execute_script("return document.documentElement.scrollWidth") <= 3840
    shoot(phone, "report-4k", (3840, 2160))
    report_with_a_tap_east_of_the_marker(phone, "20501", 120)
    [case] = inspector_cases(case_service)
    assert case.lon > HERE[1] + 1e-5 and abs(case.lat - HERE[0]) < 2e-4  # east of the marker, on its latitude
    assert severe(phone) == []


@pytest.mark.skipif(not media_merged(), reason="needs piece media (POST /api/v1/cases/<id>/media)")
def test_the_photo_arrives_on_the_case_as_a_before_photo(phone, make_user, case_service, tmp_path):
    open_report(phone, make_user)
    fix_position(phone)
    phone.find_element("#report-files").send_keys(photo(tmp_path))
    until(lambda: len(phone.driver.find_elements(By.CSS_SELECTOR, "#report-photos img")) == 1, timeout=5)
    pick_class_by_search(phone, "manhole", "10102")
    shoot(phone, "report-ready")
    phone.find_element("#report-submit").click()
    until(lambda: phone.find_element("#report-message").get_attribute("data-kind") == "ok", timeout=20)
    [case] = inspector_cases(case_service)
    assert [a["stage"] for a in case.attachments] == ["before"]
    shoot(phone, "report-sent")
    assert severe(phone) == []


def test_enter_in_the_search_picks_the_first_class_found_and_sends_nothing(phone, make_user, case_service):
    from selenium.webdriver.common.keys import Keys

    open_report(phone, make_user)
    fix_position(phone)
    phone.find_element("#report-search").send_keys("10201" + Keys.ENTER)
    until(lambda: phone.find_element("#report-selected").get_attribute("data-code") == "10201", timeout=5)
    assert "hidden" in phone.find_element("#report-message").get_attribute("class")
    assert inspector_cases(case_service) == []
    assert severe(phone) == []


def test_photos_are_previewed_and_can_be_removed(phone, make_user, tmp_path):
    open_report(phone, make_user)
    phone.find_element("#report-files").send_keys(photo(tmp_path, "a.jpg") + "\n" + photo(tmp_path, "b.jpg"))
    until(lambda: len(phone.driver.find_elements(By.CSS_SELECTOR, "#report-photos img")) == 2, timeout=5)
    assert phone.find_element("#report-photos-note").text == "2 张照片"
    phone.driver.find_elements(By.CSS_SELECTOR, "#report-photos .report-photo-remove")[0].click()
    until(lambda: len(phone.driver.find_elements(By.CSS_SELECTOR, "#report-photos img")) == 1, timeout=5)
    camera = phone.find_element("#report-camera")
    assert camera.get_attribute("capture") == "environment" and camera.get_attribute("accept") == "image/*"
    assert severe(phone) == []


# ---- offline -------------------------------------------------------------------------------------

def test_a_report_made_offline_waits_on_the_phone_and_is_sent_once_when_the_network_returns(phone, make_user, case_service, tmp_path):
    open_report(phone, make_user)
    fix_position(phone)
    if media_merged():
        phone.find_element("#report-files").send_keys(photo(tmp_path))
    pick_class_by_search(phone, "illegal park", "20502")
    phone.driver.set_network_conditions(offline=True, latency=0, download_throughput=-1, upload_throughput=-1)
    until(lambda: "hidden" not in phone.find_element("#report-net").get_attribute("class"), timeout=5)
    phone.find_element("#report-submit").click()
    until(lambda: phone.find_element("#report-message").get_attribute("data-kind") == "waiting", timeout=10)
    assert phone.find_element("#report-waiting").text == "1 条上报等待网络…"
    assert "网络不可用" in phone.find_element("#report-message").text
    assert inspector_cases(case_service) == []
    shoot(phone, "report-offline-waiting")
    # a page opened again while offline still knows the waiting report (IndexedDB)
    phone.driver.delete_network_conditions()
    phone.driver.refresh()
    until(lambda: phone.find_elements("#report-history li") or phone.find_element("#report-waiting").get_attribute("data-count") == "0", timeout=20)
    cases = inspector_cases(case_service)
    assert len(cases) == 1 and cases[0].class_code == "20502"
    if media_merged():
        assert [a["stage"] for a in cases[0].attachments] == ["before"]
    history = phone.find_element("#report-history").text
    assert "已发送" in history and cases[0].id in history
    shoot(phone, "report-sent-later")
    assert severe(phone, OFFLINE_NOISE) == []


def test_the_online_event_sends_what_waited_and_the_same_report_id_never_makes_two_cases(phone, make_user, case_service):
    open_report(phone, make_user)
    fix_position(phone)
    phone.find_element('#report-common [data-code="10105"]').click()
    phone.driver.set_network_conditions(offline=True, latency=0, download_throughput=-1, upload_throughput=-1)
    phone.find_element("#report-submit").click()
    until(lambda: phone.find_element("#report-waiting").get_attribute("data-count") == "1", timeout=10)
    report_id = phone.find_element("#report-queue-list li").get_attribute("data-report")
    phone.driver.delete_network_conditions()  # the page hears `online` and sends
    until(lambda: phone.find_element("#report-message").get_attribute("data-kind") == "ok", timeout=20)
    assert phone.find_element("#report-waiting").get_attribute("data-count") == "0"
    # the same report once more (a phone whose answer was lost): the same case, no second one
    again = phone.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/cases', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({report_id: arguments[0], category: '10105', lat: 31.8732, lon: 120.556, source: 'inspector'})})
          .then((r) => r.json().then((b) => done([r.status, b.id])));
    """, report_id)
    [case] = inspector_cases(case_service)
    assert again == [200, case.id]
    assert severe(phone, OFFLINE_NOISE) == []


def test_a_refused_report_says_why_and_is_not_sent_again(phone, make_user, case_service):
    open_report(phone, make_user)
    phone.find_element('#report-common [data-code="20101"]').click()
    fix_position(phone)
    # a position outside the city: the service refuses it (400) with its reason
    phone.driver.execute_cdp_cmd("Emulation.setGeolocationOverride", {"latitude": 39.9, "longitude": 116.4, "accuracy": 10})
    until(lambda: "±10" in phone.find_element("#report-accuracy").text, timeout=15)
    phone.find_element("#report-submit").click()
    until(lambda: phone.find_element("#report-message").get_attribute("data-kind") == "error", timeout=10)
    assert phone.find_element("#report-message").text.startswith("上报被拒绝：")
    assert "1 条上报被拒绝" in phone.find_element("#report-queue").text
    assert phone.find_element("#report-waiting").get_attribute("data-count") == "0"
    assert inspector_cases(case_service) == []
    phone.driver.execute_script("window.scrollTo(0, 0)")
    phone.find_element("#report-queue-list li button").click()  # discard
    until(lambda: "hidden" in phone.find_element("#report-queue").get_attribute("class"), timeout=5)
    assert [e for e in severe(phone) if "/api/v1/cases" not in e["message"]] == []  # the 400 itself is logged


# ---- the web app ---------------------------------------------------------------------------------

def test_the_service_worker_keeps_the_report_shell(phone, make_user):
    open_report(phone, make_user)
    kept = phone.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        navigator.serviceWorker.ready
          .then(() => caches.keys())
          .then((names) => caches.open(names.find((n) => n.startsWith('ioc-field-'))))
          .then((cache) => cache.keys())
          .then((requests) => done(requests.map((r) => new URL(r.url).pathname)))
          .catch((e) => done(String(e)));
    """)
    assert {"/report", "/field/report.js", "/field/leaflet/leaflet.js", "/field/icon-192.png", "/api/v1/map/districts"} <= set(kept)
    assert severe(phone) == []


@pytest.mark.parametrize("size", [PHONE, TABLET], ids=["phone", "tablet"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_fits_the_screen_in_both_languages(phone, make_user, size, lang, tmp_path):
    resize(phone.driver, size)
    open_report(phone, make_user)
    fix_position(phone)
    if lang == "en":
        phone.find_element("#report-lang").click()
        until(lambda: phone.find_element("#report-submit").text == "Submit report", timeout=5)
        assert "Accuracy ±12 m" == phone.find_element("#report-accuracy").text
    phone.find_element("#report-search").send_keys("路" if lang == "zh" else "road")
    until(lambda: phone.driver.find_elements(By.CSS_SELECTOR, "#report-results .report-result"), timeout=5)
    width = phone.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= size[0]
    for button in phone.driver.find_elements(By.CSS_SELECTOR, "button, .report-button"):
        if button.is_displayed():
            assert button.size["height"] >= 44, button.get_attribute("outerHTML")[:80]
    shoot(phone, f"report-{lang}-{size[0]}x{size[1]}", size)
    assert severe(phone) == []


def test_the_page_opens_from_the_phone_s_cache_while_the_server_is_unreachable_and_sends_later(phone, make_user, case_service):
    open_report(phone, make_user)
    phone.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        navigator.serviceWorker.ready.then(() => done(true));
    """)
    app, port = phone.server.app, phone.server.port
    phone.server.stop()  # no answer at all: as a phone out of coverage sees it
    phone.driver.refresh()
    wait_for(lambda: phone.driver.find_elements(By.ID, "report-form"), message="the report page from the cache")
    fix_position(phone)
    phone.find_element('#report-common [data-code="10101"]').click()
    phone.find_element("#report-submit").click()
    until(lambda: phone.find_element("#report-waiting").get_attribute("data-count") == "1", timeout=10)
    assert inspector_cases(case_service) == []
    from tests.conftest import AppServer
    phone.servers.append(AppServer(app, port).start())  # the network is back
    phone.driver.execute_script("window.scrollTo(0, 0)")
    phone.find_element("#report-retry").click()
    until(lambda: phone.find_element("#report-message").get_attribute("data-kind") == "ok", timeout=20)
    [case] = inspector_cases(case_service)
    assert case.class_code == "10101"
    # what a phone without a server logs: the refused connections
    assert severe(phone, ("ERR_CONNECTION_REFUSED", "Failed to fetch")) == []


def test_the_portal_navigation_opens_the_report_page_with_a_full_page_load(phone, make_user):
    from tests.conftest import browser_sign_in

    resize(phone.driver, (1280, 900))
    browser_sign_in(phone, *make_user("inspector"))
    until(lambda: phone.driver.find_elements(By.ID, "nav-report"), timeout=10)
    link = phone.find_element("#nav-report")
    assert link.text == "巡查上报" and link.tag_name == "a"
    link.click()
    wait_for(lambda: phone.driver.find_elements(By.ID, "report-form"), message="the report page")
    assert phone.driver.current_url.endswith("/report")
    assert severe(phone) == []
