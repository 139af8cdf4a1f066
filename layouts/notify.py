"""The notification pages.

`/notify` (admins): five tabs — 值班表 (the duty roster: on duty now, the coming week's shifts, add
and remove a shift), 通讯录 (contacts and department groups, keys masked, and a test message),
路由 (routes and quiet hours), 静默 (silences) and 发送记录 (the sent log). `/duty` (operators,
leaders, dispatchers, admins): one card per unit with who is on duty now and next, phone numbers as
`tel:` links, and the silences in force (dispatchers and leaders may add and expire one there).

The silences panel is built twice, with the page's prefix (`notify-…`, `duty-…`), so both pages
can hold it; its callbacks are registered for each prefix.
"""

from __future__ import annotations

from dash import dcc, html

from ioc.domain.departments import all_departments
from ioc.domain.geo import CityMap
from ioc.i18n import t
from ioc.views.notify import (CHANNELS, CONTACT_CHANNELS, GROUP_CHANNELS, KINDS, RESULTS, ROLES, channel_options,
                              role_text, unit_options, word_options)

from .grids import ag_grid, screen_height

HIDDEN = {"display": "none"}
WIDE = {"minWidth": "220px"}
SINGLE = {"rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}}
DUTY_REFRESH_MS = 60_000  # the duty cards follow the clock: a shift change shows within a minute

SHIFT_COLUMNS = (("unit", "notify_col_unit"), ("role", "notify_col_role"), ("name", "notify_col_name"),
                 ("phone", "notify_col_phone"), ("starts", "notify_col_starts"), ("ends", "notify_col_ends"),
                 ("state", "notify_col_state"))
CONTACT_COLUMNS = (("name", "notify_col_name"), ("department", "notify_col_department"), ("title", "notify_col_title"),
                   ("phone", "notify_col_phone"), ("email", "notify_col_email"), ("channels", "notify_col_channels"))
GROUP_COLUMNS = (("name", "notify_col_group"), ("unit", "notify_col_unit"), ("channel", "notify_col_channel"),
                 ("key", "notify_col_key"), ("secret", "notify_col_secret"), ("mentions", "notify_col_mentions"))
ROUTE_COLUMNS = (("name", "notify_col_route"), ("kinds", "notify_col_kinds"), ("severities", "notify_col_severities"),
                 ("departments", "notify_col_departments"), ("targets", "notify_col_targets"),
                 ("channels", "notify_col_channels"), ("window", "notify_col_window"), ("repeat", "notify_col_repeat"),
                 ("quiet", "notify_col_quiet"), ("enabled", "notify_col_enabled"))
SILENCE_COLUMNS = (("state", "notify_col_state"), ("matches", "notify_col_matches"), ("starts", "notify_col_from"),
                   ("ends", "notify_col_to"), ("by", "notify_col_by"), ("comment", "notify_col_comment"))
LOG_COLUMNS = (("at", "notify_col_at"), ("kind", "notify_col_kind"), ("subject", "notify_col_subject"),
               ("to", "notify_col_to_whom"), ("channel", "notify_col_channel"), ("result", "notify_col_result"),
               ("attempts", "notify_col_attempts"), ("reason", "notify_col_reason"), ("text", "notify_col_text"))


def _grid(grid_id: str, spec, lang: str, row_id: str = "id", height: str = screen_height(34), **props):
    columns = [{"field": f, "headerName": t(k, lang), "minWidth": 90} for f, k in spec]
    return ag_grid(grid_id, columns, lang, t("notify_no_rows", lang), SINGLE, getRowId=f"params.data.{row_id}",
                   defaultColDef={"sortable": True, "resizable": True, "filter": True}, style={"height": height},
                   className="notify-grid", **props)


def _dropdown(element_id: str, options: list[dict], placeholder: str, multi: bool = False, value=None) -> dcc.Dropdown:
    return dcc.Dropdown(id=element_id, options=options, value=value if value is not None else ([] if multi else None),
                        multi=multi, placeholder=placeholder, className="dash-dropdown", style=WIDE)


def _input(element_id: str, placeholder: str, max_length: int = 80, kind: str = "text", **props) -> dcc.Input:
    return dcc.Input(id=element_id, type=kind, placeholder=placeholder, maxLength=max_length, autoComplete="off",
                     className="notify-input", **props)


def _button(element_id: str, label: str, danger: bool = False) -> html.Button:
    return html.Button(label, id=element_id, n_clicks=0, className="btn danger" if danger else "btn")


def _row(*children) -> html.Div:
    return html.Div(list(children), className="form-row")


def _selected(prefix: str, lang: str) -> html.Span:
    return html.Span([f"{t('notify_selected', lang)}: ", html.B(t("notify_none_selected", lang), id=f"{prefix}-selected")],
                     className="notify-selected")


# ---- silences (both pages) ----------------------------------------------------------------------

def silence_panel(prefix: str, lang: str, city: CityMap) -> html.Section:
    """The silences: the list (active, upcoming, expired) and, for those who may, a form to add one
    and a button to expire the selected one. Ids `<prefix>-silence-…`."""
    p = f"{prefix}-silence"
    departments = all_departments(city)
    form = html.Div(
        [
            _row(_dropdown(f"{p}-kind", word_options("kind", KINDS, lang), t("notify_matcher_kind", lang)),
                 _dropdown(f"{p}-department", unit_options(departments, lang, dispatch=False)[1:], t("notify_matcher_department", lang)),
                 _dropdown(f"{p}-district", [{"label": d.name(lang), "value": d.id} for d in city.districts],
                           t("notify_matcher_district", lang)),
                 _input(f"{p}-subject", t("notify_silence_subject_hint", lang), 80, style={"width": "340px"})),
            _row(html.Label([t("notify_from", lang), _input(f"{p}-from", "2026-12-06 08:00", 16)], className="notify-label"),
                 html.Label([t("notify_to", lang), _input(f"{p}-to", "2026-12-06 12:00", 16)], className="notify-label"),
                 _input(f"{p}-comment", t("notify_silence_comment", lang), 200, style={"width": "340px"})),
            _row(_button(f"{p}-add", t("notify_silence_add", lang)), _selected(p, lang),
                 _button(f"{p}-expire", t("notify_silence_expire", lang), danger=True)),
            html.P(t("notify_silence_note", lang), className="note"),
        ],
        id=f"{p}-form", style=HIDDEN if prefix == "duty" else None,
    )
    return html.Section(
        [html.H3(t("notify_silences", lang)), _grid(f"{p}-grid", SILENCE_COLUMNS, lang, height=screen_height(28)), form,
         html.Div(id=f"{p}-message", className="message"), dcc.Store(id=f"{p}-changed", data=0)],
        className="notify-silences",
    )


# ---- /duty --------------------------------------------------------------------------------------

def duty_page(lang: str, city: CityMap) -> html.Div:
    return html.Div(
        [
            html.H2(t("notify_duty_heading", lang)),
            html.P(t("notify_duty_note", lang), className="note"),
            html.Div(id="duty-message", className="message"),
            html.Div(id="duty-cards", className="duty-cards"),
            silence_panel("duty", lang, city),
            dcc.Interval(id="duty-tick", interval=DUTY_REFRESH_MS),
        ],
        className="notify-page duty-page", id="duty-page",
    )


def duty_card_children(card, lang: str) -> list:
    """One unit's card: on duty now (role, name, tel: link) and the next shift."""
    def person(p, when: str) -> html.Li:
        phone = html.A(p.phone, href=p.href, className="duty-phone") if p.href else html.Span(t("notify_no_phone", lang))
        return html.Li([html.Div([html.Span(p.role, className="duty-role"), html.B(p.name),
                                  html.Span(p.title, className="duty-title")], className="duty-who"),
                        html.Div([phone, html.Span(when, className="duty-when")], className="duty-reach")])

    now = [person(p, t("notify_until", lang).format(at=p.ends)) for p in card.now]
    upcoming = [person(p, t("notify_from_at", lang).format(at=p.starts)) for p in card.next]
    return [
        html.H3(card.name),
        html.Div(t("notify_now", lang), className="duty-label"),
        html.Ul(now) if now else html.P(t("notify_nobody_now", lang), className="duty-none"),
        html.Div(t("notify_next", lang), className="duty-label"),
        html.Ul(upcoming, className="duty-next") if upcoming else html.P(t("notify_nobody_next", lang), className="duty-none"),
    ]


def duty_cards(cards, lang: str) -> list:
    return [html.Div(duty_card_children(card, lang), className="duty-card", id=f"duty-card-{card.unit}") for card in cards]


# ---- /notify ------------------------------------------------------------------------------------

def _roster_tab(lang: str, city: CityMap) -> html.Div:
    units = unit_options(all_departments(city), lang)
    return html.Div(
        [
            html.H3(t("notify_on_duty_now", lang)),
            html.Div(id="notify-duty-cards", className="duty-cards"),
            html.H3(t("notify_week", lang)),
            _grid("notify-shift-grid", SHIFT_COLUMNS, lang, row_id="key"),
            _row(_dropdown("notify-shift-unit", units, t("notify_col_unit", lang)),
                 _dropdown("notify-shift-contact", [], t("notify_col_name", lang)),
                 dcc.Dropdown(id="notify-shift-role", options=[{"label": role_text(r, lang), "value": r} for r in ROLES], value=ROLES[1],
                              clearable=False, className="dash-dropdown", style={"minWidth": "140px"})),
            _row(html.Label([t("notify_from", lang), _input("notify-shift-from", "2026-12-06 08:00", 16)], className="notify-label"),
                 html.Label([t("notify_to", lang), _input("notify-shift-to", "2026-12-06 20:00", 16)], className="notify-label")),
            _row(_button("notify-shift-add", t("notify_shift_add", lang)), _selected("notify-shift", lang),
                 _button("notify-shift-remove", t("notify_shift_remove", lang), danger=True)),
            html.Div(id="notify-shift-message", className="message"),
        ],
        className="notify-tab",
    )


def _contacts_tab(lang: str, city: CityMap) -> html.Div:
    departments = all_departments(city)
    contacts = html.Section(
        [
            html.H3(t("notify_contacts", lang)),
            _grid("notify-contact-grid", CONTACT_COLUMNS, lang),
            _row(_input("notify-contact-name", t("notify_col_name", lang), 40),
                 _input("notify-contact-phone", t("notify_col_phone", lang), 20, kind="tel"),
                 _input("notify-contact-email", t("notify_col_email", lang), 120, kind="email"),
                 _dropdown("notify-contact-department", unit_options(departments, lang, dispatch=False), t("notify_col_department", lang)),
                 _input("notify-contact-title", t("notify_col_title", lang), 40)),
            _row(dcc.Checklist(id="notify-contact-channels", options=channel_options(CONTACT_CHANNELS, lang), value=["sms"],
                               inline=True, className="notify-checks"),
                 _button("notify-contact-add", t("notify_add", lang)), _selected("notify-contact", lang),
                 _button("notify-contact-save", t("notify_save", lang)),
                 _button("notify-contact-remove", t("notify_remove", lang), danger=True)),
            html.Div(id="notify-contact-message", className="message"),
        ],
    )
    groups = html.Section(
        [
            html.H3(t("notify_groups", lang)),
            _grid("notify-group-grid", GROUP_COLUMNS, lang),
            _row(_input("notify-group-name", t("notify_col_group", lang), 60),
                 _dropdown("notify-group-unit", unit_options(departments, lang), t("notify_col_unit", lang)),
                 _dropdown("notify-group-channel", channel_options(GROUP_CHANNELS, lang), t("notify_col_channel", lang))),
            _row(_input("notify-group-key", t("notify_key_hint", lang), 2000, kind="password", style={"minWidth": "300px"}),
                 _input("notify-group-secret", t("notify_secret_hint", lang), 200, kind="password", style={"minWidth": "240px"}),
                 _input("notify-group-mentions", t("notify_mentions_hint", lang), 200)),
            _row(_button("notify-group-add", t("notify_add", lang)), _selected("notify-group", lang),
                 _button("notify-group-save", t("notify_save", lang)),
                 _button("notify-group-remove", t("notify_remove", lang), danger=True)),
            html.P(t("notify_key_note", lang), className="note"),
            html.Div(id="notify-group-message", className="message"),
        ],
    )
    test = html.Section(
        [
            html.H3(t("notify_test", lang)),
            _row(_dropdown("notify-test-target", [], t("notify_test_target", lang)),
                 _input("notify-test-text", t("notify_test_text", lang), 200, style={"minWidth": "320px"}),
                 _button("notify-test-send", t("notify_test_send", lang))),
            html.P(t("notify_test_note", lang), className="note"),
            html.Div(id="notify-test-message", className="message"),
        ],
    )
    return html.Div([contacts, groups, test], className="notify-tab")


def _routes_tab(lang: str) -> html.Div:
    return html.Div(
        [
            html.H3(t("notify_routes", lang)),
            _grid("notify-route-grid", ROUTE_COLUMNS, lang),
            _row(_selected("notify-route", lang),
                 html.Label([t("notify_col_window", lang), _input("notify-route-window", t("notify_seconds_hint", lang), 6, kind="number",
                                                                   min=0, max=3600)], className="notify-label"),
                 html.Label([t("notify_col_repeat", lang), _input("notify-route-repeat", t("notify_minutes_hint", lang), 6, kind="number",
                                                                   min=0, max=10080)], className="notify-label"),
                 dcc.Checklist(id="notify-route-quiet", options=[{"label": t("notify_route_quiet", lang), "value": "quiet"}], value=[],
                               className="notify-checks")),
            _row(_button("notify-route-save", t("notify_save", lang)), _button("notify-route-enable", t("notify_enable", lang)),
                 _button("notify-route-disable", t("notify_disable", lang), danger=True)),
            html.Div(id="notify-route-message", className="message"),
            html.H3(t("notify_quiet_hours", lang)),
            html.P(id="notify-quiet-current", className="note"),
            _row(html.Label([t("notify_quiet_start", lang), _input("notify-quiet-start", "22:00", 5)], className="notify-label"),
                 html.Label([t("notify_quiet_end", lang), _input("notify-quiet-end", "07:00", 5)], className="notify-label"),
                 _button("notify-quiet-save", t("notify_save", lang)), _button("notify-quiet-clear", t("notify_quiet_clear", lang), danger=True)),
            html.P(t("notify_quiet_note", lang), className="note"),
            html.Div(id="notify-quiet-message", className="message"),
        ],
        className="notify-tab",
    )


def _log_tab(lang: str) -> html.Div:
    results = word_options("result", RESULTS, lang)
    return html.Div(
        [
            _row(_dropdown("notify-log-channel", channel_options(CHANNELS, lang), t("notify_col_channel", lang)),
                 _dropdown("notify-log-result", results, t("notify_col_result", lang)),
                 _button("notify-log-refresh", t("notify_refresh", lang))),
            _grid("notify-log-grid", LOG_COLUMNS, lang, row_id="row", height=screen_height(46)),
            html.Div(id="notify-log-detail", className="notify-detail"),
        ],
        className="notify-tab",
    )


def notify_page(lang: str, city: CityMap) -> html.Div:
    tabs = dcc.Tabs(
        id="notify-tabs", value="roster", className="notify-tabs", parent_className="notify-tabs-parent",
        children=[
            dcc.Tab(_roster_tab(lang, city), label=t("notify_tab_roster", lang), value="roster", id="notify-tab-roster",
                    className="notify-tab-label", selected_className="notify-tab-selected"),
            dcc.Tab(_contacts_tab(lang, city), label=t("notify_tab_contacts", lang), value="contacts", id="notify-tab-contacts",
                    className="notify-tab-label", selected_className="notify-tab-selected"),
            dcc.Tab(_routes_tab(lang), label=t("notify_tab_routes", lang), value="routes", id="notify-tab-routes",
                    className="notify-tab-label", selected_className="notify-tab-selected"),
            dcc.Tab(silence_panel("notify", lang, city), label=t("notify_tab_silences", lang), value="silences",
                    id="notify-tab-silences", className="notify-tab-label", selected_className="notify-tab-selected"),
            dcc.Tab(_log_tab(lang), label=t("notify_tab_log", lang), value="log", id="notify-tab-log",
                    className="notify-tab-label", selected_className="notify-tab-selected"),
        ],
    )
    return html.Div(
        [
            html.H2(t("notify_heading", lang)),
            html.P(t("notify_note", lang), className="note"),
            html.Div([_button("notify-refresh", t("notify_refresh", lang)), html.Span(id="notify-load-message", className="message")],
                     className="form-row"),
            tabs,
            dcc.Store(id="notify-roster-changed", data=0),
            dcc.Store(id="notify-routes-changed", data=0),
        ],
        className="notify-page", id="notify-page",
    )
