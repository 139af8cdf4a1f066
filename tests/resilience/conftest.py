"""Fixtures of the fault tests: a private Redis and MQTT broker per test (free ports, temp
folders), the product's own processes (`python -m ioc ingest|cases|web`) as real subprocesses
that a test can SIGKILL, and MQTT feeds that remember what they published and when.

Nothing here touches services already running on the machine; every server and process a
test starts is stopped (killed if need be) at its end, and dies with the test run anyway
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import requests

from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import Server, _die_with_parent, free_port, mqtt_broker, redis_server
from ioc.adapters.mqtt import connect, make_client
from ioc.adapters.redis_client import connect_redis
from ioc.settings import REPO_ROOT, Settings
from tests.conftest import wait_for

YANGSHE = (120.553, 31.870)  # lon, lat in 杨舍镇


# ---- private servers ---------------------------------------------------------------------------

@dataclass
class Stack:
    """One test's private Redis and broker, and the environment its processes run with."""

    redis: Server
    broker: Server
    tmp: Path
    clients: list = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "REDIS_URL": self.redis.url, "MQTT_URL": self.broker.url, "IOC_DATA_DIR": str(self.tmp),
            "IOC_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **extra,
        }

    def settings(self, **overrides) -> Settings:
        return Settings.from_env(env={}, redis_url=self.redis.url, mqtt_url=self.broker.url, data_dir=self.tmp, **overrides)

    def client(self):
        """A Redis client on the private server (closed at the end of the test)."""
        c = connect_redis(self.redis.url)
        self.clients.append(c)
        return c

    @property
    def subscription_log(self) -> Path:
        """The broker's log of subscriptions (mosquitto): `<time>: <client id> <qos> <topic>`."""
        return self.tmp / "mqtt" / "subscriptions.log"

    def subscriptions_logged(self) -> str:
        return self.subscription_log.read_text(errors="replace") if self.subscription_log.exists() else ""


@pytest.fixture
def stack(tmp_path):
    logged = f"log_dest file {tmp_path / 'mqtt' / 'subscriptions.log'}\nlog_type subscribe\n"  # flushed line by line
    s = Stack(redis_server(tmp_path / "redis").start(), mqtt_broker(tmp_path / "mqtt", extra_conf=logged).start(), tmp_path)
    yield s
    for c in s.clients:
        c.close()
    s.broker.kill()
    s.redis.kill()


def quiet(fn, default=None):
    """fn(), or `default` while Redis is down or still loading its AOF."""
    try:
        return fn()
    except Exception:  # noqa: BLE001 - Redis unavailable / loading
        return default


def counter(client, name: str) -> int:
    return int(client.hget(keys.METRICS, name) or 0)


# ---- product processes -------------------------------------------------------------------------

class Proc:
    """`python -m ioc <command>` (or any module) as a child process, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0

    def start(self) -> "Proc":
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd=REPO_ROOT, env={**os.environ, **self.env}, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self, since_start: bool = True) -> str:
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        return data[self._log_offset if since_start else 0:].decode(errors="replace")

    def wait_log(self, pattern: str, timeout: float = 30.0) -> str:
        def found():
            if not self.alive:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            return re.search(pattern, self.log())
        return wait_for(found, timeout=timeout, message=f"{self.name} to log {pattern!r}").group(0)

    def kill9(self) -> None:
        """SIGKILL: no handler, no flush, no goodbye to the broker: a crash."""
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        if not self.alive:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.name} did not stop within {timeout:.0f}s of SIGTERM:\n{self.log()[-3000:]}")


@pytest.fixture
def spawn(stack):
    """`spawn("ingest", IOC_INGEST_CLIENT_ID="a")` starts `python -m ioc ingest` on the test's
    servers and waits until it is subscribed; `spawn("cases")`, `spawn("web")` likewise.
    Every process is stopped at the end (SIGTERM, then SIGKILL)."""
    procs: list[Proc] = []

    def start(command: str, *, wait: bool = True, name: str | None = None, args=(), **env: str) -> Proc:
        name = name or f"{command}-{len(procs)}"
        environment = stack.env(**env)
        subscriptions_before = len(stack.subscriptions_logged())
        if command == "web":
            port = int(env.get("PORT") or free_port())
            environment.update(PORT=str(port), IOC_HOST="127.0.0.1", IOC_WEB_WORKERS=env.get("IOC_WEB_WORKERS", "1"))
        argv = [sys.executable, "-m", "simulators"] if command == "simulators" else [sys.executable, "-m", "ioc", command]
        proc = Proc(name, argv + list(args), environment, stack.tmp / f"{name}.log")
        if command == "web":
            proc.base = f"http://127.0.0.1:{environment['PORT']}"
        proc.subscriptions_before = subscriptions_before
        procs.append(proc.start())
        if wait:
            ready(proc, command)
        return proc

    def subscribed(proc: Proc, client_id: str, topics: list[str]) -> None:
        """Wait until the broker has taken the process's subscriptions (messages published
        after this reach it); without mosquitto's subscription log, give it half a second."""
        if not stack.subscription_log.exists():
            time.sleep(0.5)  # amqtt: no subscription log; the SUBACK arrives within this
            return
        wanted = {f" {client_id} {qos} {topic}" for topic in topics for qos in (0, 1, 2)}
        wait_for(lambda: sum(1 for line in stack.subscriptions_logged()[proc.subscriptions_before:].splitlines()
                             if any(line.endswith(w) for w in wanted)) >= len(topics),
                 message=f"the broker to take {proc.name}'s subscriptions")

    def ready(proc: Proc, command: str | None = None) -> Proc:
        command = command or proc.argv[3]
        if command == "ingest":
            line = proc.wait_log(r"ingest \S+ subscribed to .*")
            client_id, topics = re.match(r"ingest (\S+) subscribed to (.*)", line).groups()
            subscribed(proc, client_id, topics.split(", "))
        elif command == "cases":
            line = proc.wait_log(r"\(MQTT client \S+\) subscribing to .*")
            client_id, topics = re.search(r"\(MQTT client (\S+)\) subscribing to (.*)", line).groups()
            proc.wait_log(r"cases: connected to broker")
            subscribed(proc, client_id, topics.split(", "))
        elif command == "web":
            def healthy():
                if not proc.alive:
                    pytest.fail(f"web exited:\n{proc.log()[-3000:]}")
                return quiet(lambda: requests.get(proc.base + "/healthz", timeout=2).status_code == 200)
            wait_for(healthy, timeout=60, interval=0.2, message="the portal to be healthy")
        return proc

    start.ready = ready
    start.procs = procs
    yield start
    for p in reversed(procs):
        if p.alive:
            p.proc.send_signal(signal.SIGTERM)
    for p in procs:
        if p.proc is not None:
            try:
                p.proc.wait(10)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()


