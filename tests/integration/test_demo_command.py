"""`python -m ioc demo`: one command brings up the whole city, one Ctrl-C takes it all down."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from ioc.adapters.embedded import free_port
from ioc.settings import REPO_ROOT
from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


def assert_demo_users_sign_in(log: str, port: int) -> None:
    """The banner lists one user per role and per department; the printed password works."""
    import requests

    for role in ("operator", "leader", "dispatcher", "inspector", "admin"):
        assert re.search(rf"^\s+{role} \(\S+\)\s+{role}\s+\S+$", log, re.M), role
    assert re.search(r"^\s+handler \(\S+\)\s+handler-water_affairs\s+\S+$", log, re.M)
    assert re.search(r"^\s+handler \(\S+\)\s+handler-town_yangshe\s+\S+$", log, re.M)
    assert re.search(rf"Kiosk link .*: http://127\.0\.0\.1:{port}/kiosk/ioc_\S+$", log, re.M)
    password = re.search(r"^\s+dispatcher \(\S+\)\s+dispatcher\s+(\S+)$", log, re.M).group(1)
    session = requests.Session()
    page = session.get(f"http://127.0.0.1:{port}/login", timeout=5).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    answer = session.post(f"http://127.0.0.1:{port}/login", data={"csrf": csrf, "name": "dispatcher", "password": password},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert session.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=5).json()["roles"] == ["dispatcher"]


def assert_a_test_notification_reaches_the_receivers(log: str) -> None:
    """A test intent in the demo's notify outbox reaches the demo roster's dispatch-desk group at
    the local receivers, through the demo's notifier."""
    from ioc.adapters.notify_store import NotifyStore
    from ioc.adapters.redis_client import connect_redis
    from ioc.domain.notifications import Intent

    receivers = re.search(r"Notifications: local provider receivers (http://127\.0\.0\.1:\d+)", log).group(1)
    client = connect_redis(re.search(r"Redis:\s+(redis://127\.0\.0\.1:\d+)", log).group(1))
    NotifyStore(client).add_intent(Intent("test", "test:demo", "1", int(time.time() * 1000), "info", (), "", {"text": "演示测试"}))
    client.close()

    def notified():
        status, text = _get(f"{receivers}/_received?since=0")
        return status == 200 and any(r["accepted"] and "演示测试" in r["text"] for r in json.loads(text)["received"])

    wait_for(notified, timeout=30, message="the test notification at the local receivers")


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MQTT_URL")}
    env.update(IOC_DATA_DIR=str(tmp_path / "var"), PORT=str(port), IOC_WEB_WORKERS="1")
    out = open(tmp_path / "demo.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "demo", "--no-history", "--", "--devices", "300", "--seed", "7"],
        cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    yield proc, port, tmp_path / "demo.log"
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    out.close()


def test_the_demo_prints_its_services_and_feeds_the_city_until_ctrl_c(demo):
    proc, port, log_path = demo
    log = wait_for(lambda: "Portal:" in log_path.read_text() and log_path.read_text(), timeout=60, message="demo banner")
    assert re.search(r"Redis:\s+redis://127\.0\.0\.1:\d+", log)
    assert re.search(r"MQTT:\s+mqtt://127\.0\.0\.1:\d+", log)
    assert re.search(r"PostgreSQL \(the record\):\s+postgresql://ioc@127\.0\.0\.1:\d+/ioc", log)
    assert f"http://127.0.0.1:{port}/" in log
    wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=60, message="healthy portal")

    def accepted():
        status, text = _get(f"http://127.0.0.1:{port}/metrics")
        m = re.search(r'ioc_ingest_messages_total\{result="accepted"\} (\d+)', text)
        return status == 200 and m and int(m.group(1)) > 300

    wait_for(accepted, timeout=60, message="simulated city flowing into Redis")
    assert_demo_users_sign_in(log_path.read_text(), port)
    assert_a_test_notification_reaches_the_receivers(log_path.read_text())
    family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert len(family) >= 7  # demo, redis, broker, ingest, cases, notify, web (+ its workers), simulator
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in family),
             timeout=15, message="every process of the demo gone")
