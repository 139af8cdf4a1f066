"""The portal's frame: top bar (title, navigation, clock, data freshness, language) and the page slot."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t
from ioc.settings import Settings

REFRESH_MS = 2000


def shell(settings: Settings) -> html.Div:
    lang = settings.lang
    return html.Div(
        [
            dcc.Location(id="url"),
            dcc.Store(id="lang", data=lang, storage_type="local"),
            dcc.Store(id="freshness", data=None),
            dcc.Interval(id="tick", interval=REFRESH_MS, n_intervals=0),
            html.Header(
                [
                    html.H1(t("app_title", lang), id="app-title"),
                    html.Nav(
                        [
                            dcc.Link(t("nav_bigscreen", lang), href="/", id="nav-bigscreen"),
                            dcc.Link(t("nav_districts", lang), href="/districts", id="nav-districts"),
                            dcc.Link(t("nav_status", lang), href="/status", id="nav-status"),
                        ],
                        className="nav",
                    ),
                    html.Div(
                        [
                            html.Span(className="fresh-dot", id="fresh-dot"),
                            html.Span(t("fresh", lang), id="fresh-label"),
                            html.Span("—", id="clock", className="clock"),
                            dcc.Input(id="duty-name", placeholder=t("duty_name", lang), debounce=True, persistence=True,
                                      persistence_type="local", className="duty-name", maxLength=40),
                            dcc.Checklist(id="sound", options=[{"label": t("sound", lang), "value": "on"}], value=[],
                                          persistence=True, persistence_type="local", className="sound-switch"),
                            html.Button(t("language", lang), id="lang-switch", n_clicks=0, className="lang-switch"),
                        ],
                        className="topbar-right",
                    ),
                ],
                className="topbar",
            ),
            html.Div(id="banner", className="banner hidden"),
            html.Main(id="page"),
        ],
        className="app",
    )
