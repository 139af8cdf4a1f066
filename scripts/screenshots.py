"""Refresh the README's screenshots of each view (docs/*.png) from a live demo city.

    .venv/bin/python -m scripts.screenshots [--out docs] [--warmup 75]     # or: make screenshots

Starts its own demo city (`python -m ioc demo`, embedded Redis and MQTT, data in a temporary
folder, the portal on a free port, the rainstorm/crowd/discharge scenarios timed to peak while
the shots are taken), waits until /healthz answers and the city has had `--warmup` seconds to
fill, then saves one PNG per view with headless Chromium (a fresh browser profile per shot, so
the language kept in localStorage never leaks from one shot into the next). Stops the demo with
SIGINT at the end; the demo stops every process it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ioc.adapters.embedded import _die_with_parent, free_port
from ioc.settings import REPO_ROOT

SPEED = 6  # simulated minutes per real minute
STARTUP_S = 10  # roughly, from starting the demo to the simulators' first message
SHOTS_S = 95  # roughly, how long taking all the shots lasts
# minutes from a scenario's start to its peak (end of its rise), see simulators/README.md
PEAK_MIN = {"rainstorm": 9, "crowd": 8, "discharge": 1}


def simulator_args(warmup: float) -> list[str]:
    """Seeded demo fleet, scenarios timed so that every shot is taken while they are at their peak.

    At `--speed 12` with every scenario at minute 0 the alarms have cleared again before the
    last shot, so the simulated clock runs at 6x and each scenario starts such that it peaks
    when the first shot is taken (rainstorm and crowd then hold for 5 simulated minutes, longer
    than all the shots take).
    """
    first_shot_min = (warmup + STARTUP_S) * SPEED / 60
    args = ["--speed", str(SPEED), "--seed", "20260101", "--reports-per-hour", "1500"]
    for name, peak in PEAK_MIN.items():
        args += ["--scenario", f"{name}@{max(0.0, first_shot_min - peak):.1f}"]
    return args


CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--hide-scrollbars")
SETTLE_S = 3.0  # after the content is there: let tiles of the map, fonts and a tick settle


@dataclass(frozen=True)
class Shot:
    file: str
    path: str
    width: int
    height: int
    ready: str  # JavaScript expression that is true once the view shows its content
    english: bool = False
    user: str = "leader"  # demo user who signs in for the shot ("" = none: the sign-in page itself)


_KPIS_FILLED = "(e => e && e.textContent.trim() !== '' && e.textContent.trim() !== '—')(document.querySelector('{sel}'))"
_MAP_DRAWN = "document.querySelectorAll('{sel} path.leaflet-interactive').length >= 10"
BIGSCREEN_READY = " && ".join((_KPIS_FILLED.format(sel="#value-kpi_online"), _MAP_DRAWN.format(sel="#map")))
DISTRICT_READY = " && ".join((
    _KPIS_FILLED.format(sel="[id^=value-d-kpi_]"),
    "document.querySelectorAll('.leaflet-container path.leaflet-interactive').length >= 1",
))
DISTRICTS_READY = "document.querySelectorAll('#ranking .ag-row').length >= 5"
STATUS_READY = " && ".join((
    _KPIS_FILLED.format(sel="#updated"),
    "document.querySelectorAll('#kind-table tr').length >= 3",
))

LOGIN_READY = "document.querySelector('#login-form')"
CONSOLE_READY = "document.querySelectorAll('#console-page .ag-row').length >= 1"
CASE_READY = "document.querySelectorAll('#case-timeline .ag-row').length >= 1 && document.querySelector('#case-facts dd')"
INDICATORS_READY = "document.querySelectorAll('#indicators-page .ag-row').length >= 3"
AUDIT_READY = "document.querySelectorAll('#audit-grid .ag-row').length >= 3"
ADMIN_READY = "document.querySelectorAll('#admin-page .ag-row').length >= 5"

SHOTS = (
    Shot("bigscreen.png", "/", 1920, 1080, BIGSCREEN_READY, user="operator"),
    Shot("bigscreen-4k.png", "/", 3840, 2160, BIGSCREEN_READY, user="operator"),
    Shot("bigscreen-en.png", "/", 1920, 1080, BIGSCREEN_READY, english=True, user="operator"),
    Shot("district.png", "/district/yangshe", 1920, 1080, DISTRICT_READY),
    Shot("districts.png", "/districts", 1920, 1080, DISTRICTS_READY),
    Shot("status.png", "/status", 1920, 1080, STATUS_READY),
    Shot("login.png", "/login", 1920, 1080, LOGIN_READY, user=""),
    Shot("audit.png", "/audit", 1920, 1080, AUDIT_READY),
    Shot("admin.png", "/admin", 1920, 1080, ADMIN_READY, user="admin"),
    Shot("cases.png", "/cases", 1920, 1080, CONSOLE_READY, user="dispatcher"),
    Shot("case.png", "/case/{newest}", 1920, 1080, CASE_READY, user="dispatcher"),
    Shot("indicators.png", "/indicators", 1920, 1080, INDICATORS_READY),
)
# linked events (大联动): after the shots above, a dispatcher starts an event (from the rainstorm's
# proposal when there is one, else a flood event in 杨舍) and the wall follows it
EVENT_MODE_READY = " && ".join((
    "document.querySelector('#bigscreen-grid.event-mode')",
    "document.querySelectorAll('#ev-wall-board .ev-task').length >= 3",
    _MAP_DRAWN.format(sel="#map"),
))
EVENT_READY = ("document.querySelectorAll('#event-tasks .ev-task').length >= 3 && "
               "document.querySelectorAll('#event-log .ag-row').length >= 3")
EVENTS_READY = "document.querySelectorAll('#events-grid .ag-row').length >= 1"
EVENT_SHOTS = (
    Shot("event-wall.png", "/", 1920, 1080, EVENT_MODE_READY, user="operator"),
    Shot("event-wall-4k.png", "/", 3840, 2160, EVENT_MODE_READY, user="operator"),
    Shot("event-wall-en.png", "/", 1920, 1080, EVENT_MODE_READY, english=True, user="operator"),
    Shot("event.png", "/event/{event}", 1920, 1080, EVENT_READY, user="dispatcher"),
    Shot("events.png", "/events", 1920, 1080, EVENTS_READY, user="dispatcher"),
)
START_EVENT_JS = """
const done = arguments[arguments.length - 1];
const post = body => fetch('/api/v1/events', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                              body: JSON.stringify(body)}).then(r => r.json());
fetch('/api/v1/events/proposals').then(r => r.json())
  .then(b => post(b.items && b.items.length ? {proposal_id: b.items[0].id}
                                            : {plan: 'flood', level: 'IV', district: 'yangshe', title: '杨舍城区暴雨内涝'}))
  .then(e => done(e.id || '')).catch(() => done(''));
