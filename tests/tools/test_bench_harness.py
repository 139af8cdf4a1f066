"""The performance harness (`make bench`) in quick mode with tiny sizes: it starts its own
servers, runs the baseline and ingest scenarios and writes perf.json and perf.md. Timing is
never asserted here; only that the instrument works and reports what it should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_quick_run_writes_the_report(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "baseline,ingest", "--runs", "1",
         "--devices", "300", "--messages", "3000", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "bare paho subscriber" in proc.stdout  # the final table is printed

    data = json.loads((out / "perf.json").read_text(encoding="utf-8"))
    assert data["errors"] == []
    assert {"cpu", "cores", "ram_gb", "kernel", "python", "redis", "mqtt", "date", "commit"} <= set(data["machine"])
    names = {(m["scenario"], m["name"]) for m in data["measurements"]}
    assert ("baseline", "bare paho subscriber") in names
    for workers in ("1 worker", "2 workers"):
        assert ("ingest", f"committed, {workers}") in names
        assert ("ingest", f"ratio to baseline, {workers}") in names
        assert ("ingest", f"lost at full speed, {workers}") in names
    committed = next(m for m in data["measurements"] if m["name"] == "committed, 1 worker")
    assert committed["value"] > 0 and committed["target"] and committed["passed"] in (True, False)
    assert committed["detail"]["sent_per_run"] == 3000

    table = (out / "perf.md").read_text(encoding="utf-8")
    assert "| scenario | measurement | value | target | result |" in table
    assert "committed, 2 workers" in table and "**Machine**" in table
    assert (out / "perf-ingest-curve.png").stat().st_size > 1000
