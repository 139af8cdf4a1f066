"""The portal's landing page in a real headless Chromium, fed by the real pipeline."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from ioc.web.app import create_app
from tests.conftest import browser_sign_in, make_user_in
from tests.integration.test_ingest_pipeline import birth, send


@pytest.fixture
def portal(dash_duo, settings, sign_in_as):
    app = create_app(settings)
    dash_duo.start_server(app, navigate=False)
    sign_in_as("operator", next_path="/status")
    return dash_duo


def _int(text: str) -> int:
    return int(text.replace(",", "")) if text.replace(",", "").isdigit() else -1


def test_the_landing_page_shows_live_device_and_message_counts(portal, ingest, publisher):
    portal.wait_for_text_to_equal("#status-heading", "城市数据接入状态")
    birth(publisher, "noise", "nz-w-1")
    birth(publisher, "air_quality", "aq-w-1")
    send(publisher, "noise", "nz-w-1", LAeq=52.0)
    portal.wait_for_element("#value-devices")
    portal._wait_for_callbacks()
    until(lambda: _int(portal.find_element("#value-devices").text) >= 2, timeout=15)
    until(lambda: _int(portal.find_element("#value-accepted").text) >= 3, timeout=15)
    assert "噪声" in portal.find_element("#kind-table").text
    assert portal.get_logs() == []


def test_the_language_switch_turns_the_page_english(portal):
    portal.wait_for_text_to_equal("#app-title", "张家港市城市运行管理中心")
    portal.find_element("#lang-switch").click()
    portal.wait_for_text_to_equal("#app-title", "Zhangjiagang City Operations Center")
    portal.wait_for_text_to_equal("#label-devices", "Devices")
    portal.wait_for_text_to_equal("#status-heading", "City data intake")
    assert portal.get_logs() == []


def test_the_page_says_when_the_data_source_is_unavailable(dash_duo, settings, tmp_path):
    """Signed in, then Redis goes away: the page stays and says so instead of failing."""
    from ioc.adapters.embedded import redis_server

    private = redis_server(tmp_path / "redis").start()
    try:
        mine = settings.replace(redis_url=private.url)
        dash_duo.start_server(create_app(mine), navigate=False)
        browser_sign_in(dash_duo, *make_user_in(mine, "operator"), next_path="/status")
        dash_duo.wait_for_text_to_equal("#status-heading", "城市数据接入状态")
        private.stop()
        dash_duo.wait_for_text_to_equal("#banner", "数据源暂不可用，正在重试…", timeout=20)
    finally:
        private.stop()
    assert dash_duo.get_logs() == []
