"""The report page (巡查上报) is served by Flask outside Dash (ioc.web.field); the navigation
links to it with a full page load. If Dash's router is ever asked for its path, it shows a link."""

from __future__ import annotations

from dash import html

from ioc.i18n import t


def report_link_page(lang: str) -> html.Div:
    return html.Div([html.H2(t("report_title", lang)),
                     html.A(t("report_open_page", lang), href="/report", id="report-open", className="button")],
                    className="page", id="report-link-page")
