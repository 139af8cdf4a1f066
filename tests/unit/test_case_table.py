"""The open cases as columns (ioc.views.case_table.OpenCaseTable) answer exactly as the list
functions that define the case views (`filter_cases`, `inspection_queue`, `department_tasks`,
`task_counts`), for random cities of open cases, filters and positions, also after changes."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from ioc.domain.cases import OPEN_STAGES, Case
from ioc.views.case_table import OpenCaseTable
from ioc.views.cases import filter_cases, overdue_count, stage_counts
from ioc.views.field import QUEUES, department_tasks, inspection_queue, task_counts

H = 3_600_000
NOW = 1_773_800_000_000
DISTRICTS = ("yangshe", "jinfeng", "tangqiao", "")
SOURCES = ("phone", "hotline", "camera")
CLASSES = ("10101", "10105", "20101", "20203", "10202")
DEPARTMENTS = ("water_affairs", "urban_management", "")


def random_case(rng: random.Random, k: int) -> Case:
    deadline = 0 if rng.random() < 0.2 else NOW + rng.choice((-3, -1, 1, 2, 5)) * H + rng.randint(0, 3) * 60_000
    return Case(f"ZJG-{k:06d}", class_code=rng.choice(CLASSES), lat=31.8 + rng.random() * 0.1, lon=120.5 + rng.random() * 0.1,
                district=rng.choice(DISTRICTS), source=rng.choice(SOURCES), created_at=NOW - rng.randint(1, 50) * H,
                stage=rng.choice(OPEN_STAGES), stage_deadline=deadline, urgent=rng.random() < 0.3,
                department=rng.choice(DEPARTMENTS), acknowledged_at=NOW - H if rng.random() < 0.5 else 0)


def city(seed: int, n: int = 400) -> list[Case]:
    rng = random.Random(seed)
    return [random_case(rng, k) for k in range(n)]


FILTERS = [{}, {"district": "jinfeng"}, {"source": "camera", "urgency": "urgent"}, {"class_code": "101"},
           {"class_code": "20101", "urgency": "ordinary"}, {"overdue_only": True}, {"district": "nowhere"},
           {"class_code": "9"}, {"district": "yangshe", "overdue_only": True, "source": "phone"}]


def expected_console(cases, stage="", limit=None, **filters):
    matching = filter_cases(cases, NOW, **filters)
    shown = [c for c in matching if not stage or c.stage == stage]
    return len(matching), stage_counts(matching), overdue_count(matching, NOW), len(shown), shown[:limit]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("stage, limit", [("", None), ("", 7), ("dispatched", 5), ("accepted", None)])
def test_the_console_selection_is_the_filtered_list(seed, filters, stage, limit):
    cases = city(seed)
    picked = OpenCaseTable(cases).console(NOW, stage=stage, limit=limit, **filters)
    matching, counts, overdue, total, shown = expected_console(cases, stage, limit, **filters)
    assert (picked.matching, picked.stage_counts, picked.overdue, picked.total) == (matching, counts, overdue, total)
    assert [c.id for c in picked.shown] == [c.id for c in shown]


def test_cases_tied_on_the_deadline_at_the_cut_are_ordered_as_the_list_orders_them():
    cases = [Case(f"C{k:02d}", class_code="10101", lat=31.8, lon=120.5, district="yangshe", source="phone",
                  created_at=NOW - H, stage="reported", stage_deadline=NOW + H) for k in range(30, 0, -1)]
    picked = OpenCaseTable(cases).console(NOW, limit=4)
    assert [c.id for c in picked.shown] == ["C01", "C02", "C03", "C04"]


@pytest.mark.parametrize("seed", [4, 5])
@pytest.mark.parametrize("queue", list(QUEUES))
@pytest.mark.parametrize("position", [None, {"lat": 31.85, "lon": 120.55, "accuracy": 10}])
@pytest.mark.parametrize("limit", [None, 6])
def test_an_inspection_queue_is_the_sorted_queue(seed, queue, position, limit):
    cases = city(seed)
    table = OpenCaseTable(cases)
    total, first = table.inspection_queue(queue, position, limit)
    expected = inspection_queue(cases, queue, position)
    assert total == len(expected) == table.queue_length(queue)
    assert [c.id for c in first] == [c.id for c in expected[:limit]]


@pytest.mark.parametrize("seed", [6, 7])
@pytest.mark.parametrize("department", list(DEPARTMENTS) + ["fire"])
def test_a_departments_tasks_and_figures_are_the_lists(seed, department):
    cases = city(seed)
    table = OpenCaseTable(cases)
    total, first = table.department_tasks(department, 5)
    expected = department_tasks(cases, department)
    assert total == len(expected)
    assert [c.id for c in first] == [c.id for c in expected[:5]]
    assert table.task_counts(department, NOW) == task_counts(cases, department, NOW)


def test_an_updated_table_answers_as_a_table_made_of_the_new_cases():
    rng = random.Random(9)
    cases = city(9, 200)
    table = OpenCaseTable(cases, generation=1)
    now_open = {c.id: c for c in cases}
    changed: dict = {}
    for c in rng.sample(cases, 40):  # moved on, or closed
        if rng.random() < 0.5:
            changed[c.id] = None
            del now_open[c.id]
        else:
            changed[c.id] = now_open[c.id] = replace(c, stage=rng.choice(OPEN_STAGES), stage_deadline=NOW - 7 * H,
                                                    department="water_affairs")
    for k in range(60):  # new ones: more than the rows freed
        c = random_case(rng, 1000 + k)
        changed[c.id] = now_open[c.id] = c
    updated = table.update(changed, 2)
    assert updated is table  # changed in place, under its lock
    fresh = OpenCaseTable(list(now_open.values()))
    assert updated.generation == 2 and len(updated) == len(now_open)
    for filters in FILTERS:
        a, b = updated.console(NOW, **filters), fresh.console(NOW, **filters)
        assert (a.matching, a.stage_counts, a.overdue, [c.id for c in a.shown]) == \
               (b.matching, b.stage_counts, b.overdue, [c.id for c in b.shown])
    assert updated.task_counts("water_affairs", NOW) == fresh.task_counts("water_affairs", NOW)
    for queue in QUEUES:
        assert [c.id for c in updated.inspection_queue(queue, None, 9)[1]] == [c.id for c in fresh.inspection_queue(queue, None, 9)[1]]


def test_an_empty_table_shows_nothing():
    picked = OpenCaseTable([]).console(NOW, district="yangshe", limit=10)
    assert (picked.matching, picked.overdue, picked.total, picked.shown) == (0, 0, 0, [])
    assert picked.stage_counts == {s: 0 for s in OPEN_STAGES}
    assert OpenCaseTable([]).inspection_queue("verify", None, 5) == (0, [])
