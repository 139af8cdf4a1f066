"""The soak harness (`make soak`, `scripts/soak.py`) in miniature: ~35 s at 500 msg/s with one
fault of each kind early (Redis kill -9, ingest kill -9, broker restart, case worker kill -9).

Checks the harness, not the product's limits: the report files are written, the figures add up,
every fault was injected and every killed worker restarted, nothing exited by itself, and no
process of the run is left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest

from ioc.settings import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_short_soak_writes_a_consistent_report(tmp_path):
    out = tmp_path / "report"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    run = subprocess.run(
        [sys.executable, "-m", "scripts.soak", "--minutes", "0.6", "--rate", "500", "--devices", "1000",
         "--faults-every", "5", "--sample-every", "5", "--restart-delay", "2", "--redis-down", "2", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=150,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "=== soak summary ===" in run.stdout
    assert (out / "soak.md").read_text().startswith("# Soak test report")
    r = json.loads((out / "soak.json").read_text())

    # every kind of fault was injected, every killed worker came back, nothing died by itself
    assert all(r["faults_injected"][k] >= 1 for k in ("broker_restart", "redis_restart", "ingest_kill", "cases_kill")), r["faults_injected"]
    assert r["restarts_planned"] == r["faults_injected"]["ingest_kill"] + r["faults_injected"]["cases_kill"]
    assert r["unexpected_exits"] == 0, r["restarts"]
    assert all(s["in_time"] for s in r["stop"].values()), r["stop"]

    # the figures add up
    loss = r["loss"]
    assert loss["accepted"] > 0 and loss["broker_delivered"] > 0 and loss["simulators_sent"] > 0
    assert loss["lost_total"] == loss["simulators_sent"] + loss["retained_redelivered_estimate"] - loss["accepted"] \
        - loss["rejected_by_ingest"] - loss["dropped"]
    assert loss["lost_at_publishers_and_broker"] == loss["simulators_sent"] - loss["broker_delivered"]
    assert loss["rejected"] == sum(loss["rejected_by_reason"].values())
    assert loss["simulators_sent"] >= loss["broker_delivered"]
    assert len(r["samples"]) >= 5 and r["samples"][-1]["t"] > r["samples"][0]["t"]
    assert r["memory"]["redis_used_memory"]["max"] > 0

    # nothing of the run is left behind
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert not left, [p.cmdline() for p in left]
