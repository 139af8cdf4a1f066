"""The browser's viewport for a test: a phone, a tablet or a desk screen, through Chromium's
device emulation (exact CSS pixels whatever the headless window's size; `mobile` also makes the
page honour its viewport meta tag and report a touch screen, as a phone's browser does)."""

from __future__ import annotations

import contextlib

PHONE = (390, 844)
TABLET = (768, 1024)
DESK = (1920, 1080)


def emulate(duo, width: int, height: int, mobile: bool | None = None) -> None:
    """The viewport at `width`×`height` CSS pixels (`mobile`: default below 1024 px wide)."""
    mobile = width < 1024 if mobile is None else mobile
    driver = duo.driver
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
        "screenWidth": width, "screenHeight": height})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": mobile, "maxTouchPoints": 5 if mobile else 1})


def reset(duo) -> None:
    with contextlib.suppress(Exception):
        duo.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        duo.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


def js(duo, script: str, *args):
    return duo.driver.execute_script(script, *args)


def text(duo, selector: str) -> str:
    return js(duo, "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';", selector)
