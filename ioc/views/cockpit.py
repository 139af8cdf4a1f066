"""Pure view model of the leader cockpit (领导驾驶舱, /cockpit): on a phone, the city's and each
district's key figures, the active alarms and the linked events, the overdue cases with 督办.

Nothing is computed again here: the figures are the big screen's (`ioc.views.bigscreen.kpis` and
`kpi_texts`), the districts the comparison's (`district_ranking`), the alarms the wall's board
(`alarm_board`), the events the events list's (`ioc.views.events`), the cases' words the case
pages' (`ioc.views.cases`). This module picks, orders and words them for a phone: cards of
(label, value) lines in the reader's language, people, units, districts and departments by name.
No I/O: the callbacks (callbacks/cockpit.py) read the services and call these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ioc.domain.cases import Case
from ioc.domain.departments import Department
from ioc.domain.events import Event
from ioc.domain.plans import Plan
from ioc.i18n import t
from ioc.views.bigscreen import Kpis, kpi_texts, water_alert
from ioc.views.cases import class_name, countdown, department_name, stage_name
from ioc.views.events import LIVE_FILTER, banner, filter_events, overdue_tasks, task_counts

# the city's figures a leader reads first, in this order (keys of `kpi_texts`)
CITY_FIGURES: tuple[str, ...] = ("kpi_alarms", "kpi_cases", "kpi_online", "kpi_aqi", "kpi_water", "kpi_traffic")
ALARM_LIMIT = 10  # the cockpit lists the most pressing alarms; the wall has them all
CASE_LIMIT = 30  # the most overdue cases


@dataclass(frozen=True)
class Figure:
    key: str  # the kpi key (`kpi_alarms`)
    label: str
    value: str
    sub: str
    alert: bool  # shown red: a critical alarm, an overdue case, water over the warning line


def city_figures(k: Kpis, lang: str = "zh", city=None) -> list[Figure]:
    """The city's key figures: the big screen's cards' texts, the pressing ones marked."""
    texts = kpi_texts(k, lang, city)
    alerts = {"kpi_alarms": k.alarms.get("critical", 0) > 0, "kpi_cases": k.cases_overdue > 0, "kpi_water": water_alert(k)}
    return [Figure(key, t(key, lang), texts[key][0], texts[key][1], alerts.get(key, False)) for key in CITY_FIGURES]


def _rate(value) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _whole(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def district_cards(ranking: Iterable[dict], lang: str = "zh") -> list[dict]:
    """One card per district from the comparison's rows (`district_ranking`): the districts with
    critical alarms and overdue cases first; each links to its district page."""
    rows = sorted(ranking, key=lambda r: (-r["critical"], -r["cases_overdue"], -r["alarms"], r["district"]))
    return [{
        "id": r["id"], "name": r["district"], "href": f"/district/{r['id']}",
        "alert": bool(r["critical"] or r["cases_overdue"]),
        "figures": [(t("col_alarms", lang), f"{r['alarms']:,}"), (t("col_critical", lang), f"{r['critical']:,}"),
                    (t("col_cases", lang), f"{r['cases']:,}"), (t("col_cases_overdue", lang), f"{r['cases_overdue']:,}"),
                    (t("col_aqi", lang), _whole(r["aqi"])), (t("col_online", lang).replace(" %", ""), _rate(r["online_rate"]))],
    } for r in rows]


def linked_events(events: Iterable[Event]) -> dict[str, Event]:
    """alarm id -> the live event it is linked to (started from it)."""
    return {alarm_id: e for e in events if e.is_open for alarm_id in e.alarms}


def alarm_cards(board: Iterable[dict], events: Iterable[Event], lang: str = "zh", limit: int = ALARM_LIMIT) -> list[dict]:
    """The wall's alarm board rows (escalated first, then by severity) as cards, each with the
    linked event it belongs to, if any."""
    linked = linked_events(events)
    cards = []
    for row in list(board)[:limit]:
        event = linked.get(row["id"])
        cards.append({
            "id": row["id"], "severity": row["severity"], "severity_text": t("severity_" + row["severity"], lang),
            "rule": row["rule"], "device": row["device"], "district": row["district"],
            "reading": row.get("reading", ""), "since": row["since"], "escalation": row.get("escalation", ""),
            "acked_by": row.get("acked_by", ""), "event_id": event.id if event else "",
            "event_href": f"/event/{event.id}" if event else "",
        })
    return cards


def event_cards(events: Iterable[Event], plans: Mapping[str, Plan], district_names: Mapping[str, str], now_ms: int,
                lang: str = "zh", people: Mapping[str, str] | None = None) -> list[dict]:
    """The live linked events (most severe first) as cards: the banner's words, the tasks done and
    the overdue ones, the alarms and cases linked."""
    cards = []
    for e in filter_events(events, LIVE_FILTER):
        b = banner(e, plans, district_names, now_ms, lang, people)
        done, counted = task_counts(e)
        cards.append({
            "id": e.id, "href": f"/event/{e.id}", "headline": b.headline, "title": b.title, "status": b.status,
            "status_id": b.status_id, "level": b.level, "elapsed": b.elapsed, "commander": b.commander,
            "districts": b.districts, "tasks": t("cockpit_tasks_done", lang).format(done=done, total=counted),
            "overdue": len(overdue_tasks(e, now_ms)), "linked": t("cockpit_linked", lang).format(alarms=len(e.alarms),
                                                                                              cases=len(e.cases)),
        })
    return cards


def overdue_cases(cases: Iterable[Case], now_ms: int, district_names: Mapping[str, str],
                  departments: Mapping[str, Department], lang: str = "zh", limit: int = CASE_LIMIT) -> list[dict]:
    """The open cases past their stage's deadline, the longest overdue first, each with the words
    a leader urges it by: class, district, address, the department, how long overdue, urges so far."""
    late = sorted((c for c in cases if c.overdue(now_ms)), key=lambda c: (c.stage_deadline, c.id))[:limit]
    rows = []
    for c in late:
        over, _ = countdown(c.stage_deadline, now_ms, lang)
        department = department_name(c.department, departments, lang)
        rows.append({
            "id": c.id, "href": f"/case/{c.id}", "class": class_name(c.class_code, lang),
            "district": district_names.get(c.district, c.district), "address": c.address or "",
            "stage": stage_name(c.stage, lang), "department": department or t("cockpit_no_department", lang),
            "over": over, "urges": t("cockpit_urges", lang).format(n=c.urge_count), "urge_count": c.urge_count,
            "version": c.version,
        })
    return rows


def urge_done_text(case: Case, departments: Mapping[str, Department], lang: str = "zh") -> str:
    """The confirmation of a 督办: which case, which department hears of it, the how-many-th urge."""
    department = department_name(case.department, departments, lang) or t("cockpit_no_department", lang)
    return t("cockpit_urged", lang).format(case=case.id, cls=class_name(case.class_code, lang), department=department,
                                           n=case.urge_count)


def summary_line(cases: list[dict], events: list[dict], lang: str = "zh") -> str:
    """One line on top: how many overdue cases are listed and how many linked events are live."""
    return t("cockpit_summary", lang).format(cases=len(cases), events=len(events))
