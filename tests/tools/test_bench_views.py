"""The bench's `views` scenario (`python -m bench --only views`): each callback's row carries the
target on the web worker's own time (the `Server-Timing` header, as issue 17 states it), with
the loopback and in-process times beside it. Timing is never asserted."""

from __future__ import annotations

from bench import views


def _timing(name: str, server: list[float], http: list[float], errors: int = 0) -> views.Timing:
    return views.Timing(name, http_ms=http, server_ms=server, inproc_ms=[3.0] * len(http), cpu_ms=[2.0] * len(http),
                        errors=errors)


def _rows(*timings: views.Timing):
    kinds = {t.name: views.Target(t.name, "/cases", "cases-grid.rowData", group="cases") for t in timings}
    return {m.name: m for m in views.results({t.name: t for t in timings}, kinds, {"achieved": 20_000}, None, {}).measurements}


def test_a_case_view_is_judged_on_its_server_time_with_the_http_time_beside_it():
    rows = _rows(_timing("cases console", [20.0] * 100, [60.0] * 100))
    row = rows["cases console (server) p95"]
    assert (row.value, row.target, row.passed) == (20.0, "≤ 40 ms", True)
    assert (row.detail["http_p95_ms"], row.detail["in_process_cpu_p95_ms"], row.detail["samples"]) == (60.0, 2.0, 100)


def test_a_view_over_its_target_or_with_failed_requests_or_without_server_times_fails_its_row():
    rows = _rows(_timing("slow", [10.0] * 90 + [50.0] * 10, [12.0] * 100), _timing("refused", [5.0] * 99, [8.0] * 99, errors=1),
                 _timing("untimed", [], [8.0] * 100))
    assert [rows[f"{n} (server) p95"].passed for n in ("slow", "refused", "untimed")] == [False, False, False]


def test_the_first_indicators_answer_is_asked_for_a_period_nobody_asked_for_with_the_rest_of_the_body_kept():
    body = {"output": "..a.b..", "inputs": [{"id": "ind-period", "property": "value", "value": "this_month"},
                                            {"id": "tick", "property": "n_intervals", "value": 1}],
            "changedPropIds": ["ind-period.value"]}
    first = views.with_first_input(body, views.FIRST_PERIOD)
    assert first["inputs"] == [{"id": "ind-period", "property": "value", "value": "last_month"}, body["inputs"][1]]
    assert (first["output"], first["changedPropIds"], body["inputs"][0]["value"]) == ("..a.b..", ["ind-period.value"], "this_month")


def test_the_first_answer_row_is_judged_against_a_second_and_names_the_record_as_its_source():
    timing = _timing("cases indicators", [5.0] * 6, [7.0] * 6)
    timing.first_measured, timing.first_http_s = True, 0.4
    row = _rows(timing)["cases indicators: first answer of a period"]
    assert (row.value, row.target, row.passed, row.detail["period"]) == (0.4, "≤ 1 s", True, "last_month")
    assert "record" in row.detail["source"]
