"""The monthly assessment report page `/reports` (月度考评): a month picker, the report's sections
as tables (dash-ag-grid) with charts, CSV links per table and an XLSX built in the background
with its progress. Only builds components: callbacks/reports.py fills them."""

from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from ioc.domain.clock import CHINA_TZ
from ioc.i18n import t

REPORT_POLL_MS = 1000
MONTHS_BACK = 36


def month_options(now_ms: int, lang: str) -> list[dict]:
    """The months to pick, newest first: the current one and the 36 before it."""
    local = datetime.fromtimestamp(now_ms / 1000, CHINA_TZ)
    out = []
    y, m = local.year, local.month
    for _ in range(MONTHS_BACK + 1):
        value = f"{y:04d}-{m:02d}"
        out.append({"label": f"{y}年{m}月" if lang != "en" else value, "value": value})
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out


def default_month(now_ms: int) -> str:
    """The last whole month: the one a monthly assessment is about (the page opens on it, or on
    the current month while the record holds no case of it: `callbacks.reports.opening`)."""
    return month_options(now_ms, "en")[1]["value"]


def reports_page(lang: str, now_ms: int) -> html.Div:
    return html.Div(
        [
            html.H2(t("rep_heading", lang)),
            html.Div(
                [
                    html.Span(t("rep_month", lang)),
                    dcc.Dropdown(id="rep-month", options=month_options(now_ms, lang), value=None,
                                 clearable=False, style={"width": "220px"}),
                    html.Button(t("rep_xlsx", lang), id="rep-xlsx", n_clicks=0, className="btn"),
                    html.Span("", id="rep-as-of", className="note"),
                ],
                className="form-row",
            ),
            html.Div(
                [html.Progress(id="rep-progress", max="1", value="0", style={"width": "240px"}),
                 html.Span("", id="rep-job-text", className="note"),
                 html.A("", id="rep-file", href="", className="rep-file")],
                id="rep-job", className="form-row", style={"display": "none"},
            ),
            dcc.Store(id="rep-default-month", data=default_month(now_ms)),
            dcc.Store(id="rep-job-id", data=""),
            dcc.Interval(id="rep-poll", interval=REPORT_POLL_MS, disabled=True, n_intervals=0),
            dcc.Loading(html.Div(id="rep-sections"), type="dot"),
        ],
        className="case-page", id="reports-page",
    )
