"""Callbacks of the monthly assessment report page `/reports` (layouts/reports.py).

The sections are read from the record (`ioc.reports.monthly`) under `view:reports`; the XLSX is
built in the background (`ioc.web.reports_api.start_monthly`, `ioc.reports.jobs`) under
`report:export`, and polled once a second until ready; the file and the CSV links are the
`/api/v1/reports…` routes, which the browser's session may use.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from dash import Input, Output, State, dcc, html, no_update

from ioc.domain.access import allowed
from ioc.i18n import resolve_lang, t
from ioc.reports import jobs
from ioc.web.auth import current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.reports_api import build_monthly, opening_report_month, start_monthly
from ioc.web.services import current_services

from layouts.grids import ag_grid

SHOWN = {"display": "flex"}
HIDDEN = {"display": "none"}
FORMATS = {
    "rate": {"function": "params.value == null ? '—' : (params.value * 100).toFixed(1) + '%'"},
    "hours": {"function": "params.value == null ? '—' : params.value.toFixed(1)"},
    "score": {"function": "params.value == null ? '—' : params.value.toFixed(2)"},
}
CHART_COLORS = ("#2fa4e7", "#f0ad4e", "#5cb85c")


def _columns(section) -> list[dict]:
    out = []
    for i, (name, kind) in enumerate(zip(section["columns"], section["kinds"])):
        col = {"field": f"c{i}", "headerName": name, "minWidth": 90, "flex": 1, "sortable": True, "resizable": True}
        if kind in FORMATS:
            col["valueFormatter"] = FORMATS[kind]
        if kind in ("count", "rate", "hours", "score", "mixed"):
            col["type"] = "rightAligned"
        if kind == "mixed":  # counts and "54.1%" texts in one column: AG Grid must not infer a number type from the first
            col["cellDataType"] = False
        if i == 0:
            col.update({"pinned": "left", "minWidth": 140, "flex": 2})
        out.append(col)
    return out


def _rows(section) -> list[dict]:
    rows = []
    for r, row in enumerate(section["rows"]):
        cells = {f"c{i}": v for i, v in enumerate(row)}
        if section.get("row_kinds") and section["row_kinds"][r] == "rate":  # the summary: rates shown as percentages
            cells = {k: (v if k == "c0" else f"{v * 100:.1f}%" if isinstance(v, float) else "—" if v is None else v)
                     for k, v in cells.items()}
        rows.append(cells)
    return rows


def _figure(section) -> dict | None:
    spec = section.get("chart") or {}
    if not spec or not section["rows"]:
        return None
    rows = [section["rows"][i] for i in spec["rows"]] if spec.get("rows") else section["rows"]
    horizontal = spec.get("kind") == "bar"
    data = []
    for n, col in enumerate(spec["values"]):
        cats = [r[spec["category"]] for r in rows]
        vals = [r[col] for r in rows]
        data.append({"type": "bar", "name": section["columns"][col], "marker": {"color": CHART_COLORS[n % 3]},
                     **({"y": cats, "x": vals, "orientation": "h"} if horizontal else {"x": cats, "y": vals})})
    return {"data": data, "layout": {
        "title": {"text": section["title"], "font": {"size": 15, "color": "#dbe7f5"}, "x": 0.01},
        "height": 360 if not horizontal else max(300, 22 * len(rows) + 80), "barmode": "group",
        "margin": {"l": 160 if horizontal else 48, "r": 16, "t": 40, "b": 90},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": "#8aa4c2", "size": 12},
        "legend": {"orientation": "h", "y": -0.3}, "xaxis": {"automargin": True}, "yaxis": {"automargin": True,
                                                                                              "gridcolor": "#1a3350"}}}


def section_children(report: dict, lang: str, can_export: bool) -> list:
    out = []
    for section in report["sections"]:
        head = [html.H3(section["title"])]
        if can_export:
            query = urlencode({"month": report["month"], "section": section["key"], "lang": lang})
            head.append(html.A(t("rep_csv", lang), href=f"/api/v1/reports/monthly.csv?{query}", id=f"rep-csv-{section['key']}",
                               className="rep-csv"))
        out.append(html.Div(head, className="form-row"))
        out.append(ag_grid(f"rep-grid-{section['key']}", _columns(section), lang, t("case_no_rows", lang),
                           {"domLayout": "autoHeight" if len(section["rows"]) <= 30 else "normal"},
                           rowData=_rows(section), style={} if len(section["rows"]) <= 30 else {"height": "520px"}))
        figure = _figure(section)
        if figure:
            out.append(dcc.Graph(figure=figure, config={"displayModeBar": False}, id=f"rep-chart-{section['key']}"))
    return out


def opening(default_month):
    """The month the page opens on: the last whole month, or the current one while the record
    holds no case of the last."""
    if not current_services().settings.database_url:
        return default_month
    return opening_report_month(int(time.time() * 1000))


def render(month, lang):
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    if not month:
        return no_update, no_update
    if not services.settings.database_url:
        return t("rep_no_record", lang), html.P(t("rep_no_record", lang))
    try:
        report = build_monthly(month, lang, int(time.time() * 1000)).to_dict()
    except ValueError:
        return t("rep_not_begun", lang), []
    from ioc.reports.monthly import fmt_ms

    can_export = allowed(current_principal(), "report:export")
    return f"{t('rep_as_of', lang)} {fmt_ms(report['as_of_ms'])}", section_children(report, lang, can_export)


def start(_n, month, lang):
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    try:
        job_id = start_monthly(month, lang, current_principal().name)
    except ValueError:
        return "", True, SHOWN, t("rep_not_begun", lang)
    return job_id, False, SHOWN, t("rep_queued", lang)


def poll(_n, job_id, lang):
    lang = resolve_lang(lang, current_services().settings.lang)
    if not job_id:
        return no_update, no_update, no_update, no_update, True
    job = jobs.status(current_services().redis, job_id)
    if job is None or job["status"] == "failed":
        error = (job or {}).get("error") or "?"
        return "0", t("rep_failed", lang) + error, "", "", True
    if job["status"] == "ready":
        return "1", t("rep_ready", lang), f"{job.get('file', '')} — {t('rep_download', lang)}", \
            f"/api/v1/reports/{job_id}/file", True
    pct = f"{100 * job['progress']:.0f}%"
    return str(job["progress"]), f"{t('rep_running', lang)} {pct}", "", "", False


def register(app, services) -> None:
    secured_callback(app, "view:reports", Output("rep-month", "value"), Input("rep-default-month", "data"))(opening)
    secured_callback(app, "view:reports", Output("rep-as-of", "children"), Output("rep-sections", "children"),
                     Input("rep-month", "value"), State("lang", "data"))(render)
    secured_callback(app, "report:export", Output("rep-job-id", "data"), Output("rep-poll", "disabled"),
                     Output("rep-job", "style"), Output("rep-job-text", "children", allow_duplicate=True),
                     Input("rep-xlsx", "n_clicks"), State("rep-month", "value"), State("lang", "data"),
                     prevent_initial_call=True)(start)
    secured_callback(app, "report:export", Output("rep-progress", "value"), Output("rep-job-text", "children"),
                     Output("rep-file", "children"), Output("rep-file", "href"), Output("rep-poll", "disabled", allow_duplicate=True),
                     Input("rep-poll", "n_intervals"), State("rep-job-id", "data"), State("lang", "data"),
                     prevent_initial_call=True)(poll)
