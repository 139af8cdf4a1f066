"""Fixtures of the harness tests: a quick run of one bench scenario through `python -m bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def quick_bench(tmp_path):
    """`run(scenario)` -> (its rows by name from perf.json, perf.md's text): `python -m bench --quick
    --only <scenario>` into a folder of the test, which must end well and without errors."""

    def run(scenario: str) -> tuple[dict, str]:
        out = tmp_path / "out"
        proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", scenario, "--out", str(out)],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        data = json.loads((out / "perf.json").read_text(encoding="utf-8"))
        assert data["errors"] == []
        rows = {m["name"]: m for m in data["measurements"] if m["scenario"] == scenario}
        return rows, (out / "perf.md").read_text(encoding="utf-8")

    return run
