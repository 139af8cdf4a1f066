"""`python -m ioc demo` writes its history into an empty city before the children start, with a
progress bar, and not again when it restarts on the same data."""

from __future__ import annotations

import os
import re
import signal

import pytest
import redis

from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import free_port
from tests.conftest import wait_for
from tests.integration.test_redis_loading import run_demo

pytestmark = pytest.mark.slow


def test_a_fresh_demo_writes_its_history_once(tmp_path):
    port = free_port()
    procs = []
    try:
        first, out = run_demo(tmp_path, port, "first.log", history_days=0.1)
        procs.append((first, out))
        log_path = tmp_path / "first.log"
        wait_for(lambda: "portal is up" in log_path.read_text() or first.poll() is not None, timeout=240,
                 message="the demo up after its history")
        assert first.poll() is None, log_path.read_text()
        log = log_path.read_text()
        assert re.search(r"history 0\.1 days \[#+\] 100 %", log)
        assert re.search(r"History: 0\.1 days written: [\d,]+ readings", log.split("Portal:", 1)[1])  # the banner's line
        client = redis.Redis.from_url(re.search(r"Redis:\s+(redis://\S+)", log).group(1))
        seq = client.get(keys.CASES_SEQ)
        assert seq is not None and int(seq) > 0
        client.close()
        os.kill(first.pid, signal.SIGINT)
        assert first.wait(timeout=30) == 0

        second, out = run_demo(tmp_path, port, "second.log", history_days=0.1)
        procs.append((second, out))
        second_log = tmp_path / "second.log"
        wait_for(lambda: "portal is up" in second_log.read_text() or second.poll() is not None, timeout=120,
                 message="the second demo up")
        assert "the data already holds a city: no history added" in second_log.read_text()
        assert "history 0.1 days [" not in second_log.read_text()
        os.kill(second.pid, signal.SIGINT)
        assert second.wait(timeout=30) == 0
    finally:
        for proc, out in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            out.close()