# ---- MQTT publishing ---------------------------------------------------------------------------

def mqtt_client(url: str, client_id: str = "", clean_session: bool = True):
    c = make_client(url, client_id or f"fault-pub-{uuid.uuid4().hex[:8]}", clean_session=clean_session, name="test-publisher",
                    max_inflight=65000)
    connect(c)
    return c


@pytest.fixture
def mqtt(stack):
    """`mqtt()` -> a connected paho client on the test's broker (built by the product's MQTT
    module, so it reconnects like the product's publishers); all closed at the end."""
    made = []

    def make(client_id: str = "", clean_session: bool = True):
        made.append(mqtt_client(stack.broker.url, client_id, clean_session))
        return made[-1]

    yield make
    for c in made:
        c.disconnect()
        c.loop_stop()


def birth(client, kind: str, device: str, lonlat=YANGSHE, name: str = "测试设备") -> None:
    lon, lat = lonlat
    payload = orjson.dumps({"state": "online", "lat": lat, "lon": lon, "name": name})
    client.publish(f"ioc/v1/{kind}/{device}/status", payload, qos=1, retain=True).wait_for_publish(10)


def births(client, kind: str, devices, lonlat=YANGSHE) -> None:
    infos = [client.publish(f"ioc/v1/{kind}/{d}/status", orjson.dumps({"state": "online", "lat": lonlat[1], "lon": lonlat[0]}),
                            qos=1, retain=True) for d in devices]
    for info in infos:
        info.wait_for_publish(10)


class Feed:
    """Publishes telemetry (noise `LAeq` unless told otherwise) for `devices` round-robin at
    `rate` msg/s on a thread, each reading with its own increasing `ts`; remembers the
    monotonic time of every publish."""

    def __init__(self, client, devices: list[str], rate: float, qos: int = 0, kind: str = "noise", values=None):
        self.client, self.devices, self.rate, self.qos, self.kind = client, devices, rate, qos, kind
        self.values = values or (lambda i: {"LAeq": 40.0 + i % 30})  # the reading's attributes, by sequence number
        self.sent_at: list[float] = []  # monotonic time of each publish accepted by the client
        self.sent: list[tuple[str, int]] = []  # (device, ts) of each of them, in publishing order
        self.refused = 0  # publishes paho refused (not connected): never sent, not counted as published
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ts = int(time.time() * 1000) - 120_000  # unique, increasing per reading; well inside the age limit

    def _run(self) -> None:
        interval = 1.0 / self.rate
        nxt = time.monotonic()
        i = 0
        while not self._stop.is_set():
            device = self.devices[i % len(self.devices)]
            self._ts += 1
            info = self.client.publish(f"ioc/v1/{self.kind}/{device}/telemetry",
                                       orjson.dumps({"ts": self._ts, **self.values(i)}), qos=self.qos)
            if info.rc == 0:
                self.sent_at.append(time.monotonic())
                self.sent.append((device, self._ts))
            else:
                self.refused += 1
            i += 1
            nxt += interval
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def start(self) -> "Feed":
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(10)
        return len(self.sent_at)

    def published_between(self, t0: float, t1: float) -> int:
        return sum(1 for t in self.sent_at if t0 <= t <= t1)


def settle(read, stable_s: float = 1.5, timeout: float = 60.0, message: str = "the figures to settle"):
    """Poll `read()` until it has not changed for `stable_s`; return the last value."""
    deadline = time.time() + timeout
    last, since = object(), time.time()
    while True:
        value = quiet(read)
        if value != last:
            last, since = value, time.time()
        elif time.time() - since >= stable_s:
            return value
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {message} (last {last!r})")
        time.sleep(0.1)
