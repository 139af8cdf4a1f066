"""Who a case goes to, and when its work is due.

Routing follows the seed's rule: a component (部件) goes to its owner first, then the
territory (先属主后属地); an event (事件) to the territory first, then the functional
department (先属地后属主). The territory of a district is the department `town_<district id>`
(see `ioc.domain.departments.territorial`). The dispatcher sees the candidates in order and the
first one is preselected; they may still choose any department.

Deadlines count the class's limits (`ioc.domain.case_catalog`) on its clock: calendar hours for
urgent classes, working hours on the city's `WorkCalendar` for the others.

Pure: no I/O.
"""

from __future__ import annotations

from .case_catalog import WORKS, MinorClass
from .work_calendar import WorkCalendar


def territory_of(district_id: str) -> str:
    """The territorial department governing a district."""
    return f"town_{district_id}"


def suggest_departments(minor: MinorClass, district_id: str) -> list[str]:
    """Candidate departments, best first: [owner, territory] for a component, [territory, owner]
    for an event. Without a district only the owner is suggested."""
    territory = territory_of(district_id) if district_id else ""
    ordered = [minor.department, territory] if minor.is_component else [territory, minor.department]
    out: list[str] = []
    for dep in ordered:
        if dep and dep not in out:
            out.append(dep)
    return out


def deadline_for(minor: MinorClass, work: str, start_ms: int, calendar: WorkCalendar) -> int:
    """When `work` (a stage work: accept, verify, dispatch, handle, check, close) started at
    `start_ms` is due, in epoch ms; 0 when the class has no limit for it."""
    if work not in WORKS:
        raise ValueError(f"unknown work {work!r}; works are {', '.join(WORKS)}")
    hours = minor.limit(work)
    if hours <= 0:
        return 0
    return calendar.add_hours(start_ms, hours, minor.calendar_hours)


def due_at_for(minor: MinorClass, start_ms: int, calendar: WorkCalendar) -> int:
    """When the whole case, reported at `start_ms`, is due to close: the sum of all its stage
    limits after the report, on the class's clock; 0 when the class has no limits."""
    hours = minor.total_hours
    if hours <= 0:
        return 0
    return calendar.add_hours(start_ms, hours, minor.calendar_hours)
