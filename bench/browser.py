"""Headless Chromium on the big screen: how long until the map shows the whole device fleet.

Signs in with a kiosk link (what a wall uses), opens `/` in a fresh browser profile and polls
the page: the time is the page's own clock (`performance.now()`, from navigation start) when the
device layer has drawn its clusters (`#map .ioc-cluster`), then when the next animation frame
runs (the main thread is free again: the map answers input). Also the navigation timings.
"""

from __future__ import annotations

import statistics
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TIMEOUT_S = 60.0
POLL_S = 0.02

_DRAWN = """
var n = document.querySelectorAll('#map .ioc-cluster').length;
return n > 0 ? [performance.now(), n] : null;
"""
_NEXT_FRAME = """
var done = arguments[arguments.length - 1];
requestAnimationFrame(function () { setTimeout(function () { done(performance.now()); }, 0); });
"""
_NAVIGATION = """
var t = performance.getEntriesByType('navigation')[0];
return t ? [t.domContentLoadedEventEnd, t.loadEventEnd] : [0, 0];
"""


def _driver(profile_dir: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1920,1080",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={profile_dir}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def one_run(base: str, kiosk_secret: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="ioc-chromium-") as profile:
        driver = _driver(profile)
        try:
            driver.set_script_timeout(30)
            driver.get(f"{base}/kiosk/{kiosk_secret}")  # opens the wall session (cookie)
            driver.get(f"{base}/assets/ioc.css")  # leave the page, so the next load starts cold
            driver.get(base + "/")
            deadline = time.monotonic() + TIMEOUT_S
            drawn = None
            while drawn is None and time.monotonic() < deadline:
                drawn = driver.execute_script(_DRAWN)
                if drawn is None:
                    time.sleep(POLL_S)
            if drawn is None:
                raise TimeoutError(f"no device cluster on the map within {TIMEOUT_S:.0f} s")
            frame = driver.execute_async_script(_NEXT_FRAME)
            dcl, load = driver.execute_script(_NAVIGATION)
            severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            return {"drawn_s": drawn[0] / 1000, "interactive_s": frame / 1000, "clusters": drawn[1],
                    "dom_content_loaded_s": dcl / 1000, "load_s": load / 1000, "console_errors": len(severe)}
        finally:
            driver.quit()


def map_ready(base: str, kiosk_secret: str, runs: int = 3, progress=print) -> dict:
    """Median over `runs` cold page loads; each run's figures kept in `runs`."""
    results = []
    for i in range(runs):
        r = one_run(base, kiosk_secret)
        results.append(r)
        progress(f"  browser: run {i + 1}: devices drawn {r['drawn_s']:.2f} s, interactive {r['interactive_s']:.2f} s "
                 f"({r['clusters']} clusters; DOMContentLoaded {r['dom_content_loaded_s']:.2f} s)")
    return {
        "interactive_s": round(statistics.median(r["interactive_s"] for r in results), 3),
        "drawn_s": round(statistics.median(r["drawn_s"] for r in results), 3),
        "runs": results,
        "method": "headless Chromium, kiosk session, performance.now() when #map .ioc-cluster appears, then the next frame",
    }
