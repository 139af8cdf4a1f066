"""The time control (回溯 / Rewind) of the wall and the district pages: pick a moment of the record
or play it at 60×/600×/3600×; while a moment is shown, a banner says 回放 / Replay and its time.

Always in the page (the pages' callbacks read its store), shown only to a viewer holding
`view:rewind` on a process with a record (DATABASE_URL)."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t

from ioc.views.rewind import SPEEDS

PREFIXES = ("", "d-", "r-")  # the wall, a district page, the district comparison
TICK_MS = 1000  # playback moves one step (speed × 1 s of the record) per second


def rewind_control(lang: str, shown: bool, prefix: str = "") -> html.Div:
    """The control; its ids start with `prefix` (the wall "", a district page "d-", the comparison "r-"):
    every page's components live together in the validation layout."""
    return html.Div(
        [
            # kept in the tab's session storage: a language switch, a reload or a visit to another
            # page does not end a replay (the banner says 回放 and leads back to live)
            dcc.Store(id=f"{prefix}rewind-at", data=None, storage_type="session"),  # epoch ms of the moment shown; None: live
            dcc.Store(id=f"{prefix}rewind-play", data=None, storage_type="session"),  # {"speed", "t0", "w0", "last"} while playing
            dcc.Interval(id=f"{prefix}rewind-tick", interval=TICK_MS, disabled=True),
            html.Button(t("rewind", lang), id=f"{prefix}rewind-open", n_clicks=0, className="btn rewind-open"),
            html.Div(
                [
                    dcc.DatePickerSingle(id=f"{prefix}rewind-date", display_format="YYYY-MM-DD", className="rewind-date",
                                         placeholder=t("rewind_date", lang)),
                    dcc.Input(id=f"{prefix}rewind-time", type="text", value="", placeholder="HH:MM", debounce=True, maxLength=8,
                              className="rewind-time"),
                    html.Button(t("rewind_go", lang), id=f"{prefix}rewind-go", n_clicks=0, className="btn"),
                    html.Div(dcc.Slider(id=f"{prefix}rewind-slider", min=0, max=1, step=60_000, value=None, marks=None, updatemode="mouseup",
                                        included=False), className="rewind-slider"),
                    *[html.Button(f"{s}×", id=f"{prefix}rewind-speed-{s}", n_clicks=0, className="btn rewind-speed", title=t("rewind_play", lang))
                      for s in SPEEDS],
                    html.Button(t("rewind_pause", lang), id=f"{prefix}rewind-pause", n_clicks=0, className="btn"),
                    html.Span(id=f"{prefix}rewind-range", className="rewind-range"),
                ],
                id=f"{prefix}rewind-panel", className="rewind-panel hidden",
            ),
            html.Div([html.Span(id=f"{prefix}rewind-banner-text"),
                      html.Button(t("rewind_live", lang), id=f"{prefix}rewind-live", n_clicks=0, className="btn rewind-live")],
                     id=f"{prefix}rewind-banner", className="rewind-banner hidden", role="status"),
        ],
        id=f"{prefix}rewind", className="rewind" if shown else "rewind hidden",
    )
