"""`python -m simulators` against a private Mosquitto: births retained, telemetry flowing, clean stop."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.adapters.embedded import free_port
from ioc.settings import REPO_ROOT
from tests.conftest import wait_for

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if shutil.os.path.exists("/usr/sbin/mosquitto") else None)
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed")




@pytest.fixture
def broker():
    port = free_port()
    proc = subprocess.Popen([MOSQUITTO, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:  # pragma: no cover
        proc.terminate()
        pytest.fail("mosquitto did not start")
    yield f"mqtt://127.0.0.1:{port}", port
    proc.terminate()
    proc.wait(timeout=10)


class Collector:
    """A paho subscriber on ioc/v1/# that keeps (topic, payload, retain) tuples."""

    def __init__(self, port: int):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("ioc/v1/#", qos=1)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def _simulator(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "simulators", "--mqtt-url", url, *args],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_simulator_publishes_births_and_telemetry(broker):
    url, port = broker
    live = Collector(port)
    sim = _simulator(url, "--devices", "300", "--rate", "400", "--connections", "2", "--duration", "6", "--seed", "11")
    stdout, stderr = sim.communicate(timeout=60)
    assert sim.returncode == 0, stderr
    time.sleep(0.5)
    live.close()

    telemetry = [(t, orjson.loads(p)) for t, p, _ in live.messages if t.endswith("/telemetry")]
    kinds = {t.split("/")[2] for t, _ in telemetry}
    assert len(kinds) >= 6, kinds
    assert len(telemetry) > 1000
    assert all("ts" in p and len(p) > 1 for _, p in telemetry)

    # A late subscriber gets the births (and gateway status) because they are retained.
    late = Collector(port)

    def retained_births():
        with late.lock:
            return sum(1 for t, _p, r in late.messages if r and t.endswith("/status") and "/gateway/" not in t)

    wait_for(lambda: retained_births() >= 300 + 48, timeout=10, message="the retained births")
    late.close()
    retained = {t: orjson.loads(p) for t, p, r in late.messages if r}
    births = [p for t, p in retained.items() if t.endswith("/status") and "/gateway/" not in t]
    assert len(births) == 300 + 48
    assert all(p["state"] == "online" and {"lat", "lon", "name"} <= set(p) for p in births)
    gateways = {t: p for t, p in retained.items() if "/gateway/" in t}
    assert set(gateways) == {"ioc/v1/gateway/gw-sim-01/status", "ioc/v1/gateway/gw-sim-02/status"}


def test_simulator_stops_cleanly_on_sigterm(broker):
    url, port = broker
    live = Collector(port)
    sim = _simulator(url, "--devices", "200", "--rate", "5000", "--connections", "2", "--workers", "2")

    def telemetry_received():
        with live.lock:
            return sum(1 for t, _p, _r in live.messages if t.endswith("/telemetry"))

    wait_for(lambda: telemetry_received() >= 2000, timeout=30, message="the simulator publishing at full speed")
    live.close()
    sim.send_signal(signal.SIGTERM)
    stdout, stderr = sim.communicate(timeout=30)
    assert sim.returncode == 0, stderr
    assert "messages sent" in stderr


def test_simulator_without_broker_url_explains_itself(monkeypatch):
    monkeypatch.delenv("MQTT_URL", raising=False)
    result = subprocess.run([sys.executable, "-m", "simulators"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "MQTT_URL" in result.stderr
