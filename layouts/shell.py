"""The portal's frame: top bar (title, navigation, clock, data freshness, who is signed in,
language) and the page slot. The navigation is filled per principal by a callback: each role
sees only its views."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t
from ioc.settings import Settings

REFRESH_MS = 2000
NOTICE_REFRESH_MS = 10_000  # a department's new linked-event tasks and instructions: a light poll, for handlers only

# every dash-ag-grid table: AG Grid's Alpine theme in the portal's dark colours (Theming API)
GRID_THEME = {"function": ("themeAlpine.withParams({backgroundColor: '#10243d', foregroundColor: '#dbe7f5', "
                           "headerBackgroundColor: '#132b47', borderColor: '#1f3b5c', accentColor: '#7fd1ff', "
                           "oddRowBackgroundColor: '#0e2136', browserColorScheme: 'dark', fontFamily: 'inherit'})")}


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
                    # phones and tablets: the navigation and the switches fold into a menu (assets/mobile.js)
                    html.Button(html.Span(className="menu-icon"), id="menu-toggle", className="menu-toggle", type="button",
                                title=t("menu", lang), **{"aria-label": t("menu", lang), "aria-expanded": "false",
                                                          "aria-controls": "nav"}),
                    html.H1(title(lang), id="app-title"),
                    html.Nav([], id="nav", className="nav"),
                    html.Div(
                        [
                            html.Span(className="fresh-dot", id="fresh-dot"),
                            html.Span(t("fresh", lang), id="fresh-label"),
                            html.Span(clock_parts("—"), id="clock", className="clock"),
                            html.Span("", id="user-badge", className="user-badge"),
                            # hidden until the callback knows who is signed in: a kiosk session never offers it
                            html.A("", href="/logout", id="sign-out", className="sign-out hidden"),
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
            event_notices(),
            html.Main(id="page"),
        ],
        className="app",
    )


def title(lang: str) -> list:
    """The top bar's title: the full name; a phone shows the short one (assets/mobile.css)."""
    return [html.Span(t("app_title", lang), className="title-full", title=t("app_title", lang)),
            html.Span(t("app_title_short", lang), className="title-short")]


def clock_parts(text: str) -> list:
    """`2026-12-06 18:10:11` as the date and the time, so a phone can show the time alone."""
    date, _, time_of_day = text.rpartition(" ")
    return [html.Span(date, className="clock-date"), " ", time_of_day] if date else [text]


def event_notices() -> html.Div:
    """A department's linked-event tasks not yet acknowledged and the instructions it has to
    acknowledge, on top of every page until acknowledged (filled by callbacks.events; the poll is
    switched on for principals bound to a department only)."""
    return html.Div(
        [
            dcc.Interval(id="ev-notice-tick", interval=NOTICE_REFRESH_MS, n_intervals=0, disabled=True),
            dcc.Store(id="ev-notice-key", data=None),
            dcc.Store(id="ev-notice-changed", data=0),
            html.Div(id="ev-notices", className="ev-notices"),
            html.Div(id="ev-notice-message", className="message ev-notice-message"),
        ],
        id="ev-notice-box", className="ev-notice-box",
    )


def nav_links(views: list[tuple[str, str]], lang: str, full_pages: frozenset[str] = frozenset()) -> list:
    """The navigation: a link per (view, path) the principal may open (`ioc.web.pages.visible_views`);
    a path in `full_pages` (served outside Dash) is a plain link that loads the page."""
    return [html.A(t(f"nav_{view}", lang), href=path, id=f"nav-{view}") if path in full_pages
            else dcc.Link(t(f"nav_{view}", lang), href=path, id=f"nav-{view}") for view, path in views]


def forbidden(lang: str) -> html.Div:
    return html.Div([html.H2(t("forbidden", lang))], className="page forbidden", id="forbidden")
