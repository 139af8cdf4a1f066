"""A Redis that is still loading its AOF (a restart on the data of a long run) is waited for:
by `connect_redis` (every process and CLI command), by the embedded server's start, and so by
a second `python -m ioc demo` on the same data. The loading is made slow for real with Redis'
test-only `key-load-delay` (microseconds per key while loading) on an AOF of 50,000 keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import redis

from ioc.adapters.embedded import free_port, redis_binary, redis_server
from ioc.adapters.redis_client import connect_redis
from ioc.settings import REPO_ROOT
from tests.conftest import wait_for
from tests.integration.test_demo_command import _get, assert_demo_users_sign_in

pytestmark = pytest.mark.slow

FILLER_KEYS = 50_000
LOAD_DELAY_US = "100"  # ~5-10 s of loading for FILLER_KEYS


def fill_aof(data_dir) -> None:
    """Write FILLER_KEYS keys into the AOF of the Redis kept in `data_dir`, then stop it."""
    server = redis_server(data_dir).start()
    try:
        client = redis.Redis.from_url(server.url)
        client.eval(f"for i = 1, {FILLER_KEYS} do redis.call('SET', 'test:filler:' .. i, i) end", 0)
        client.close()
    finally:
        server.stop()


def is_loading(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return client.info("persistence")["loading"] == 1
    finally:
        client.close()


@pytest.fixture
def loading_redis(tmp_path):
    """A real redis-server started on a 50,000-key AOF with a loading delay, returned as soon as
    it listens (not when it is ready): it is still loading."""
    fill_aof(tmp_path / "redis")
    server = redis_server(tmp_path / "redis")
    server.argv += ["--key-load-delay", LOAD_DELAY_US]
    server.ready = None  # the test wants it while it loads
    server.start()
    assert is_loading(server.url), "the server should still be loading its AOF"
    yield server
    server.stop()


def test_connect_redis_waits_for_a_loading_redis_and_says_so(loading_redis, caplog):
    caplog.set_level("WARNING", logger="ioc.redis")
    client = connect_redis(loading_redis.url)
    try:
        assert client.dbsize() == FILLER_KEYS  # would raise BusyLoadingError had it not waited
    finally:
        client.close()
    assert any("is loading its data (AOF)" in r.getMessage() for r in caplog.records)
    assert any("finished loading" in r.getMessage() for r in caplog.records)


def test_a_cli_command_started_while_redis_loads_waits_and_succeeds(loading_redis):
    env = dict(os.environ, REDIS_URL=loading_redis.url)
    done = subprocess.run(
        [sys.executable, "-m", "ioc", "user", "add", "loading-test", "--role", "operator", "--password-stdin"],
        input="a-long-enough-password-42\n", cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "added loading-test (operator)" in done.stdout
    assert "is loading its data (AOF)" in done.stderr


def test_the_embedded_redis_reports_ready_only_once_its_data_is_loaded(tmp_path):
    fill_aof(tmp_path / "redis")
    server = redis_server(tmp_path / "redis")
    server.argv += ["--key-load-delay", LOAD_DELAY_US]
    server.start()
    try:
        assert not is_loading(server.url)
        client = redis.Redis.from_url(server.url)
        assert client.dbsize() == FILLER_KEYS
        client.close()
    finally:
        server.stop()


@pytest.fixture
def slow_loading_redis_on_path(tmp_path):
    """A `redis-server` first on PATH that runs the real one with a loading delay, so the demo's
    own embedded Redis loads its AOF slowly."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "redis-server"
    wrapper.write_text(f'#!/bin/sh\nexec "{redis_binary()[1]}" "$@" --key-load-delay {LOAD_DELAY_US}\n')
    wrapper.chmod(0o755)
    return str(bin_dir)


def run_demo(tmp_path, port: int, log_name: str, path: str | None = None, history_days: float = 0.0) -> tuple[subprocess.Popen, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MQTT_URL")}
    env.update(IOC_DATA_DIR=str(tmp_path / "var"), PORT=str(port), IOC_WEB_WORKERS="1")
    if path:
        env["PATH"] = f"{path}:{env.get('PATH', '')}"
    out = open(tmp_path / log_name, "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "demo", "--history-days", str(history_days), "--", "--devices", "300", "--seed", "7"],
        cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return proc, out


def test_a_second_demo_on_the_same_data_waits_for_the_loading_aof_and_comes_up(tmp_path, slow_loading_redis_on_path):
    port = free_port()
    procs = []
    try:
        first, out = run_demo(tmp_path, port, "first.log")
        procs.append((first, out))
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=90, message="first demo healthy")
        os.kill(first.pid, signal.SIGINT)
        assert first.wait(timeout=30) == 0
        fill_aof(tmp_path / "var" / "redis")  # the data of a long run: a big AOF to load

        second, out = run_demo(tmp_path, port, "second.log", path=slow_loading_redis_on_path)
        procs.append((second, out))
        log_path = tmp_path / "second.log"
        wait_for(lambda: "is loading its data (AOF)" in log_path.read_text() or second.poll() is not None,
                 timeout=60, message="the demo saying Redis is loading")
        assert second.poll() is None, log_path.read_text()
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200 or second.poll() is not None,
                 timeout=120, message="second demo healthy")
        assert second.poll() is None, log_path.read_text()
        assert "BusyLoadingError" not in log_path.read_text()
        assert_demo_users_sign_in(log_path.read_text(), port)
        os.kill(second.pid, signal.SIGINT)
        assert second.wait(timeout=30) == 0
    finally:
        for proc, out in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            out.close()


def test_an_ingest_started_while_redis_loads_waits_then_ingests(loading_redis, broker_proc, tmp_path):
    from ioc.adapters import redis_keys as keys
    from ioc.adapters.mqtt import connect, make_client
    from tests.integration.test_ingest_pipeline import birth, send

    env = dict(os.environ, REDIS_URL=loading_redis.url, MQTT_URL=broker_proc.url, IOC_INGEST_CLIENT_ID="test-loading-ingest")
    log_path = tmp_path / "ingest.log"
    with open(log_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ioc", "ingest"], cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "is loading its data (AOF)" in log_path.read_text(), timeout=30, message="the ingest saying Redis loads")
        wait_for(lambda: "subscribed to" in log_path.read_text() or proc.poll() is not None, timeout=120,
                 message="the ingest subscribed once Redis is ready")
        assert proc.poll() is None, log_path.read_text()
        publisher = make_client(broker_proc.url, "test-loading-pub", name="test-publisher")
        connect(publisher)
        birth(publisher, "noise", "ns-loading-1")
        send(publisher, "noise", "ns-loading-1", LAeq=55.0, LAmax=70.0)
        client = redis.Redis.from_url(loading_redis.url)
        wait_for(lambda: int(client.hget(keys.METRICS, "messages:accepted") or 0) >= 2, timeout=30,
                 message="the birth and the reading stored")
        client.close()
        publisher.disconnect()
        publisher.loop_stop()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
