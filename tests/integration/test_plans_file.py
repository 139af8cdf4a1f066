"""`IOC_PLANS_FILE`: the plans an administrator edits. A good file replaces the built-in plans in
every process; a bad one stops `python -m ioc web|cases|demo` at start, saying where and why."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ioc.domain.plans import BUILTIN_PLANS_DATA
from ioc.events.service import EventService
from ioc.settings import REPO_ROOT


def test_the_plans_of_the_file_replace_the_built_in_ones(redis_client, city, settings, tmp_path):
    path = tmp_path / "plans.json"
    path.write_text(json.dumps([p for p in BUILTIN_PLANS_DATA if p["id"] == "hazmat"], ensure_ascii=False), encoding="utf-8")
    events = EventService.from_settings(redis_client, city, settings.replace(plans_file=str(path)))
    assert list(events.plans) == ["hazmat"]


@pytest.mark.parametrize("command", ["cases", "web"])
def test_a_bad_plans_file_stops_the_process_at_start_with_the_reason(tmp_path, command):
    bad = [dict(p, levels=[dict(lv, tasks=[dict(t, department="ministry_of_magic") for t in lv["tasks"]]) for lv in p["levels"]])
           if p["id"] == "flood" else p for p in BUILTIN_PLANS_DATA]
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "ioc", command], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "IOC_PLANS_FILE": str(path), "IOC_DATA_DIR": str(tmp_path)})
    assert run.returncode == 2
    assert "IOC_PLANS_FILE: flood.levels.IV.tasks[0].department" in run.stderr and "ministry_of_magic" in run.stderr
