"""The simulated casework's pure parts: reports (valid against the real contract and city map,
idempotent ids, daily rhythm, rate), the department systems' answers and the duty desk's
decisions (seeded, delays compressed by --speed)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from ioc.adapters.geodata_files import load_city_map
from ioc.casework.reports import DepartmentUpdate, Report, parse_report, parse_update
from ioc.domain import case_catalog
from ioc.domain.departments import department_ids
from simulators import case_texts
from simulators.__main__ import build_parser
from simulators.casework import (PEAK_INTENSITY, DepartmentSystems, ReportStream, metres_to_degrees, plan_answers,
                                 total_intensity)
from simulators.duty_desk import Decision, decide, dispatch_target
from simulators.fleet import short_name
from simulators.patterns import local_hour

CST = timezone(timedelta(hours=8))
MIDNIGHT = datetime(2026, 6, 1, 0, 0, tzinfo=CST)  # a Monday
START_MS = int(MIDNIGHT.timestamp() * 1000)
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def city():
    return load_city_map()


@pytest.fixture(scope="module")
def day(city):
    """One simulated day of reports at 120 per hour, speed 1."""
    stream = ReportStream(city, seed=20260101, per_hour=120, start_ms=START_MS, speed=1.0)
    out: list = []
    stream.run_until(86_400.0, out)
    return stream, [(topic, orjson.loads(payload), payload) for topic, payload in out]


def hour_of(report: dict) -> float:
    ts = report["reported_at"]
    seconds = ts / 1000 if isinstance(ts, int) else datetime.fromisoformat(ts).timestamp()
    return local_hour(seconds)


# ---- reports ------------------------------------------------------------------------------------


def test_every_report_is_valid_against_the_contract_and_lies_in_the_city(day, city):
    _, reports = day
    received = START_MS + 86_400_000
    parsed = [parse_report(topic, raw, received, city) for topic, _, raw in reports]
    assert [p for p in parsed if not isinstance(p, Report)] == []
    assert {p.source for p in parsed} == {"hotline", "inspector", "camera"}
    assert all(p.description and p.address and p.reporter for p in parsed)


def test_the_address_names_the_district_the_report_lies_in(day, city):
    _, reports = day
    for _, r, _ in reports:
        district = city.district(city.district_at(r["lon"], r["lat"]))
        assert r["address"].startswith(short_name(district.name_zh)), (r["address"], district.id)


def test_the_rate_is_the_daily_mean_per_hour(day):
    stream, reports = day
    assert 120 * 24 * 0.9 < stream.sent < 120 * 24 * 1.1
    assert len(reports) == stream.sent + stream.repeats
    assert sum(total_intensity(m / 60) for m in range(1440)) / 1440 == pytest.approx(1.0)
    assert max(total_intensity(m / 60) for m in range(1440)) <= PEAK_INTENSITY  # the bound of the thinning


def test_the_rate_is_per_wall_clock_hour_whatever_the_speed(city):
    stream = ReportStream(city, seed=3, per_hour=120, start_ms=START_MS, speed=24.0)
    out: list = []
    stream.run_until(3600.0, out)  # one wall-clock hour is a whole simulated day
    assert 120 * 0.75 < stream.sent < 120 * 1.25


def test_zero_reports_per_hour_sends_nothing(city):
    stream = ReportStream(city, seed=3, per_hour=0, start_ms=START_MS)
    out: list = []
    assert stream.run_until(86_400.0, out) == math.inf and out == []


def test_reports_follow_the_day_and_each_source_its_trade(day):
    _, reports = day
    by_hour = Counter(int(hour_of(r)) for _, r, _ in reports)
    assert sum(by_hour[h] for h in range(9, 17)) > 4 * sum(by_hour[h] for h in range(0, 6))
    inspectors = [r for t, r, _ in reports if t.endswith("/inspector")]
    assert inspectors and all(7.9 <= hour_of(r) < 17.6 for r in inspectors)  # office hours only
    kinds = Counter(case_catalog.MINOR_CLASSES[r["category"]].kind for r in inspectors)
    assert kinds["component"] > 2 * kinds["event"]
    camera = Counter(r["category"] for t, r, _ in reports if t.endswith("/camera"))
    assert {"20501", "20101", "20502"} <= {code for code, _ in camera.most_common(3)}
    noise = [r for _, r, _ in reports if r["category"] == "20302"]
    assert noise and all(hour_of(r) >= 21.5 or hour_of(r) < 6.5 for r in noise)


def test_the_urban_core_gets_the_most_reports(day, city):
    _, reports = day
    districts = Counter(city.district_at(r["lon"], r["lat"]) for _, r, _ in reports)
    assert districts.most_common(1)[0][0] == "yangshe"
    assert len(districts) == len(city.districts)


def test_report_ids_are_unique_except_for_the_repeats_which_resend_the_same_report(day):
    stream, reports = day
    ids = Counter(r["report_id"] for _, r, _ in reports)
    assert stream.repeats > 0 and sum(n - 1 for n in ids.values()) == stream.repeats
    for report_id in (i for i, n in ids.items() if n > 1):
        assert len({raw for _, r, raw in reports if r["report_id"] == report_id}) == 1
    assert all(r["report_id"].split("-")[0] == {"hotline": "12345", "inspector": "XC", "camera": "AI"}[t.rsplit("/", 1)[1]]
               for t, r, _ in reports)


def test_some_reports_repeat_a_recent_problem_a_few_dozen_metres_away(day):
    stream, reports = day
    assert stream.near_duplicates > 0.03 * stream.sent
    unique = list({r["report_id"]: r for _, r, _ in reports}.values())
    near = 0
    for i, r in enumerate(unique):
        for earlier in unique[max(0, i - 60):i]:
            if earlier["category"] == r["category"]:
                dlon, dlat = metres_to_degrees(r["lat"], 60.5, 60.5)
                if abs(earlier["lat"] - r["lat"]) <= dlat and abs(earlier["lon"] - r["lon"]) <= dlon:
                    near += 1
                    break
    assert near >= stream.near_duplicates


def test_the_same_seed_and_start_give_the_same_reports_and_a_new_run_new_ids(city):
    def run(start_ms):
        stream = ReportStream(city, seed=9, per_hour=600, start_ms=start_ms, sim_start=START_MS / 1000 + 9 * 3600)
        out: list = []
        stream.run_until(600.0, out)
        return [orjson.loads(p) for _, p in out]

    first, again, later = run(START_MS), run(START_MS), run(START_MS + 3_600_000)
    assert first == again and len(first) > 20
    assert not {r["report_id"] for r in first} & {r["report_id"] for r in later}


def test_every_class_a_source_reports_has_chinese_words():
    for source, pairs in case_texts.SOURCE_CLASSES.items():
        for code, weight in pairs:
            assert code in case_catalog.MINOR_CLASSES and weight > 0, (source, code)
            assert code in case_texts.DESCRIPTIONS
    assert set(case_texts.DESCRIPTIONS) == set(case_catalog.MINOR_CLASSES)
    assert set(case_texts.HANDLED_NOTES) <= set(case_catalog.MINOR_CLASSES)


# ---- department systems ---------------------------------------------------------------------------


def message(case_id="ZJG-20260601-000001", version=4, code="20101", department="town_yangshe", **extra) -> dict:
    minor = case_catalog.MINOR_CLASSES[code]
    return {"case_id": case_id, "version": version, "class_code": code, "department": department, "district": "yangshe",
            "urgent": minor.urgent, "deadline": START_MS + 48 * HOUR_MS, "rework_count": 0, **extra}


def test_a_department_acknowledges_then_handles_within_the_class_limit():
    plans = [plan_answers(message(case_id=f"c{i}"), seed=1, speed=1.0, now_ms=START_MS) for i in range(400)]
    handled = [p for p in plans if p[-1][1] == "handled"]
    on_time = [p for p in handled if p[-1][0] < START_MS + 48 * HOUR_MS]
    for ack, done in on_time:
        assert ack[1] == "acknowledge" and START_MS + 3 * 60_000 <= ack[0] <= START_MS + 30 * 60_000
        assert ack[0] < done[0] <= START_MS + 0.95 * 4 * HOUR_MS + 5 * 60_000  # exposed garbage: 4 h to handle
        assert done[2] == case_texts.HANDLED_NOTES["20101"]
    late = len(handled) - len(on_time)
    returned = [p for p in plans if p[-1][1] == "return"]
    assert 0.05 * 400 < late < 0.16 * 400  # ~10 % after the deadline: overdue
    assert 0.02 * 400 < len(returned) < 0.09 * 400
    assert all(len(p) == 1 and p[0][2] for p in returned)  # returned with a reason, not acknowledged


def test_the_answer_is_seeded_by_seed_case_and_version():
    m = message()
    assert plan_answers(m, seed=1, speed=1.0, now_ms=START_MS) == plan_answers(m, seed=1, speed=1.0, now_ms=START_MS)
    answers = lambda seed, version: [plan_answers(message(case_id=f"c{i}", version=version), seed=seed, speed=1.0,  # noqa: E731
                                                  now_ms=START_MS) for i in range(50)]
    assert answers(1, 4) != answers(2, 4) and answers(1, 4) != answers(1, 6)


def test_department_delays_shrink_with_speed():
    for i in range(100):
        m = message(case_id=f"c{i}", deadline=START_MS + 400 * HOUR_MS)
        slow = plan_answers(m, seed=1, speed=1.0, now_ms=START_MS)
        fast = plan_answers(m, seed=1, speed=60.0, now_ms=START_MS)
        assert [a for _, a, _ in slow] == [a for _, a, _ in fast]
        for (t1, action, _), (t60, _, _) in zip(slow, fast):
            if not (action == "handled" and t1 > m["deadline"]):
                assert (t60 - START_MS) == pytest.approx((t1 - START_MS) / 60, abs=2)


def test_a_late_answer_comes_after_the_deadline_even_at_high_speed():
    late = [p for i in range(300) if (p := plan_answers(message(case_id=f"c{i}"), seed=1, speed=600.0, now_ms=START_MS))
            [-1][1] == "handled" and p[-1][0] > START_MS + 60_000 * 10]
    assert late and all(p[-1][0] > START_MS + 48 * HOUR_MS for p in late)


def test_a_rework_is_handled_again_without_a_second_acknowledgement():
    plans = [plan_answers(message(case_id=f"c{i}", rework_count=1), seed=1, speed=1.0, now_ms=START_MS) for i in range(100)]
    assert all([a for _, a, _ in p] == ["handled"] and p[0][2] == case_texts.REWORK_HANDLED_NOTE for p in plans)


def test_department_systems_answer_each_dispatch_once_with_valid_updates(city):
    systems = DepartmentSystems(seed=1, speed=60.0)
    dispatches = [message(case_id=f"ZJG-20260601-{i:06d}", department=d)
                  for i, d in enumerate(["town_yangshe", "water_affairs", "street_lighting"] * 10)]
    for m in dispatches:
        assert systems.receive(orjson.dumps(m), START_MS) == "planned"
    assert systems.receive(orjson.dumps(dispatches[0]), START_MS) == "repeat"
    assert systems.receive(orjson.dumps({**dispatches[1], "version": 2}), START_MS) == "stale"
    assert systems.receive(b"not json", START_MS) == "invalid"
    updates = systems.due(START_MS + 365 * 24 * HOUR_MS)
    parsed = [parse_update(t, p, START_MS + 366 * 24 * HOUR_MS, department_ids(city)) for t, p in updates]
    assert [u for u in parsed if not isinstance(u, DepartmentUpdate)] == []
    per_case = Counter(u.case_id for u in parsed)
    assert set(per_case) == {m["case_id"] for m in dispatches} and set(per_case.values()) <= {1, 2}
    assert all(u.department == next(m["department"] for m in dispatches if m["case_id"] == u.case_id) for u in parsed)
    assert systems.due(START_MS + 400 * 24 * HOUR_MS) == [] and systems.repeats == 1


def test_a_newer_dispatch_supersedes_the_plan_of_an_older_one():
    systems = DepartmentSystems(seed=1)
    systems.receive(orjson.dumps(message(version=4)), START_MS)
    systems.receive(orjson.dumps(message(version=9, department="water_affairs")), START_MS)
    updates = [orjson.loads(p) | {"topic": t} for t, p in systems.due(START_MS + 365 * 24 * HOUR_MS)]
    assert updates and all(u["topic"] == "ioc/v1/departments/water_affairs/updates" for u in updates)


def test_dispatched_cases_read_at_start_are_adopted_unless_already_taken():
    systems = DepartmentSystems(seed=1)
    systems.receive(orjson.dumps(message(case_id="taken")), START_MS)
    case = {"id": "adopted", "version": 6, "class_code": "10105", "department": "street_lighting", "district": "yangshe",
            "urgent": False, "stage_deadline": START_MS + 16 * HOUR_MS, "rework_count": 0, "acknowledged_at": START_MS,
            "return_count": 0}
    assert systems.adopt({**case, "id": "taken"}, START_MS) is False
    assert systems.adopt(case, START_MS) is True and systems.adopt(case, START_MS) is False
    actions = [orjson.loads(p)["action"] for _, p in systems.due(START_MS + 365 * 24 * HOUR_MS)
               if orjson.loads(p)["case_id"] == "adopted"]
    assert actions in (["handled"], ["return"])  # already acknowledged before the restart


# ---- the duty desk ------------------------------------------------------------------------------------


def case(stage="reported", case_id="ZJG-20260601-000007", **extra) -> dict:
    return {"id": case_id, "version": 3, "stage": stage, "stage_since": START_MS, "stage_deadline": START_MS + HOUR_MS,
            "urgent": False, "class_code": "20101", "district": "yangshe", "source": "hotline",
            "suggested_department": "town_yangshe", "department": "", "return_count": 0, "possible_duplicates": [], **extra}


def test_the_desk_takes_each_stage_s_next_step_after_a_delay():
    expected = {"reported": {"accept", "reject"}, "accepted": {"verify", "void"}, "verified": {"dispatch"},
                "handled": {"check_pass", "check_fail"}, "checked": {"close"}}
    counts: dict[str, Counter] = {s: Counter() for s in expected}
    for stage, actions in expected.items():
        for i in range(400):
            d = decide(case(stage, case_id=f"c{i}"), seed=1)
            assert d.action in actions and d.due_ms > START_MS
            counts[stage][d.action] += 1
    assert 0.01 * 400 < counts["reported"]["reject"] < 0.07 * 400
    assert 0.01 * 400 < counts["accepted"]["void"] < 0.07 * 400
    assert 0.04 * 400 < counts["handled"]["check_fail"] < 0.13 * 400
    assert decide(case("dispatched"), seed=1) is None and decide(case("closed"), seed=1) is None


def test_notes_go_with_the_steps_that_need_them():
    for i in range(300):
        for stage in ("reported", "accepted", "handled"):
            d = decide(case(stage, case_id=f"c{i}"), seed=1)
            assert bool(d.note) == (d.action in ("reject", "void", "check_fail"))
    assert Decision("dispatch", 0, department="water_affairs").body(7) == {"action": "dispatch", "version": 7,
                                                                         "department": "water_affairs"}


def test_a_flagged_duplicate_is_mostly_merged_into_its_master():
    flagged = [decide(case(case_id=f"c{i}", possible_duplicates=["ZJG-20260601-000001"]), seed=1) for i in range(300)]
    merged = [d for d in flagged if d.action == "merge"]
    assert 0.8 * 300 < len(merged) < 300 and all(d.master_id == "ZJG-20260601-000001" for d in merged)
    assert decide(case(possible_duplicates=["x"]), seed=1, merge=False).action != "merge"


def test_sensor_cases_are_never_rejected():
    assert {decide(case(case_id=f"c{i}", source="sensor"), seed=1).action for i in range(300)} == {"accept"}


def test_a_returned_case_goes_to_the_other_candidate():
    assert dispatch_target(case("verified")) == "town_yangshe"
    back = case("verified", return_count=1, department="town_yangshe")
    assert dispatch_target(back) == "urban_management"  # an event: the territory first, then the owner
    component = case("verified", class_code="10105", suggested_department="street_lighting", return_count=1,
                     department="street_lighting")
    assert dispatch_target(component) == "town_yangshe"


def test_desk_decisions_are_seeded_and_their_delays_shrink_with_speed():
    c = case()
    assert decide(c, seed=1) == decide(c, seed=1)
    assert [decide(case(case_id=f"c{i}"), seed=1) for i in range(50)] != [decide(case(case_id=f"c{i}"), seed=2) for i in range(50)]
    for i in range(200):
        c = case(case_id=f"c{i}", stage_deadline=START_MS + 1000 * HOUR_MS)
        slow, fast = decide(c, seed=1), decide(c, seed=1, speed=60.0)
        assert slow.action == fast.action
        if slow.due_ms < c["stage_deadline"]:
            assert fast.due_ms - START_MS == pytest.approx((slow.due_ms - START_MS) / 60, abs=2)
            assert 2 * 60_000 <= slow.due_ms - START_MS <= 15 * 60_000


def test_a_few_desk_steps_come_after_the_stage_deadline():
    late = sum(decide(case(case_id=f"c{i}"), seed=1).due_ms > START_MS + HOUR_MS for i in range(1000))
    assert 5 <= late <= 40


# ---- flags ------------------------------------------------------------------------------------------------


def test_casework_flags():
    args = build_parser().parse_args([])
    assert (args.reports_per_hour, args.no_casework, args.api_url) == (120.0, False, None)
    args = build_parser().parse_args(["--reports-per-hour", "0", "--no-casework", "--api-url", "http://ioc:8050"])
    assert (args.reports_per_hour, args.no_casework, args.api_url) == (0.0, True, "http://ioc:8050")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--reports-per-hour", "-1"])


class FakeApi:
    """The few API calls the duty desk makes, on an in-memory list of cases."""

    def __init__(self, cases: list[dict], refuse: dict | None = None):
        self.cases = {c["id"]: dict(c) for c in cases}
        self.refuse = refuse or {}  # action -> HTTP status to answer
        self.posted: list[tuple[str, dict]] = []

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        from urllib.parse import parse_qs, urlparse

        from simulators.duty_desk import ApiError

        url = urlparse(path)
        if method == "GET":
            stage = parse_qs(url.query)["stage"][0]
            items = [c for c in self.cases.values() if c["stage"] == stage]
            return {"total": len(items), "items": items}
        case_id = url.path.split("/")[4]
        self.posted.append((case_id, body))
        if body["action"] in self.refuse:
            raise ApiError(self.refuse[body["action"]], {"message": "no"})
        self.cases[case_id].update(stage={"accept": "accepted", "merge": "merged"}[body["action"]],
                                   version=body["version"] + 1)
        return self.cases[case_id]


def test_a_refused_merge_becomes_an_accept_and_an_unavailable_api_gives_nothing_up():
    from simulators.duty_desk import ApiError, DutyDesk

    flagged = case(possible_duplicates=["ZJG-20260601-000001"])
    seed = next(s for s in range(1000) if decide(flagged, seed=s).action == "merge")
    desk = DutyDesk("http://ioc.test", "ioc_x", seed=seed)
    desk._request = api = FakeApi([flagged], refuse={"merge": 400})
    later = START_MS + 24 * HOUR_MS
    assert desk.poll_once(later) == 0 and desk.errors == 1
    api.refuse = {}
    assert desk.poll_once(later) == 1 and api.cases[flagged["id"]]["stage"] == "accepted"
    assert [b["action"] for _, b in api.posted] == ["merge", "accept"]

    other = case(case_id="ZJG-20260601-000009")
    desk = DutyDesk("http://ioc.test", "ioc_x", seed=next(s for s in range(1000) if decide(other, seed=s).action == "accept"))
    desk._request = api = FakeApi([other], refuse={"accept": 503})
    with pytest.raises(ApiError):
        desk.poll_once(later)
    api.refuse = {}
    assert desk.poll_once(later) == 1 and desk.summary().startswith("1 steps taken (1 accept)")
