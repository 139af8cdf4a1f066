"""One device's rewind (设备回溯, `/device/<id>`): the device in words, its alarms from the record,
and its readings over a window around an alarm (`callbacks.device`, `ioc.views.device_rewind`).

Every component is in the page always (the validation layout holds them); without a record
(no DATABASE_URL) the page says so and hides the rest."""

from __future__ import annotations

from urllib.parse import unquote

from dash import dcc, html

from ioc.i18n import t
from ioc.views.device_rewind import SPANS_H

HIDDEN = {"display": "none"}


def device_page(device_id: str, lang: str, has_record: bool) -> html.Div:
    """The page of `device_id` as it stands in the URL path (percent-escaped: `ioc.views.device_rewind.device_path`)."""
    device_id = unquote(device_id)
    spans = [html.Button(t("device_span", lang).format(hours=h), id=f"device-span-{h}", n_clicks=0, className="btn device-span",
                         title=t("device_span_title", lang).format(hours=h)) for h in SPANS_H]
    controls = html.Div(
        [html.Button(t("device_earlier", lang), id="device-earlier", n_clicks=0, className="btn"),
         html.Button(t("device_later", lang), id="device-later", n_clicks=0, className="btn"), *spans],
        className="device-controls", role="group",
    )
    pager = html.Div(
        [html.Button(t("device_alarms_newer", lang), id="device-alarms-newer", n_clicks=0, className="btn", disabled=True),
         html.Span(id="device-alarms-page", className="device-alarms-page", role="status"),
         html.Button(t("device_alarms_older", lang), id="device-alarms-older", n_clicks=0, className="btn", disabled=True)],
        className="device-pager", role="group",
    )
    body = html.Div(
        [
            html.Div(
                [html.H2(t("device_heading", lang), id="device-title"), html.Dl(id="device-facts", className="case-facts device-facts")],
                className="device-head",
            ),
            html.Div(
                [
                    html.Section(
                        [html.H3(t("device_alarms", lang)), html.Div(t("device_alarms_hint", lang), className="note"),
                         html.Div(id="device-alarms", className="device-alarms"), pager],
                        className="device-col device-alarms-box",
                    ),
                    html.Section(
                        [html.H3(t("device_readings", lang)), controls,
                         html.Div(id="device-window-text", className="device-window-text", role="status"),
                         html.Div(id="device-note", className="note device-note"),
                         dcc.Loading(html.Div(id="device-charts", className="device-charts"), type="dot", color="#4cc9f0")],
                        className="device-col device-readings",
                    ),
                ],
                className="device-body",
            ),
        ],
        style=None if has_record else HIDDEN,
    )
    return html.Div(
        [
            dcc.Store(id="device-id", data=device_id),
            dcc.Store(id="device-window", data=None),  # {"from", "to", "focus"}: what the charts show
            # {"kind", "alarms", "total", "page"}: the device's kind, the listed page of its alarms as the
            # record gave them, how many it has and which page (0: the newest) is listed
            dcc.Store(id="device-data", data=None),
            dcc.Store(id="device-search", data=None),  # the address's query that keeps the window and the page
            dcc.Store(id="device-search-kept", data=None),
            html.Div(t("device_no_record", lang), id="device-no-record", className="forbidden",
                     style=HIDDEN if has_record else None),
            body,
        ],
        className="page device-page", id="device-page",
    )
