"""`make bench --only … --merge`: the scenarios not run again are kept from the earlier results,
with the run they came from."""

from __future__ import annotations

import json

from bench import report
from bench.model import Measurement


def _earlier(tmp_path, options, machine="machine A"):
    info = {"cpu": machine, "cores": 2, "ram_gb": 23.5, "kernel": "6", "python": "3.11", "redis": "redis 7", "mqtt": "mosquitto 2",
            "date": "2026-11-25", "commit": "abc"}
    data = {"machine": info, "options": options, "scenario_seconds": {"ingest": 70.0, "views": 300.0},
            "errors": [], "plots": [],
            "measurements": [Measurement("ingest", "committed, 1 worker", 11884, "msg/s").as_dict(),
                             Measurement("views", "bigscreen refresh p95", 236, "ms").as_dict()],
            "series": []}
    (tmp_path / "perf.json").write_text(json.dumps(data))


def test_the_scenarios_not_run_again_are_kept_with_the_run_they_came_from(tmp_path):
    _earlier(tmp_path, {"runs": 2, "scenarios": "ingest,views"})
    options = {"runs": 2, "scenarios": "views"}
    measured, _, seconds = report.merge_earlier(tmp_path, ["views"], [Measurement("views", "bigscreen refresh p95", 48, "ms")],
                                                [], {"views": 290.0}, options)
    assert [(m.scenario, m.value) for m in measured] == [("ingest", 11884), ("views", 48)]
    assert seconds == {"ingest": 70.0, "views": 290.0}
    assert [(r["scenarios"], r["options"]["runs"]) for r in options["earlier"]] == [("ingest", 2)]


def test_merging_twice_still_names_the_run_each_kept_scenario_came_from(tmp_path):
    first = [{"scenarios": "ingest", "machine": "the first run", "options": {"scenarios": "ingest,views"}}]
    _earlier(tmp_path, {"scenarios": "views", "earlier": first}, machine="the second run")
    options = {"scenarios": "latency"}
    report.merge_earlier(tmp_path, ["latency"], [Measurement("latency", "x", 1, "ms")], [], {}, options)
    assert [(r["scenarios"], r["machine"].split(",")[0]) for r in options["earlier"]] == \
        [("views", "the second run"), ("ingest", "the first run")]
    assert "ingest come from a run on the first run" in report.markdown([], {"cpu": "x", "cores": 2, "ram_gb": 1, "kernel": "k",
                                                                            "python": "p", "redis": "r", "mqtt": "m", "date": "d",
                                                                            "commit": "c"}, [], options, [])


def test_without_earlier_results_only_this_run_is_written(tmp_path):
    measured, series, seconds = report.merge_earlier(tmp_path, ["views"], [Measurement("views", "x", 1, "ms")], [], {"views": 1}, {})
    assert [m.name for m in measured] == ["x"] and series == [] and seconds == {"views": 1}
