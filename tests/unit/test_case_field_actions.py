"""The field work's case actions (issue 16): 上传照片 (attach) and 到场 (arrive), and 处置完毕 with
an after photo (ioc.domain.cases)."""

from __future__ import annotations

import pytest

from ioc.domain.access import Principal
from ioc.domain.cases import Case, CaseActionError, CasePermissionError, allowed_actions, apply, may_attach
from ioc.domain.media import Attachment

T0 = 1_764_000_000_000
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))
LEADER = Principal("chen", frozenset({"leader"}))
WATER = Principal("h-water", frozenset({"handler"}), department="water_affairs")
LIGHTS = Principal("h-lights", frozenset({"handler"}), department="street_lighting")
LAT, LON = 31.87, 120.55


def photo(digest: str = "a" * 64, stage: str = "before", at: int = T0) -> dict:
    return Attachment(digest, "p.jpg", "image/jpeg", 10, 4, 3, stage, "zhao", "inspector", at).to_dict()


@pytest.fixture
def case() -> Case:
    return Case("C1", "10105", LAT, LON, "yangshe", "hotline", T0)


def run(case: Case, *steps) -> Case:
    for i, (action, actor, params) in enumerate(steps, 1):
        case, _ = apply(case, action, actor, T0 + i * 60_000, **params)
    return case


def dispatched(case: Case, acknowledged: bool = True) -> Case:
    case = run(case, ("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {"department": "water_affairs"}))
    return run(case, ("acknowledge", WATER, {})) if acknowledged else case


def test_attach_adds_the_files_and_keeps_the_stage(case):
    changed, event = apply(case, "attach", INSPECTOR, T0, attachments=(photo(),))
    assert changed.stage == "reported" and changed.version == case.version + 1
    assert [a["id"] for a in changed.attachments] == ["a" * 64]
    assert event.action == "attach" and event.detail["media"] == [{"id": "a" * 64, "name": "p.jpg", "stage": "before"}]


def test_attach_leaves_out_a_file_the_case_already_holds(case):
    once, _ = apply(case, "attach", INSPECTOR, T0, attachments=(photo(),))
    twice, _ = apply(once, "attach", INSPECTOR, T0, attachments=(photo(), photo("b" * 64)))
    assert [a["id"] for a in twice.attachments] == ["a" * 64, "b" * 64]


def test_attach_without_new_files_is_refused(case):
    with pytest.raises(CaseActionError) as refused:
        apply(case, "attach", INSPECTOR, T0)
    assert refused.value.code == "no_files" and refused.value.field == "file"


def test_attach_beyond_the_per_case_limit_is_refused(case):
    full, _ = apply(case, "attach", INSPECTOR, T0, attachments=(photo(),))
    with pytest.raises(CaseActionError) as refused:
        apply(full, "attach", INSPECTOR, T0, attachments=(photo("b" * 64),), max_attachments=1)
    assert refused.value.code == "too_many_files"


def test_a_handler_attaches_only_to_its_own_departments_case(case):
    task = dispatched(case)
    assert may_attach(task, WATER) and not may_attach(task, LIGHTS) and not may_attach(task, LEADER)
    with pytest.raises(CasePermissionError):
        apply(task, "attach", LIGHTS, T0, attachments=(photo(),))


def test_attach_is_not_offered_as_a_plain_action(case):
    assert "attach" not in allowed_actions(case, DISPATCHER) and may_attach(case, DISPATCHER)


def test_an_ended_case_takes_no_photos(case):
    rejected, _ = apply(case, "reject", DISPATCHER, T0, note="重复")
    assert not may_attach(rejected, DISPATCHER)


def test_arrive_within_the_radius_records_the_check_in(case):
    task = dispatched(case)
    arrived, event = apply(task, "arrive", WATER, T0 + 1, lat=LAT + 0.001, lon=LON, accuracy=12.0, radius_m=300)
    assert arrived.stage == "dispatched" and arrived.arrived_at == T0 + 1
    assert arrived.arrival["accuracy"] == 12.0 and 100 < arrived.arrival["distance_m"] < 120
    assert event.detail["distance_m"] == arrived.arrival["distance_m"]


def test_arrive_too_far_is_refused_naming_the_distance_and_the_radius(case):
    with pytest.raises(CaseActionError) as refused:
        apply(dispatched(case), "arrive", WATER, T0, lat=LAT + 0.01, lon=LON, radius_m=300)
    assert refused.value.code == "too_far" and refused.value.values == {"distance": 1112, "radius": 300}
    assert "1112 m" in str(refused.value) and "300 m" in str(refused.value)


def test_arrive_before_acknowledging_is_refused(case):
    with pytest.raises(CaseActionError) as refused:
        apply(dispatched(case, acknowledged=False), "arrive", WATER, T0, lat=LAT, lon=LON)
    assert refused.value.code == "not_acknowledged"


def test_arrive_needs_the_position(case):
    with pytest.raises(CaseActionError) as refused:
        apply(dispatched(case), "arrive", WATER, T0)
    assert refused.value.code == "position_required"


def test_arrive_is_offered_only_after_acknowledging(case):
    assert "arrive" not in allowed_actions(dispatched(case, acknowledged=False), WATER)
    assert "arrive" in allowed_actions(dispatched(case), WATER)


def test_rework_resets_the_check_in(case):
    arrived = run(dispatched(case), ("arrive", WATER, {"lat": LAT, "lon": LON}), ("handle", WATER, {}))
    reworked = run(arrived, ("check_fail", INSPECTOR, {"note": "未清理干净"}))
    assert reworked.arrived_at == 0 and reworked.arrival == {}


def test_handle_with_require_after_photo_is_refused_without_one(case):
    task = dispatched(case)
    with pytest.raises(CaseActionError) as refused:
        apply(task, "handle", WATER, T0 + 3_600_000, require_after_photo=True)
    assert refused.value.code == "after_photo_required"


def test_a_before_photo_or_one_from_before_the_dispatch_does_not_count_as_after(case):
    task = dispatched(case)
    old = photo("c" * 64, "after", at=task.stage_since - 1)
    task, _ = apply(task, "attach", WATER, task.stage_since, attachments=(old, photo("d" * 64, "before", at=task.stage_since)))
    with pytest.raises(CaseActionError):
        apply(task, "handle", WATER, T0 + 3_600_000, require_after_photo=True)


def test_handle_with_an_after_photo_since_dispatch_goes_through(case):
    task = dispatched(case)
    task, _ = apply(task, "attach", WATER, task.stage_since + 1, attachments=(photo("e" * 64, "after", at=task.stage_since + 1),))
    handled, _ = apply(task, "handle", WATER, T0 + 3_600_000, require_after_photo=True)
    assert handled.stage == "handled"


def test_the_attachments_and_the_arrival_survive_a_round_trip_as_a_dict(case):
    arrived = run(dispatched(case), ("attach", WATER, {"attachments": (photo(),)}), ("arrive", WATER, {"lat": LAT, "lon": LON}))
    again = Case.from_dict(arrived.to_dict())
    assert again == arrived and isinstance(again.attachments, tuple)
