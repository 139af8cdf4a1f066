"""The open cases' figures per district (ioc.domain.case_tally): the same as counting case by case,
at any moment, from one sorted pass."""

from __future__ import annotations

import random

from ioc.domain.case_tally import OpenCaseTally
from ioc.domain.cases import Case
from ioc.domain.city_state import CitySnapshot
from ioc.domain.clock import local_midnight_ms
from ioc.views.bigscreen import case_counts, tally_of

H = 3_600_000
NOW = 1_796_600_000_000


def case(n: int, district: str, stage: str, deadline: int, created: int) -> Case:
    return Case(f"C{n}", class_code="10101", lat=31.87, lon=120.55, district=district, source="phone", created_at=created,
                stage=stage, stage_deadline=deadline)


def counted_one_by_one(cases, now, since):
    out = {}
    for c in cases:
        if not c.is_open:
            continue
        o, v, t = out.get(c.district, (0, 0, 0))
        out[c.district] = (o + 1, v + c.overdue(now), t + (c.created_at >= since))
    return out


def some_cases(k: int = 400) -> list[Case]:
    rng = random.Random(7)
    stages = ["reported", "verifying", "verified", "dispatched", "checking", "pending_close", "closed"]
    return [case(n, rng.choice(["yangshe", "jinfeng", "leyu"]), rng.choice(stages),
                 rng.choice([0, NOW + rng.randint(-5, 5) * H, NOW]), NOW - rng.randint(0, 48) * H) for n in range(k)]


def test_the_tally_counts_as_case_by_case_at_every_moment_including_a_deadline_s_own_millisecond():
    cases = some_cases()
    tally = OpenCaseTally.of(cases)
    for now in (NOW - 6 * H, NOW - 1, NOW, NOW + 1, NOW + 3 * H, NOW + 6 * H):
        for since in (NOW - 24 * H, NOW - 12 * H, NOW):
            assert tally.counts(now, since) == counted_one_by_one(cases, now, since)


def test_closed_cases_and_cases_without_a_deadline_are_never_overdue():
    cases = [case(1, "yangshe", "closed", NOW - H, NOW - 2 * H), case(2, "yangshe", "reported", 0, NOW - 2 * H)]
    assert OpenCaseTally.of(cases).counts(NOW, NOW - 24 * H) == {"yangshe": (1, 0, 1)}


def test_frames_of_the_same_open_cases_share_one_tally_and_a_new_list_gets_its_own():
    cases = some_cases(50)
    assert tally_of(cases) is tally_of(cases)
    again = list(cases)
    assert tally_of(again) is not tally_of(cases)
    cases.append(case(999, "leyu", "reported", NOW - H, NOW))  # grown in place: counted again
    assert case_counts(CitySnapshot(now_ms=NOW, cases=cases)) == counted_one_by_one(cases, NOW, local_midnight_ms(NOW))
