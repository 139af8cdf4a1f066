"""The case page's photos in a real headless Chromium: an inspector takes a photo on a new case
(the file input of the upload), the thumbnail appears under 处置前 and opens the stripped original;
a file that is no photo is refused in the page's words."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from ioc.domain.access import Principal
from tests.conftest import browser_sign_in, wait_for
from tests.media_samples import WINDOWS_EXE, phone_jpeg

LAT, LON = 31.872, 120.556
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))


@pytest.fixture
def portal(case_portal):
    return case_portal


def text(duo, selector: str) -> str:
    return duo.driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';",
                                     selector)


def choose_file(duo, path) -> None:
    duo.driver.find_element(By.CSS_SELECTOR, "#case-upload input[type=file]").send_keys(str(path))


def test_an_inspector_adds_a_photo_and_sees_its_thumbnail_open_the_original(portal, make_user, tmp_path):
    case, _ = portal.cases.report(class_code="10101", lat=LAT, lon=LON, source="phone", actor="setup-dispatcher",
                                  role="dispatcher", description="井盖丢失")
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(phone_jpeg())
    browser_sign_in(portal, *make_user("inspector"), next_path=f"/case/{case.id}")
    portal.wait_for_element("#case-upload-row", timeout=15)
    wait_for(lambda: portal.find_element("#case-upload-row").is_displayed(), message="the upload row")
    choose_file(portal, photo)
    wait_for(lambda: text(portal, "#case-upload-message") == "已上传 1 张照片", message="the upload's confirmation")
    wait_for(lambda: portal.driver.find_elements(By.CSS_SELECTOR, ".media-before img.media-thumb"), message="the thumbnail")
    thumb = portal.driver.find_element(By.CSS_SELECTOR, ".media-before img.media-thumb")
    wait_for(lambda: portal.driver.execute_script("return arguments[0].naturalWidth", thumb) > 0, message="the thumbnail drawn")
    href = portal.driver.find_element(By.CSS_SELECTOR, ".media-before a").get_attribute("href")
    assert href.endswith(thumb.get_attribute("src").rsplit("/", 2)[-2])  # the thumbnail links to its original
    assert "上传照片" in text(portal, "#case-timeline")
    assert portal.get_logs() == []


def test_a_file_that_is_no_photo_is_refused_in_the_pages_words(portal, make_user, tmp_path):
    case, _ = portal.cases.report(class_code="10101", lat=LAT, lon=LON, source="phone", actor="setup-dispatcher",
                                  role="dispatcher", description="井盖丢失")
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(WINDOWS_EXE)
    browser_sign_in(portal, *make_user("dispatcher"), next_path=f"/case/{case.id}")
    portal.wait_for_element("#case-upload-row", timeout=15)
    wait_for(lambda: portal.find_element("#case-upload-row").is_displayed(), message="the upload row")
    choose_file(portal, fake)
    wait_for(lambda: text(portal, "#case-upload-message") == "未能上传：只接受 JPEG、PNG、WebP、HEIC 格式的照片",
             message="the refusal")
    assert portal.driver.find_elements(By.CSS_SELECTOR, ".media-thumb") == []
    assert portal.get_logs() == []