"""
NEWEST_CASE_JS = """
const done = arguments[arguments.length - 1];
fetch('/api/v1/cases?limit=1').then(r => r.json()).then(b => done(b.items.length ? b.items[0].id : '')).catch(() => done(''));
"""
DEMO_PASSWORD = secrets.token_urlsafe(12)  # every demo user's password for this run (IOC_DEMO_PASSWORD)


def start_demo(port: int, data_dir: Path, sim_args: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MQTT_URL", "IOC_TILE_URL")}
    env.update(PORT=str(port), IOC_HOST="127.0.0.1", IOC_DATA_DIR=str(data_dir), IOC_LANG="zh", IOC_DEMO_PASSWORD=DEMO_PASSWORD,
               IOC_LOG_LEVEL=env.get("IOC_LOG_LEVEL") or "WARNING", PYTHONUNBUFFERED="1")
    log = open(data_dir / "demo.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "ioc", "demo", "--", *sim_args], cwd=REPO_ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)


def wait_healthy(base: str, demo: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if demo.poll() is not None:
            raise RuntimeError(f"the demo exited with code {demo.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{base}/healthz did not answer 200 within {timeout:.0f}s")


def stop_demo(demo: subprocess.Popen) -> None:
    if demo.poll() is None:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()


def new_browser(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    for binary in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(binary):
            options.binary_location = binary
            break
    from shutil import which

    driver = webdriver.Chrome(options=options, service=Service(executable_path=which("chromedriver")))
    # the viewport, not the window, must be exactly the wall's size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


def wait_js(driver, expression: str, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if driver.execute_script(f"return !!({expression});"):
                return
        except Exception:  # noqa: BLE001 - page still loading
            pass
        time.sleep(0.25)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def sign_in(driver, base: str, user: str) -> None:
    """Sign in as a demo user through the sign-in page."""
    driver.get(base + "/login")
    driver.find_element("css selector", "#login-name").send_keys(user)
    driver.find_element("css selector", "#login-password").send_keys(DEMO_PASSWORD)
    driver.find_element("css selector", "#login-submit").click()
    wait_js(driver, "!window.location.pathname.startsWith('/login')", 20, f"{user} to be signed in")


def start_event(base: str) -> str:
    """A dispatcher starts a linked event through the API (the proposal's, or a flood event in 杨舍): its id."""
    driver = new_browser(1920, 1080)
    try:
        sign_in(driver, base, "dispatcher")
        driver.set_script_timeout(30)
        event_id = driver.execute_async_script(START_EVENT_JS)
    finally:
        driver.quit()
    if not event_id:
        raise RuntimeError("no linked event could be started for the event shots")
    return event_id


def take(shot: Shot, base: str, out: Path, event_id: str = "") -> Path:
    driver = new_browser(shot.width, shot.height)  # fresh profile: empty localStorage, no session
    try:
        if shot.user:
            sign_in(driver, base, shot.user)
        path = shot.path.replace("{event}", event_id)
        if "{newest}" in path:  # the newest open case, asked of the API with the signed-in session
            driver.set_script_timeout(20)
            path = path.replace("{newest}", driver.execute_async_script(NEWEST_CASE_JS) or "none")
        driver.get(base + path)
        wait_js(driver, shot.ready, 60, f"{shot.path} to show its content")
        if shot.english:
            driver.find_element("css selector", "#lang-switch").click()
            wait_js(driver, "document.querySelector('#app-title').textContent.trim() !== '张家港市城市运行管理中心'",
                    20, "the English title")
            wait_js(driver, shot.ready, 30, f"{shot.path} to show its content in English")
        time.sleep(SETTLE_S)
        # a new critical alarm pops up over the wall; "later" it so the shot shows the views themselves
        driver.execute_script("var b = document.querySelector('#popup:not(.hidden) #popup-later'); if (b) { b.click(); }")
        time.sleep(0.5)
        target = out / shot.file
        driver.get_screenshot_as_file(str(target))
        if shot.english:  # switch back (the profile is thrown away anyway)
            driver.find_element("css selector", "#lang-switch").click()
            driver.execute_script("window.localStorage.clear();")
        return target
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs", help="folder for the PNGs (default docs/)")
    parser.add_argument("--warmup", type=float, default=75, help="seconds the city fills before the first shot (default 75)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="ioc-screenshots-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        sim_args = simulator_args(args.warmup)
        demo = start_demo(port, Path(tmp), sim_args)
        try:
            print(f"demo city starting on {base} (data in {tmp}; simulators: {' '.join(sim_args)})", flush=True)
            wait_healthy(base, demo)
            print(f"portal up; letting the city fill for {args.warmup:.0f} s", flush=True)
            deadline = time.time() + args.warmup
            while time.time() < deadline:
                if demo.poll() is not None:
                    raise RuntimeError(f"the demo exited with code {demo.returncode}")
                time.sleep(1)
            event_id = ""
            for shot in SHOTS + EVENT_SHOTS:
                if shot in EVENT_SHOTS and not event_id:
                    event_id = start_event(base)
                    print(f"started the linked event {event_id}", flush=True)
                target = take(shot, base, args.out, event_id)
                print(f"saved {target} ({shot.width}x{shot.height}, {shot.path}{', English' if shot.english else ''}, "
                      f"{target.stat().st_size // 1024} KiB)", flush=True)
        except BaseException:
            log = Path(tmp) / "demo.log"
            if log.exists():
                sys.stderr.write("--- demo log (tail) ---\n" + log.read_text(errors="replace")[-4000:])
            raise
        finally:
            stop_demo(demo)
    print("demo stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
