"""Response times of linked events, per plan and per department, against the plans' limits.

Pure: events in, figures out (the `figures` of each event, `ioc.domain.events`). For every
group (a plan; a department):

- `events` (plans only): events started in the period; `to_contain`: mean minutes from start to
  containment over the events that were contained;
- `tasks`: tasks not withdrawn (a withdrawn task never counts: the level or the commander took it
  back);
- `to_acknowledge`, `to_arrive`, `to_done`: mean minutes from issue to the step, over the tasks
  that reached it (None when none did);
- `ack_limit`, `arrive_limit`: mean of the tasks' limits, to read the means against, and
  `ack_limits`, `arrive_limits`: the lowest and highest of them (`[lo, hi]`, None without tasks);
- `acknowledged_in_time`, `arrived_in_time`: share (0–1) of the tasks that took the step within
  its limit, over the tasks that took it (None when none did);
- `late`: tasks with a step taken after its limit; `overdue`: tasks with a step overdue now;
  `late_or_overdue`: tasks with either.

The portal's `/indicators` shows the same figures in words (`ioc.views.events.indicator_rows`);
`GET /api/v1/events/indicators` sends these.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from .events import Event, TaskFigures, figures


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _range(values: list[int]) -> list[int] | None:
    return [min(values), max(values)] if values else None


def _share(tasks: list[TaskFigures], reached: str, step: str) -> float | None:
    took = [t for t in tasks if getattr(t, reached) is not None]
    return round(sum(step not in t.late for t in took) / len(took), 3) if took else None


def group_figures(tasks: list[TaskFigures]) -> dict:
    """The figures of one group of tasks (see the module's docstring)."""
    return {
        "tasks": len(tasks),
        "to_acknowledge": _mean([t.to_acknowledge for t in tasks if t.to_acknowledge is not None]),
        "to_arrive": _mean([t.to_arrive for t in tasks if t.to_arrive is not None]),
        "to_done": _mean([t.to_done for t in tasks if t.to_done is not None]),
        "ack_limit": _mean([float(t.ack_min) for t in tasks]),
        "arrive_limit": _mean([float(t.arrive_min) for t in tasks]),
        "ack_limits": _range([t.ack_min for t in tasks]),
        "arrive_limits": _range([t.arrive_min for t in tasks]),
        "acknowledged_in_time": _share(tasks, "to_acknowledge", "acknowledge"),
        "arrived_in_time": _share(tasks, "to_arrive", "arrive"),
        "late": sum(bool(t.late) for t in tasks),
        "overdue": sum(bool(t.overdue) for t in tasks),
        "late_or_overdue": sum(bool(t.late or t.overdue) for t in tasks),
    }


def response_times(events: Iterable[Event], now_ms: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """({plan: figures}, {department: figures}) of `events` as of `now_ms`."""
    plan_tasks: dict[str, list[TaskFigures]] = defaultdict(list)
    department_tasks: dict[str, list[TaskFigures]] = defaultdict(list)
    plan_events: dict[str, int] = defaultdict(int)
    contain: dict[str, list[float]] = defaultdict(list)
    for event in events:
        f = figures(event, now_ms)
        plan_events[event.plan] += 1
        if f.to_contain is not None:
            contain[event.plan].append(f.to_contain)
        for task in f.departments:
            if task.status == "withdrawn":
                continue
            plan_tasks[event.plan].append(task)
            department_tasks[task.department].append(task)
    plans = {plan: {"events": n, "to_contain": _mean(contain.get(plan, [])), **group_figures(plan_tasks.get(plan, []))}
             for plan, n in sorted(plan_events.items())}
    departments = {d: group_figures(tasks) for d, tasks in sorted(department_tasks.items())}
    return plans, departments
