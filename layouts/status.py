"""The data-intake status page (/status): devices, messages, alarms per device kind."""

from __future__ import annotations

from dash import html

from ioc.i18n import t
from ioc.views.status import CARDS


def card(key: str, lang: str) -> html.Div:
    parts = [html.Div(t(key, lang), id=f"label-{key}", className="kpi-label"), html.Div("—", id=f"value-{key}", className="kpi-value")]
    if key == "alarms_active":
        parts.append(html.Div("", id="alarms-by-severity", className="kpi-sub"))
    return html.Div(parts, className="kpi-card")


def status_page(lang: str) -> html.Div:
    return html.Div(
        [
            html.H2(t("status_heading", lang), id="status-heading"),
            html.P(t("status_note", lang), id="status-note", className="note"),
            html.Div([card(k, lang) for k in CARDS], className="kpi-row"),
            html.H3(t("by_kind", lang), id="by-kind-heading"),
            html.Table(id="kind-table", className="kind-table"),
            html.Div([html.Span(t("recorder_label", lang), id="label-recorder", className="kpi-label"), " ",
                      html.Span("—", id="recorder-status")], className="recorder-status"),
            html.Div([html.Span(t("updated", lang), id="label-updated"), " ", html.Span("—", id="updated")], className="updated"),
        ],
        className="page",
    )
