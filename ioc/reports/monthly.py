"""The monthly assessment report (月度考评报告) from the record: sections of tables (pandas).

`monthly_report(conn, city, month, now_ms, lang)` returns a `Report`: its sections in reading
order, each a titled table (`Section.frame`, a DataFrame whose columns are people's words in the
report's language) with the kind of each column (`count`, `rate` as a fraction 0..1, `hours`,
`score`, `text`, `time`), which the page, the XLSX, the CSV and the JSON of the API share:

summary (the city's figures vs the previous month and the same month last year), districts,
departments (the ranking), classes, sources, overdue (the overdue cases), deferrals (cases with
an approved deferral), stages (mean hours per stage), events (the month's linked events).

`event_report(conn, event_id, lang)` is the post-event report of one linked event: its versions
(level and status over time) and its audit entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import psycopg

from ioc.domain import case_catalog
from ioc.domain.case_indicators import Indicators, score
from ioc.domain.cases import STAGES
from ioc.domain.clock import CHINA_TZ
from ioc.domain.departments import all_departments

from .indicators import GROUP_KEYS, PeriodFigures, compare, refresh_facts

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
OVERDUE_LIMIT = 5000  # rows of the overdue and deferral lists (the counts are exact; the lists are capped)

W = {  # the words of the report: key -> (zh, en)
    "summary": ("综合指标", "Summary"), "districts": ("各镇区", "Districts"), "departments": ("部门排名", "Department ranking"),
    "classes": ("案件类别", "Case classes"), "sources": ("案件来源", "Sources"), "overdue": ("超期案件", "Overdue cases"),
    "deferrals": ("延期案件", "Deferred cases"), "stages": ("环节用时", "Stage hours"), "events": ("联动事件", "Linked events"),
    "indicator": ("指标", "Indicator"), "this": ("本月", "This month"), "previous": ("上月", "Previous month"),
    "mom": ("环比变化", "Change on previous month"), "last_year": ("去年同月", "Same month last year"),
    "yoy": ("同比变化", "Change on last year"),
    "registered": ("立案数", "Registered"), "due": ("应结案数", "Due"), "closed": ("结案数", "Closed"),
    "closed_on_time": ("按期结案数", "Closed on time"), "deferred": ("延期数", "Deferred"), "overdue_n": ("超期数", "Overdue"),
    "handled": ("处置数", "Handled"), "rework": ("返工数", "Rework"), "closure_rate": ("结案率", "Closure rate"),
    "on_time_rate": ("按期结案率", "On-time closure rate"), "overdue_rate": ("超期率", "Overdue rate"),
    "deferral_rate": ("延期率", "Deferral rate"), "rework_rate": ("返工率", "Rework rate"), "score": ("综合评价", "Score"),
    "rank": ("排名", "Rank"), "district": ("镇区", "District"), "department": ("部门", "Department"),
    "class_code": ("案件类别", "Case class"), "source": ("来源", "Source"), "stage": ("环节", "Stage"),
    "stays": ("停留次数", "Stays"), "hours": ("平均用时（小时）", "Mean hours"),
    "case": ("案件编号", "Case"), "created": ("上报时间", "Reported"), "due_at": ("结案时限", "Due"),
    "closed_at": ("结案时间", "Closed"), "late_hours": ("超期（小时）", "Hours late"), "status": ("状态", "Status"),
    "deferral_at": ("批准延期时间", "Deferral approved"), "event": ("事件编号", "Event"), "plan": ("预案", "Plan"),
    "level": ("响应级别", "Level"), "started": ("启动时间", "Started"), "ended": ("结束时间", "Ended"),
    "open": ("未结", "Open"), "closed_word": ("已结案", "Closed"), "version": ("版本", "Version"), "at": ("时间", "Time"),
    "actor": ("操作人", "By"), "action": ("操作", "Action"), "outcome": ("结果", "Outcome"),
    "versions": ("事件过程", "Event versions"), "event_summary": ("事件概况", "Event summary"), "audit": ("操作记录", "Audit"),
}
STAGE_WORDS = {"reported": ("上报", "Reported"), "accepted": ("受理", "Accepted"), "verified": ("核实", "Verified"),
               "dispatched": ("派遣（部门处置）", "Dispatched (department at work)"), "handled": ("处置完毕待核查", "Handled"),
               "checked": ("核查", "Checked"), "closed": ("办结", "Closed")}
SOURCE_WORDS = {"hotline": ("12345热线", "Hotline"), "inspector": ("监督员巡查", "Inspector"), "camera": ("视频AI", "Camera AI"),
                "sensor": ("物联感知", "Sensor"), "phone": ("电话", "Phone"), "open311": ("Open311", "Open311"),
                "wechat": ("微信", "WeChat"), "app": ("市民APP", "App")}
SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("registered", "count"), ("due", "count"), ("closed", "count"), ("closed_on_time", "count"), ("deferred", "count"),
    ("overdue", "count"), ("handled", "count"), ("rework", "count"), ("closure_rate", "rate"), ("on_time_rate", "rate"),
    ("overdue_rate", "rate"), ("deferral_rate", "rate"), ("rework_rate", "rate"))
GROUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("registered", "count"), ("due", "count"), ("closed", "count"), ("closed_on_time", "count"), ("deferred", "count"),
    ("overdue", "count"), ("rework", "count"), ("closure_rate", "rate"), ("on_time_rate", "rate"), ("overdue_rate", "rate"),
    ("rework_rate", "rate"))


def w(key: str, lang: str) -> str:
    zh, en = W[key]
    return en if lang == "en" else zh


@dataclass
class Section:
    key: str
    title: str
    frame: pd.DataFrame
    kinds: list[str]  # per column: count | rate | hours | score | text | time
    chart: dict = field(default_factory=dict)  # {"kind": "column"|"bar", "category": col, "values": [cols], "rows": [..]}
    row_kinds: list[str] = field(default_factory=list)  # kind per row, for the columns of kind "mixed"

    def to_dict(self) -> dict:
        rows = [[None if (isinstance(v, float) and pd.isna(v)) else v for v in row]
                for row in self.frame.astype(object).itertuples(index=False, name=None)]
        return {"key": self.key, "title": self.title, "columns": [str(c) for c in self.frame.columns],
                "kinds": list(self.kinds), "row_kinds": list(self.row_kinds), "rows": rows}

    def csv(self) -> bytes:
        """The table as CSV (UTF-8 with a BOM, so Excel opens the Chinese headers right)."""
        return self.frame.to_csv(index=False).encode("utf-8-sig")


@dataclass
class Report:
    title: str
    month: str
    start_ms: int
    end_ms: int
    as_of_ms: int
    sections: list[Section]

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    def to_dict(self) -> dict:
        return {"title": self.title, "month": self.month, "start_ms": self.start_ms, "end_ms": self.end_ms,
                "as_of_ms": self.as_of_ms, "sections": [s.to_dict() for s in self.sections]}


def month_bounds(month: str) -> tuple[int, int]:
    """[start_ms, end_ms) of a month "YYYY-MM" in China time."""
    m = MONTH.match(month or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=CHINA_TZ)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=CHINA_TZ)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def month_of(now_ms: int, back: int = 0) -> str:
    """"YYYY-MM" of the China-time month `back` months before the one of `now_ms`."""
    local = datetime.fromtimestamp(now_ms / 1000, CHINA_TZ)
    index = local.year * 12 + local.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def opening_month(conn: psycopg.Connection, now_ms: int) -> str:
    """The month the report page opens on: the last whole month (what a monthly assessment is
    about), or the current one while the record holds no case reported in the last (a record
    that began this month, as the demo's)."""
    last = month_of(now_ms, 1)
    start, end = month_bounds(last)
    held = conn.execute("SELECT EXISTS (SELECT 1 FROM cases WHERE created_at >= to_timestamp(%s / 1000.0)"
                        " AND created_at < to_timestamp(%s / 1000.0))", (start, end)).fetchone()[0]
    return last if held else month_of(now_ms)


def fmt_ms(ms: int | None) -> str:
    return "" if not ms else datetime.fromtimestamp(ms / 1000, CHINA_TZ).strftime("%Y-%m-%d %H:%M")


RATE_DIGITS = 6  # rates (fractions) are rounded to 0.0001 %: the XLSX, the CSV and the JSON carry the same number
HOUR_DIGITS = 2


def _round(value, digits: int):
    return None if value is None else round(value, digits)


def _value(ind: Indicators, name: str):
    value = getattr(ind, name)
    return _round(value, RATE_DIGITS) if isinstance(value, float) else value


def _diff(a, b, digits: int = RATE_DIGITS):
    return None if a is None or b is None else round(a - b, digits)


def _names(city, lang: str) -> dict[str, dict[str, str]]:
    return {
        "district": {d.id: d.name(lang) if hasattr(d, "name") else (d.name_en if lang == "en" else d.name_zh)
                     for d in city.districts},
        "department": {d.id: d.name(lang) for d in all_departments(city)},
        "class_code": {c: (m.name(lang)) for c, m in case_catalog.MINOR_CLASSES.items()},
        "source": {k: (v[1] if lang == "en" else v[0]) for k, v in SOURCE_WORDS.items()},
    }


def summary_section(fig: PeriodFigures, lang: str) -> Section:
    cur, prev, ly = fig.current[0], fig.previous[0], fig.last_year[0]
    rows = []
    kinds = []
    for name, kind in SUMMARY_ROWS:
        a, b, c = _value(cur, name), _value(prev, name), _value(ly, name)
        rows.append([w("overdue_n" if name == "overdue" else name, lang), a, b, _diff(a, b), c, _diff(a, c)])
        kinds.append(kind)
    frame = pd.DataFrame(rows, columns=[w(k, lang) for k in ("indicator", "this", "previous", "mom", "last_year", "yoy")])
    # one kind per column: the figures are counts or rates by row, named in `row_kinds`
    return Section("summary", w("summary", lang), frame, ["text", "mixed", "mixed", "mixed", "mixed", "mixed"],
                   {"kind": "column", "category": 0, "values": [1, 2, 4], "rows": [i for i, k in enumerate(kinds) if k == "rate"]},
                   kinds)


def group_section(key: str, group: str, groups: Mapping[str, Indicators], names: Mapping[str, str], lang: str,
                  every: list[str] = ()) -> Section:
    keys = list(every) + [k for k in groups if k not in every]
    rows = []
    for k in keys:
        ind = groups.get(k) or Indicators(0, 0, 0)
        rows.append([names.get(k, k)] + [_value(ind, "overdue" if n == "overdue" else n) for n, _ in GROUP_COLUMNS])
    columns = [w(group, lang)] + [w("overdue_n" if n == "overdue" else n, lang) for n, _ in GROUP_COLUMNS]
    return Section(key, w(key, lang), pd.DataFrame(rows, columns=columns), ["text"] + [k for _, k in GROUP_COLUMNS],
                   {"kind": "column", "category": 0, "values": [8, 9]})


def ranking_section(fig: PeriodFigures, names: Mapping[str, str], lang: str) -> Section:
    rows = [[r.rank, names.get(r.key, r.key), r.score, *(_value(r.indicators, n) for n in (
             "on_time_rate", "closure_rate", "rework_rate", "overdue_rate")), r.indicators.due, r.indicators.closed,
             r.indicators.overdue] for r in fig.ranking()]
    columns = [w(k, lang) for k in ("rank", "department", "score", "on_time_rate", "closure_rate", "rework_rate",
                                    "overdue_rate", "due", "closed", "overdue_n")]
    return Section("departments", w("departments", lang), pd.DataFrame(rows, columns=columns),
                   ["count", "text", "score", "rate", "rate", "rate", "rate", "count", "count", "count"],
                   {"kind": "bar", "category": 1, "values": [2]})


def stages_section(fig: PeriodFigures, lang: str) -> Section:
    rows = []
    for stage in STAGES:
        cur = fig.current[0]
        if stage not in cur.mean_stage_hours and stage not in fig.previous[0].mean_stage_hours:
            continue
        a, b, c = (_round(f[0].mean_stage_hours.get(stage), HOUR_DIGITS) for f in (fig.current, fig.previous, fig.last_year))
        words = STAGE_WORDS.get(stage, (stage, stage))
        rows.append([words[1] if lang == "en" else words[0], cur.stage_stays.get(stage, 0), a, b, _diff(a, b, HOUR_DIGITS), c])
    columns = [w("stage", lang), w("stays", lang), f"{w('this', lang)}{w('hours', lang)}",
               f"{w('previous', lang)}{w('hours', lang)}", w("mom", lang), f"{w('last_year', lang)}{w('hours', lang)}"]
    return Section("stages", w("stages", lang), pd.DataFrame(rows, columns=columns),
                   ["text", "count", "hours", "hours", "hours", "hours"], {"kind": "column", "category": 0, "values": [2, 3, 5]})


def overdue_section(conn, start: int, as_of: int, names, lang: str) -> Section:
    rows = conn.execute(
        """SELECT case_id, k.class_code, k.district, k.department, created_at, due_at, closed_at
           FROM case_facts_narrow JOIN case_groups k USING (g)
           WHERE first_dispatch < %(a)s AND due_at IS NOT NULL AND (
                 (closed_at >= %(s)s AND closed_at < %(a)s AND closed_at > due_at)
              OR ((closed_at IS NULL OR closed_at >= %(a)s) AND due_at < %(a)s))
           ORDER BY due_at, case_id LIMIT %(n)s""", {"s": start, "a": as_of, "n": OVERDUE_LIMIT}).fetchall()
    data = []
    for cid, cls, dist, dep, created, due, closed in rows:
        closed_in = closed if closed and closed < as_of else None
        late = ((closed_in or as_of) - due) / 3_600_000
        data.append([cid, names["class_code"].get(cls, cls), names["district"].get(dist, dist),
                     names["department"].get(dep, dep), fmt_ms(created), fmt_ms(due), fmt_ms(closed_in),
                     round(late, 1), w("closed_word" if closed_in else "open", lang)])
    columns = [w(k, lang) for k in ("case", "class_code", "district", "department", "created", "due_at", "closed_at",
                                    "late_hours", "status")]
    return Section("overdue", w("overdue", lang), pd.DataFrame(data, columns=columns),
                   ["text"] * 7 + ["hours", "text"])


def deferrals_section(conn, start: int, as_of: int, names, lang: str) -> Section:
    rows = conn.execute(
        """SELECT case_id, k.class_code, k.district, k.department, first_deferral, due_at, closed_at
           FROM case_facts_narrow JOIN case_groups k USING (g) WHERE first_deferral >= %(s)s AND first_deferral < %(a)s ORDER BY first_deferral, case_id LIMIT %(n)s""",
        {"s": start, "a": as_of, "n": OVERDUE_LIMIT}).fetchall()
    data = [[cid, names["class_code"].get(cls, cls), names["district"].get(dist, dist), names["department"].get(dep, dep),
             fmt_ms(d), fmt_ms(due), fmt_ms(closed if closed and closed < as_of else None)]
            for cid, cls, dist, dep, d, due, closed in rows]
    columns = [w(k, lang) for k in ("case", "class_code", "district", "department", "deferral_at", "due_at", "closed_at")]
    return Section("deferrals", w("deferrals", lang), pd.DataFrame(data, columns=columns), ["text"] * 7)


def events_section(conn, start: int, end: int, lang: str) -> Section:
    rows = conn.execute(
        """SELECT id, plan, level, status, (extract(epoch FROM started_at) * 1000)::bigint,
                  (extract(epoch FROM ended_at) * 1000)::bigint, data->>'title'
           FROM events WHERE started_at >= to_timestamp(%s / 1000.0) AND started_at < to_timestamp(%s / 1000.0)
           ORDER BY started_at, id""", (start, end)).fetchall()
    data = [[eid, title or plan, level, status, fmt_ms(s), fmt_ms(e)] for eid, plan, level, status, s, e, title in rows]
    columns = [w(k, lang) for k in ("event", "plan", "level", "status", "started", "ended")]
    return Section("events", w("events", lang), pd.DataFrame(data, columns=columns), ["text"] * 6)


def monthly_report(conn: psycopg.Connection, city, month: str, now_ms: int, lang: str = "zh",
                   progress=None) -> Report:
    """The report of `month` ("YYYY-MM") as of `now_ms` (the whole month once it is over)."""
    step = progress or (lambda _fraction: None)
    start, end = month_bounds(month)
    if start >= now_ms:
        raise ValueError(f"the month {month} has not begun")
    refresh_facts(conn)
    step(0.1)
    fig = compare(conn, start, end, now_ms, by=GROUP_KEYS)
    step(0.6)
    as_of = fig.city.as_of_ms
    names = _names(city, lang)
    sections = [
        summary_section(fig, lang),
        group_section("districts", "district", fig.groups("district"), names["district"], lang,
                      [d.id for d in city.districts]),
        ranking_section(fig, names["department"], lang),
        group_section("classes", "class_code", fig.groups("class_code"), names["class_code"], lang),
        group_section("sources", "source", fig.groups("source"), names["source"], lang),
    ]
    step(0.7)
    sections.append(overdue_section(conn, start, as_of, names, lang))
    sections.append(deferrals_section(conn, start, as_of, names, lang))
    sections.append(stages_section(fig, lang))
    sections.append(events_section(conn, start, end, lang))
    step(0.9)
    title = f"{month} 月度考评报告" if lang != "en" else f"Monthly assessment report {month}"
    return Report(title, month, start, end, as_of, sections)


def event_report(conn: psycopg.Connection, event_id: str, lang: str = "zh") -> Report:
    """The post-event report of one linked event: its versions and its audit entries."""
    row = conn.execute("""SELECT (extract(epoch FROM started_at) * 1000)::bigint, (extract(epoch FROM ended_at) * 1000)::bigint,
                                 plan, level, status, data->>'title' FROM events WHERE id = %s""", (event_id,)).fetchone()
    if row is None:
        raise LookupError(f"no linked event {event_id} in the record")
    started, ended, plan, level, status, title = row
    summary = pd.DataFrame([[w("event", lang), event_id], [w("plan", lang), title or plan], [w("level", lang), level],
                            [w("status", lang), status], [w("started", lang), fmt_ms(started)],
                            [w("ended", lang), fmt_ms(ended)]], columns=[w("indicator", lang), w("this", lang)])
    versions = conn.execute("""SELECT version, (extract(epoch FROM at) * 1000)::bigint, level, status FROM event_versions
                               WHERE event_id = %s ORDER BY at, version""", (event_id,)).fetchall()
    vframe = pd.DataFrame([[v, fmt_ms(a), lv, st] for v, a, lv, st in versions],
                          columns=[w(k, lang) for k in ("version", "at", "level", "status")])
    audit = conn.execute("""SELECT (extract(epoch FROM at) * 1000)::bigint, actor, action, outcome FROM audit
                            WHERE target = %s ORDER BY at""", (event_id,)).fetchall()
    aframe = pd.DataFrame([[fmt_ms(a), actor, action, outcome] for a, actor, action, outcome in audit],
                          columns=[w(k, lang) for k in ("at", "actor", "action", "outcome")])
    return Report(f"{event_id} {'post-event report' if lang == 'en' else '事后评估报告'}", event_id, started or 0,
                  ended or 0, ended or 0, [Section("summary", w("event_summary", lang), summary, ["text", "text"]),
                                           Section("versions", w("versions", lang), vframe, ["count", "text", "text", "text"]),
                                           Section("audit", w("audit", lang), aframe, ["text"] * 4)])
