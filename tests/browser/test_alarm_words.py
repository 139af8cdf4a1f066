"""The wall speaks people's words: the alarm board and the ticker name a device by its name (its
id secondary, in the tooltip) and a reading in words, in Chinese and in English, in a real
headless Chromium."""

from __future__ import annotations

import time

import pytest
from dash.testing.wait import until

from tests.browser.test_bigscreen import _text, screen, server, unstale  # noqa: F401 - fixtures
from tests.integration.test_ingest_pipeline import YANGSHE, birth, send


@pytest.fixture
def manhole_and_lamp(ingest, publisher):
    """A displaced manhole cover (critical) and a street lamp with a defective lamp (major)."""
    birth(publisher, "manhole", "mh-w-40", YANGSHE, "杨舍 智能井盖 40")
    birth(publisher, "streetlight", "sl-w-53", YANGSHE, "杨舍 路灯 53")
    now = int(time.time() * 1000)
    for ts in (now - 2000, now - 1000):
        send(publisher, "manhole", "mh-w-40", ts=ts, displaced=True, tilt=3.0)
        send(publisher, "streetlight", "sl-w-53", ts=ts, status="defectiveLamp", powerState="off")
    return publisher


def shows(screen, selector, *texts) -> bool:
    text = _text(screen, selector)
    return all(t in text for t in texts)


@pytest.mark.parametrize("lang,manhole,lamp", [("zh", "井盖移位", "灯具故障"), ("en", "cover displaced", "defective lamp")])
def test_the_board_and_ticker_name_devices_and_read_values_in_words(screen, manhole_and_lamp, lang, manhole, lamp):
    if lang == "en":
        screen.wait_for_text_to_equal("#app-title", "张家港市城市运行管理中心")
        screen.find_element("#lang-switch").click()
        screen.wait_for_text_to_equal("#app-title", "Zhangjiagang City Operations Center")
    for selector in ("#alarm-board", "#ticker"):
        until(lambda: shows(screen, selector, "杨舍 智能井盖 40", manhole, "杨舍 路灯 53", lamp), timeout=20)
        text = _text(screen, selector)
        for raw in ("True", "defectiveLamp", "displaced =", "= "):
            assert raw not in text
    for selector in ("#alarm-board .b-device", "#ticker .t-device"):  # named the same way, the id secondary (tooltip)
        named = unstale(lambda: {e.text: e.get_attribute("title") for e in screen.find_elements(selector)})
        assert named == {"杨舍 智能井盖 40": "mh-w-40", "杨舍 路灯 53": "sl-w-53"}
    assert screen.get_logs() == []
