"""The leader cockpit (领导驾驶舱, /cockpit): phone first, one column of cards; on a wide screen
the sections sit side by side. Filled by callbacks/cockpit.py from `ioc.views.cockpit`."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t

COCKPIT_REFRESH_MS = 10_000  # the figures move with the city; a leader's phone need not poll every 2 s


def section(section_id: str, heading: str) -> html.Section:
    return html.Section([html.H3(heading), html.Div(id=section_id, className="cockpit-list")], className="cockpit-section")


def cockpit_page(lang: str) -> html.Div:
    return html.Div(
        [
            dcc.Interval(id="cockpit-tick", interval=COCKPIT_REFRESH_MS, n_intervals=0),
            dcc.Store(id="cockpit-changed", data=0),
            html.Div([html.H2(t("cockpit_heading", lang)), html.Span("", id="cockpit-updated", className="note")],
                     className="cockpit-head"),
            html.Div("", id="cockpit-summary", className="cockpit-summary"),
            # the result of a 督办, where the thumb is (fixed above the bottom edge on a phone)
            html.Div("", id="cockpit-message", className="message cockpit-message", role="status", **{"aria-live": "polite"}),
            html.Div(
                [
                    html.Section([html.H3(t("cockpit_city", lang)), html.Div(id="cockpit-city", className="cockpit-figures")],
                                 className="cockpit-section"),
                    section("cockpit-cases", t("cockpit_cases", lang)),
                    section("cockpit-alarms", t("cockpit_alarms", lang)),
                    section("cockpit-events", t("cockpit_events", lang)),
                    section("cockpit-districts", t("cockpit_districts", lang)),
                ],
                className="cockpit-body",
            ),
        ],
        className="case-page cockpit-page", id="cockpit-page",
    )


# ---- the cards (built by the callbacks from the view model's rows) ------------------------------

def figure_cards(figures) -> list:
    return [html.Div([html.Div(f.label, className="kpi-label"), html.Div(f.value, className="kpi-value"),
                      html.Div(f.sub, className="kpi-sub")],
                     className="kpi-card cockpit-figure" + (" alert" if f.alert else ""), id=f"cockpit-{f.key}")
            for f in figures]


def empty(key: str, lang: str) -> html.Div:
    return html.Div(t(key, lang), className="note cockpit-empty")


def _lines(pairs) -> html.Div:
    """(label, value) pairs, each a small label over its figure."""
    return html.Div([html.Div([html.Span(label, className="cockpit-line-label"), html.Span(value, className="cockpit-line-value")],
                              className="cockpit-line") for label, value in pairs], className="cockpit-lines")


def district_cards(cards: list[dict]) -> list:
    return [dcc.Link([html.Div(c["name"], className="cockpit-card-title"), _lines(c["figures"])], href=c["href"],
                     className="cockpit-card cockpit-district" + (" alert" if c["alert"] else ""), id=f"cockpit-district-{c['id']}")
            for c in cards]


def alarm_cards(cards: list[dict], lang: str) -> list:
    out = []
    for c in cards:
        foot = []
        if c["escalation"]:
            foot.append(html.Span(c["escalation"], className="b-esc"))
        if c["acked_by"]:
            foot.append(html.Span(t("cockpit_acked_by", lang).format(who=c["acked_by"]), className="b-ack"))
        if c["event_href"]:
            foot.append(dcc.Link(t("cockpit_in_event", lang).format(event=c["event_id"]), href=c["event_href"],
                                 className="cockpit-link"))
        out.append(html.Div([
            html.Div([html.Span(c["severity_text"], className=f"t-sev {c['severity']}"), html.Span(c["rule"], className="cockpit-card-title"),
                      html.Span(c["since"], className="t-time")], className="cockpit-card-head"),
            html.Div(" · ".join(p for p in (c["district"], c["device"], c["reading"]) if p), className="cockpit-card-text"),
            html.Div(foot, className="cockpit-card-foot") if foot else None,
        ], className="cockpit-card cockpit-alarm" + (" escalated" if c["escalation"] else "")))
    return out


def event_cards(cards: list[dict], lang: str) -> list:
    return [dcc.Link([
        html.Div([html.Span(c["headline"], className=f"ev-headline level-{c['level']}"),
                  html.Span(c["status"], className=f"ev-status status-{c['status_id']}")], className="cockpit-card-head"),
        html.Div(c["title"], className="cockpit-card-title"),
        html.Div(" · ".join(p for p in (c["districts"], c["commander"], c["elapsed"]) if p), className="cockpit-card-text"),
        html.Div([html.Span(c["tasks"]), html.Span(t("cockpit_overdue_tasks", lang).format(n=c["overdue"]), className="case-overdue")
                  if c["overdue"] else None, html.Span(c["linked"], className="note")], className="cockpit-card-foot"),
    ], href=c["href"], className="cockpit-card cockpit-event", id=f"cockpit-event-{c['id']}") for c in cards]


def case_cards(rows: list[dict], lang: str) -> list:
    return [html.Div([
        html.Div([dcc.Link(r["id"], href=r["href"], className="cockpit-link"), html.Span(r["over"], className="case-overdue")],
                 className="cockpit-card-head"),
        html.Div(f"{r['class']} · {r['district']}" + (f" · {r['address']}" if r["address"] else ""), className="cockpit-card-title"),
        html.Div(f"{r['department']} · {r['stage']} · {r['urges']}", className="cockpit-card-text"),
        html.Button(t("cockpit_urge", lang), id={"type": "cockpit-urge", "case": r["id"]}, n_clicks=0, className="btn cockpit-urge"),
    ], className="cockpit-card cockpit-case", id=f"cockpit-case-{r['id']}") for r in rows]
