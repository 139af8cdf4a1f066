"""docs/perf.md is the hand-written performance log and, between two markers, the results of the
last `make bench`: the harness rewrites only its block and keeps the log."""

from __future__ import annotations

from bench import report
from bench.model import Measurement
from ioc.settings import REPO_ROOT

MACHINE = {"cpu": "cpu", "cores": 2, "ram_gb": 1, "kernel": "k", "python": "p", "redis": "r", "mqtt": "m", "date": "d",
           "commit": "c"}


def write(out_dir, value: float):
    measured = [Measurement("ingest", "committed, 1 worker", value, "msg/s", target="≥ 25,000 msg/s", passed=value >= 25_000)]
    return report.write(out_dir, measured, [], MACHINE, [], {"runs": 1}, [], {"ingest": 1.0})


def test_a_run_replaces_the_results_and_keeps_the_log_around_them(tmp_path):
    log = f"# Performance\n\nWhat made it fast: batching.\n\n{report.BEGIN}\nold figures\n{report.END}\n\nA note after.\n"
    (tmp_path / "perf.md").write_text(log, encoding="utf-8")
    _, md = write(tmp_path, 31_684)
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Performance\n\nWhat made it fast: batching.\n\n" + report.BEGIN)
    assert text.endswith(report.END + "\n\nA note after.\n")
    assert "old figures" not in text and "| ingest | committed, 1 worker | 31,684 msg/s | ≥ 25,000 msg/s | PASS |" in text


def test_a_second_run_leaves_one_results_block(tmp_path):
    write(tmp_path, 20_000)
    _, md = write(tmp_path, 30_000)
    text = md.read_text(encoding="utf-8")
    assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1
    assert "30,000 msg/s" in text and "20,000 msg/s" not in text


def test_a_folder_without_a_log_gets_a_page_of_the_results_alone(tmp_path):
    _, md = write(tmp_path, 31_684)
    text = md.read_text(encoding="utf-8")
    assert text.startswith(report.TITLE) and "| scenario | measurement | value | target | result |" in text
    assert "**Machine**" in text


def test_the_projects_perf_page_holds_the_log_and_one_results_block():
    text = (REPO_ROOT / "docs" / "perf.md").read_text(encoding="utf-8")
    start, end = text.index(report.BEGIN), text.index(report.END)
    assert "## What made it fast" in text[:start] and "| scenario | measurement | value | target | result |" in text[start:end]
