"""The portal's intake status page (the landing page until the big screen replaces it)."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t
from ioc.settings import Settings
from ioc.views.status import CARDS

REFRESH_MS = 2000


def card(key: str, lang: str) -> html.Div:
    parts = [html.Div(t(key, lang), id=f"label-{key}", className="kpi-label"), html.Div("—", id=f"value-{key}", className="kpi-value")]
    if key == "alarms_active":
        parts.append(html.Div("", id="alarms-by-severity", className="kpi-sub"))
    return html.Div(parts, className="kpi-card")


def root(settings: Settings) -> html.Div:
    lang = settings.lang
    return html.Div(
        [
            dcc.Store(id="lang", data=lang, storage_type="local"),
            dcc.Interval(id="tick", interval=REFRESH_MS, n_intervals=0),
            html.Header(
                [
                    html.H1(t("app_title", lang), id="app-title"),
                    html.Button(t("language", lang), id="lang-switch", n_clicks=0, className="lang-switch"),
                ],
                className="topbar",
            ),
            html.Div(id="banner", className="banner hidden"),
            html.H2(t("status_heading", lang), id="status-heading"),
            html.P(t("status_note", lang), id="status-note", className="note"),
            html.Div([card(k, lang) for k in CARDS], className="kpi-row"),
            html.H3(t("by_kind", lang), id="by-kind-heading"),
            html.Table(id="kind-table", className="kind-table"),
            html.Div([html.Span(t("updated", lang), id="label-updated"), " ", html.Span("—", id="updated")], className="updated"),
        ],
        className="page",
    )
