"""Callbacks of the notification pages: `/duty` and `/notify`.

Reads run under the page's view permission (`view:duty`, `view:notify`); roster, route, quiet-hour
changes and test messages under `notify:manage` (admins); silences under `notify:silence` (admins,
dispatchers, leaders), on both pages. Every change goes through its store, which writes it with its
audit entry, as the signed-in person; a refused change says why in the page language. Robot keys
and secrets stay on the server: the rows carry masked forms, and an edit without a new key keeps
the stored one. Rows, texts and the small rules come from `ioc.views.notify`.
"""

from __future__ import annotations

import time

from dash import Input, Output, State, ctx, html, no_update
from flask import current_app

from ioc.domain.access import allowed
from ioc.domain.departments import all_departments, department_ids
from ioc.i18n import resolve_lang, t
from ioc.views import notify as view
from ioc.web.auth import client_ip, current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.services import current_services
from layouts.notify import duty_cards

HIDDEN = {"display": "none"}
SHOWN: dict = {}
LOG_ROWS = 500  # the sent log shows the newest this many deliveries
SILENCE_DEFAULT_MS = 2 * 3_600_000  # a new silence's form proposes two hours from now


# ---- the stores, one per process ------------------------------------------------------------------

def roster_store():
    """The roster store of this process (the city's departments are the units it accepts)."""
    from ioc.adapters.roster_store import RosterStore

    ext = current_app.extensions
    if "ioc_roster_store" not in ext:
        services = current_services()
        ext["ioc_roster_store"] = RosterStore(services.redis, department_ids(services.city))
    return ext["ioc_roster_store"]


def notify_store():
    from ioc.adapters.notify_store import NotifyStore

    ext = current_app.extensions
    if "ioc_notify_store" not in ext:
        ext["ioc_notify_store"] = NotifyStore(current_services().redis)
    return ext["ioc_notify_store"]


def lang_of(lang) -> str:
    return resolve_lang(lang, current_services().settings.lang)


def departments() -> dict:
    return {d.id: d for d in all_departments(current_services().city)}


def district_names(lang: str) -> dict[str, str]:
    return {d.id: d.name(lang) for d in current_services().city.districts}


def now_ms() -> int:
    return int(time.time() * 1000)


def actor(permission: str) -> tuple[str, str, str]:
    """(name, acting role, ip) of the signed-in person doing `permission`."""
    p = current_principal()
    return p.name, p.acting_role(permission), client_ip()


# ---- /duty --------------------------------------------------------------------------------------

def load_duty(_tick, _changed, lang):
    """The duty cards, the silences, and the silence form for those who may add one."""
    lang = lang_of(lang)
    deps = departments()
    roster = roster_store().get()
    cards = view.duty_cards(roster, deps, all_departments(current_services().city), now_ms(), lang)
    silences = view.silence_rows(notify_store().silences(), deps, district_names(lang), now_ms(), lang)
    may_silence = allowed(current_principal(), "notify:silence")
    return duty_cards(cards, lang), silences, SHOWN if may_silence else HIDDEN


# ---- /notify: reads -----------------------------------------------------------------------------

def load_roster(_changed, _refresh, lang):
    """Everything the roster and contacts tabs show, read again after every change."""
    lang = lang_of(lang)
    deps, at = departments(), now_ms()
    roster = roster_store().get()
    cards = view.duty_cards(roster, deps, all_departments(current_services().city), at, lang)
    return (duty_cards(cards, lang), view.shift_rows(roster, deps, at, lang), view.contact_rows(roster, deps, lang),
            view.group_rows(roster, deps, lang), view.contact_options(roster, deps, lang),
            view.target_options(roster, deps, lang))


def load_routes(_changed, _refresh, lang):
    lang = lang_of(lang)
    config = notify_store().routes()
    names = view.roster_names(roster_store().get())
    quiet = config.quiet_hours
    shown = quiet if getattr(quiet, "enabled", True) else None
    return (view.route_rows(config.routes, departments(), names, lang), view.quiet_text(shown, lang),
            quiet.start if shown else no_update, quiet.end if shown else no_update)


def load_silences(_changed, _refresh, lang):
    lang = lang_of(lang)
    return view.silence_rows(notify_store().silences(), departments(), district_names(lang), now_ms(), lang)


def load_log(_refresh, channel, result, _tab, lang):
    lang = lang_of(lang)
    names = view.roster_names(roster_store().get())
    return view.log_rows(notify_store().log(count=LOG_ROWS), names, lang, channel or "", result or "")


def log_detail(rows, lang):
    """The selected delivery's whole message, with a link to its case or event."""
    lang = lang_of(lang)
    if not rows:
        return html.P(t("notify_detail_pick", lang), className="note")
    row = rows[0]
    parts = [html.Div(f"{row.get('at', '')} · {row.get('to', '')} · {row.get('channel', '')} · {row.get('result', '')}",
                      className="notify-detail-head")]
    if row.get("title"):
        parts.append(html.B(row["title"]))
    parts.append(html.Pre(row.get("text", ""), className="notify-detail-text"))
    if row.get("reason"):
        parts.append(html.Div(f"{t('notify_col_reason', lang)}：{row['reason']}" if lang == "zh"
                              else f"{t('notify_col_reason', lang)}: {row['reason']}"))
    if row.get("link"):
        parts.append(html.A(t("notify_detail_open", lang).format(what=row.get("subject", "")), href=row["link"],
                            className="case-link"))
    return parts


def fit_columns(_rows):
    """Once rows are shown, each column as wide as its contents."""
    return "autoSize"


def pick_contact(rows, lang):
    if not rows:
        return t("notify_none_selected", lang_of(lang)), no_update, no_update, no_update, no_update, no_update, no_update
    r = rows[0]
    return r["name"], r["name"], r.get("phone", ""), r.get("email", ""), r.get("department_id") or view.CENTER, r.get("title", ""), \
        r.get("channel_ids", [])


def pick_group(rows, lang):
    """The group's fields in the form; the key and secret fields stay empty (typing one replaces it)."""
    if not rows:
        return t("notify_none_selected", lang_of(lang)), no_update, no_update, no_update, no_update, "", ""
    r = rows[0]
    return r["name"], r["name"], r.get("unit_id") or view.CENTER, r.get("channel_id"), r.get("mentions", "").replace("、", ","), "", ""


def pick_route(rows, lang):
    if not rows:
        return t("notify_none_selected", lang_of(lang)), no_update, no_update, no_update
    r = rows[0]
    return r["name"], r.get("window_s", 0), r.get("repeat_min", 0), ["quiet"] if r.get("quiet_on") else []


def pick_shift(rows, lang):
    if not rows:
        return t("notify_none_selected", lang_of(lang))
    r = rows[0]
    return f"{r.get('unit', '')} {r.get('name', '')} {r.get('starts', '')}"


# ---- /notify: roster changes --------------------------------------------------------------------

def _save_roster(data: dict, lang: str, done: str):
    """Check `data` (the roster's JSON form) and store it as the acting admin; the message to show."""
    from ioc.adapters.roster_store import RosterConflict
    from ioc.domain.roster import RosterError, validate_roster

    store = roster_store()
    try:
        roster = validate_roster(data, store.departments)
        name, role, ip = actor("notify:manage")
        store.put(roster, name, ip, role=role, expected_version=data.get("version"))
    except RosterError as e:
        return f"{t('notify_failed', lang)}: {view.roster_error_text(e, data, departments(), lang)}", False
    except RosterConflict:
        return t("notify_roster_conflict", lang), True
    return done, True


def _current() -> dict:
    """The stored roster's JSON form (with its keys: it never leaves the server) and its version."""
    roster, version = roster_store().get_with_version()
    return {**roster.to_dict(), "version": version}


@notice_in("notify-contact-message")
def change_contact(_add, _save, _remove, name, phone, email, department, title, channels, rows, changed, lang):
    """Add, save or remove a contact, as the signed-in admin."""
    lang = lang_of(lang)
    action = str(ctx.triggered_id or "").removeprefix("notify-contact-")
    target = rows[0]["id"] if rows else None
    if action != "add" and not target:
        return t("notify_select_contact", lang), no_update
    data = _current()
    if action == "remove":
        count = view.contact_shift_count(data, target)
        if count:
            return f"{t('notify_failed', lang)}: " + t("notify_contact_in_use", lang).format(name=rows[0]["name"], count=count), no_update
        message, ok = _save_roster(view.without_contact(data, target), lang,
                                   t("notify_contact_removed", lang).format(name=rows[0]["name"]))
        return message, (changed or 0) + 1 if ok else no_update
    fields = view.contact_form(name, phone, email, department, title, channels)
    new_data, _ = view.with_contact(data, fields, None if action == "add" else target)
    key = "notify_contact_added" if action == "add" else "notify_contact_saved"
    message, ok = _save_roster(new_data, lang, t(key, lang).format(name=fields["name"]))
    return message, (changed or 0) + 1 if ok else no_update


@notice_in("notify-group-message")
def change_group(_add, _save, _remove, name, unit, channel, key, secret, mentions, rows, changed, lang):
    """Add, save or remove a department group; its key and secret are replaced only when given."""
    lang = lang_of(lang)
    action = str(ctx.triggered_id or "").removeprefix("notify-group-")
    target = rows[0]["id"] if rows else None
    if action != "add" and not target:
        return t("notify_select_group", lang), no_update, no_update, no_update
    data = _current()
    if action == "remove":
        message, ok = _save_roster(view.without_group(data, target), lang, t("notify_group_removed", lang).format(name=rows[0]["name"]))
        return message, "", "", (changed or 0) + 1 if ok else no_update
    fields = view.group_form(name, unit, channel, key, secret, mentions)
    if not fields["channel"]:
        return f"{t('notify_failed', lang)}: {t('notify_need_channel', lang)}", no_update, no_update, no_update
    if action == "add" and not fields["key"]:
        return f"{t('notify_failed', lang)}: {t('notify_need_key', lang)}", no_update, no_update, no_update
    new_data, _ = view.with_group(data, fields, None if action == "add" else target)
    done = t("notify_group_added" if action == "add" else "notify_group_saved", lang).format(name=fields["name"])
    message, ok = _save_roster(new_data, lang, done)
    # the typed key and secret are cleared once stored: they are never shown again
    return message, "" if ok else no_update, "" if ok else no_update, (changed or 0) + 1 if ok else no_update


@notice_in("notify-shift-message")
def change_shift(_add, _remove, unit, contact_id, role, starts, ends, rows, changed, lang):
    """Add a shift, or remove the selected one."""
    lang = lang_of(lang)
    deps = departments()
    data = _current()
    if ctx.triggered_id == "notify-shift-remove":
        if not rows:
            return t("notify_select_shift", lang), no_update
        new_data, removed = view.without_shift(data, rows[0]["key"])
        if removed is None:
            return t("notify_roster_conflict", lang), (changed or 0) + 1
        message, ok = _save_roster(new_data, lang, t("notify_shift_removed", lang).format(unit=rows[0]["unit"], name=rows[0]["name"]))
        return message, (changed or 0) + 1 if ok else no_update
    if not unit:
        return f"{t('notify_failed', lang)}: {t('notify_need_unit', lang)}", no_update
    if not contact_id:
        return f"{t('notify_failed', lang)}: {t('notify_need_contact', lang)}", no_update
    start_ms, end_ms = view.parse_local(starts), view.parse_local(ends)
    for value, label in ((start_ms, "notify_from"), (end_ms, "notify_to")):
        if value is None:
            return f"{t('notify_failed', lang)}: " + t("notify_bad_time", lang).format(field=t(label, lang)), no_update
    if end_ms <= start_ms:
        return f"{t('notify_failed', lang)}: {t('notify_bad_span', lang)}", no_update
    names = {c["id"]: c["name"] for c in data.get("contacts", [])}
    done = t("notify_shift_added", lang).format(unit=view.unit_name(unit, deps, lang), name=names.get(contact_id, ""),
                                                starts=view.fmt_time(start_ms), ends=view.fmt_time(end_ms))
    message, ok = _save_roster(view.with_shift(data, unit, contact_id, start_ms, end_ms, role), lang, done)
    return message, (changed or 0) + 1 if ok else no_update


# ---- /notify: routes, quiet hours, a test message -----------------------------------------------

def _put_routes(config, lang: str, done: str):
    from ioc.domain.notify_routing import RoutingError

    from ioc.domain.notify_routing import config_to_dict

    name, role, ip = actor("notify:manage")
    try:
        notify_store().put_routes(config_to_dict(config), name, role=role, ip=ip)
    except RoutingError as e:
        return f"{t('notify_failed', lang)}: {e.reason}", False
    return done, True


@notice_in("notify-route-message")
def change_route(_save, _enable, _disable, window, repeat, quiet, rows, changed, lang):
    """Save the selected route's group window, repeat interval and quiet flag, or enable/disable it."""
    from dataclasses import replace

    from ioc.domain.notify_routing import GROUP_WINDOW_MAX_S, REPEAT_MAX_MIN

    lang = lang_of(lang)
    if not rows:
        return t("notify_select_route", lang), no_update
    config = notify_store().routes()
    route = next((r for r in config.routes if r.id == rows[0]["id"]), None)
    if route is None:
        return t("notify_roster_conflict", lang), (changed or 0) + 1
    action = str(ctx.triggered_id or "").removeprefix("notify-route-")
    if action == "save":
        checked = {}
        for value, label, high, field in ((window, "notify_col_window", GROUP_WINDOW_MAX_S, "group_window_s"),
                                          (repeat, "notify_col_repeat", REPEAT_MAX_MIN, "repeat_min")):
            number = view.whole_number(value, 0, high)
            if number is None:
                return f"{t('notify_failed', lang)}: " + t("notify_bad_number", lang).format(field=t(label, lang), low=0, high=high), no_update
            checked[field] = number
        new = replace(route, quiet="quiet" in (quiet or []), **checked)
        key = "notify_route_saved"
    else:
        new = replace(route, enabled=action == "enable")
        key = "notify_route_enabled" if action == "enable" else "notify_route_disabled"
    routes = tuple(new if r.id == route.id else r for r in config.routes)
    message, ok = _put_routes(replace(config, routes=routes), lang, t(key, lang).format(name=route.name))
    return message, (changed or 0) + 1 if ok else no_update


@notice_in("notify-quiet-message")
def change_quiet(_save, _clear, start, end, changed, lang):
    from dataclasses import replace

    from ioc.domain.notify_routing import NO_QUIET_HOURS, QuietHours

    lang = lang_of(lang)
    config = notify_store().routes()
    if ctx.triggered_id == "notify-quiet-clear":
        message, ok = _put_routes(replace(config, quiet_hours=NO_QUIET_HOURS), lang, t("notify_quiet_cleared", lang))
        return message, (changed or 0) + 1 if ok else no_update
    start, end = str(start or "").strip(), str(end or "").strip()
    for value, label in ((start, "notify_quiet_start"), (end, "notify_quiet_end")):
        if not view.valid_clock(value):
            return f"{t('notify_failed', lang)}: " + t("notify_bad_clock", lang).format(field=t(label, lang)), no_update
    start, end = view.clock_text(start), view.clock_text(end)
    if start == end:
        return f"{t('notify_failed', lang)}: {t('notify_bad_span', lang)}", no_update
    quiet = QuietHours(start, end, config.quiet_hours.days if config.quiet_hours.enabled else (), True)
    message, ok = _put_routes(replace(config, quiet_hours=quiet), lang, t("notify_quiet_saved", lang).format(start=start, end=end))
    return message, (changed or 0) + 1 if ok else no_update


@notice_in("notify-test-message")
def send_test(_send, target, text, lang):
    """Queue a test message (intent kind `test`) to one group or contact through the notifier."""
    lang = lang_of(lang)
    if not target:
        return t("notify_select_target", lang)
    names = view.roster_names(roster_store().get())
    if target not in names:
        return t("notify_roster_conflict", lang)
    name, role, ip = actor("notify:manage")
    intent = view.test_intent(target, str(text or "").strip() or t("notify_test_default", lang), name, now_ms())
    entry = notify_store().add_intent(intent)
    current_services().audit.record(name, role, "notify.test", intent.subject, "ok", ip, {"target": target, "outbox": entry})
    return t("notify_test_queued", lang).format(target=names[target])


# ---- silences (both pages) ----------------------------------------------------------------------

def silence_defaults(_changed):
    """The form proposes a window from now, two hours long (China time)."""
    at = now_ms()
    return view.local_input(at).replace("T", " "), view.local_input(at + SILENCE_DEFAULT_MS).replace("T", " ")


def change_silence(prefix: str):
    """The add/expire callback of the silences panel `prefix` (`notify`, `duty`)."""

    @notice_in(f"{prefix}-silence-message")
    def change(_add, _expire, kind, department, district, subject, starts, ends, comment, rows, changed, lang):
        from ioc.domain.notify_routing import RoutingError

        lang = lang_of(lang)
        deps, districts = departments(), district_names(lang)
        name, role, ip = actor("notify:silence")
        store = notify_store()
        if ctx.triggered_id == f"{prefix}-silence-expire":
            if not rows:
                return t("notify_select_silence", lang), no_update
            if rows[0].get("state_id") == "expired":
                return t("notify_silence_already", lang), no_update
            try:
                store.expire_silence(rows[0]["id"], name, role=role, ip=ip)
            except KeyError:
                return t("notify_roster_conflict", lang), (changed or 0) + 1
            return t("notify_silence_expired_now", lang).format(matches=rows[0].get("matches", "")), (changed or 0) + 1
        at = now_ms()
        start_ms = view.parse_local(starts) if str(starts or "").strip() else at
        end_ms = view.parse_local(ends)
        for value, label in ((start_ms, "notify_from"), (end_ms, "notify_to")):
            if value is None:
                return f"{t('notify_failed', lang)}: " + t("notify_bad_time", lang).format(field=t(label, lang)), no_update
        if end_ms <= start_ms:
            return f"{t('notify_failed', lang)}: {t('notify_bad_span', lang)}", no_update
        if end_ms <= at:
            return f"{t('notify_failed', lang)}: {t('notify_past_end', lang)}", no_update
        if not str(comment or "").strip():
            return f"{t('notify_failed', lang)}: {t('notify_need_comment', lang)}", no_update
        matchers = view.silence_matchers(kind, department, district, subject)
        if not matchers:
            return f"{t('notify_failed', lang)}: {t('notify_err_matchers', lang)}", no_update
        try:
            store.add_silence({"matchers": matchers, "starts_at": start_ms, "ends_at": end_ms, "comment": str(comment).strip()},
                              name, role=role, ip=ip)
        except RoutingError as e:
            return f"{t('notify_failed', lang)}: {view.silence_error_text(e, lang)}", no_update
        matches = view.matchers_text(matchers, deps, districts, lang)
        return (t("notify_silence_added", lang).format(matches=matches, starts=view.fmt_time(start_ms), ends=view.fmt_time(end_ms)),
                (changed or 0) + 1)

    change.__name__ = f"change_silence_{prefix}"
    return change


def pick_silence(rows, lang):
    return f"{rows[0].get('state', '')} · {rows[0].get('matches', '')}" if rows else t("notify_none_selected", lang_of(lang))


# ---- registration -------------------------------------------------------------------------------

def register_silences(app, prefix: str, view_permission: str) -> None:
    p = f"{prefix}-silence"
    secured_callback(app, view_permission, Output(f"{p}-selected", "children"), Input(f"{p}-grid", "selectedRows"),
                     State("lang", "data"))(pick_silence)
    secured_callback(app, view_permission, Output(f"{p}-from", "value"), Output(f"{p}-to", "value"),
                     Input(f"{p}-changed", "data"))(silence_defaults)
    secured_callback(
        app, "notify:silence",
        Output(f"{p}-message", "children"), Output(f"{p}-changed", "data"),
        Input(f"{p}-add", "n_clicks"), Input(f"{p}-expire", "n_clicks"),
        State(f"{p}-kind", "value"), State(f"{p}-department", "value"), State(f"{p}-district", "value"),
        State(f"{p}-subject", "value"), State(f"{p}-from", "value"), State(f"{p}-to", "value"), State(f"{p}-comment", "value"),
        State(f"{p}-grid", "selectedRows"), State(f"{p}-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(change_silence(prefix))


def register(app, services) -> None:
    # /duty
    secured_callback(
        app, "view:duty",
        Output("duty-cards", "children"), Output("duty-silence-grid", "rowData"), Output("duty-silence-form", "style"),
        Input("duty-tick", "n_intervals"), Input("duty-silence-changed", "data"), State("lang", "data"),
    )(load_duty)
    register_silences(app, "duty", "view:duty")

    # /notify: reads
    secured_callback(
        app, "view:notify",
        Output("notify-duty-cards", "children"), Output("notify-shift-grid", "rowData"), Output("notify-contact-grid", "rowData"),
        Output("notify-group-grid", "rowData"), Output("notify-shift-contact", "options"), Output("notify-test-target", "options"),
        Input("notify-roster-changed", "data"), Input("notify-refresh", "n_clicks"), State("lang", "data"),
    )(load_roster)
    secured_callback(
        app, "view:notify",
        Output("notify-route-grid", "rowData"), Output("notify-quiet-current", "children"),
        Output("notify-quiet-start", "value"), Output("notify-quiet-end", "value"),
        Input("notify-routes-changed", "data"), Input("notify-refresh", "n_clicks"), State("lang", "data"),
    )(load_routes)
    secured_callback(app, "view:notify", Output("notify-silence-grid", "rowData"),
                     Input("notify-silence-changed", "data"), Input("notify-refresh", "n_clicks"), State("lang", "data"))(load_silences)
    secured_callback(
        app, "view:notify", Output("notify-log-grid", "rowData"),
        Input("notify-log-refresh", "n_clicks"), Input("notify-log-channel", "value"), Input("notify-log-result", "value"),
        Input("notify-tabs", "value"), State("lang", "data"),
    )(load_log)
    secured_callback(app, "view:notify", Output("notify-log-detail", "children"), Input("notify-log-grid", "selectedRows"),
                     State("lang", "data"))(log_detail)
    for grid in ("shift", "contact", "group", "route", "log"):
        secured_callback(app, "view:notify", Output(f"notify-{grid}-grid", "columnSize"), Input(f"notify-{grid}-grid", "rowData"),
                         prevent_initial_call=True)(fit_columns)
    secured_callback(
        app, "view:notify",
        Output("notify-contact-selected", "children"), Output("notify-contact-name", "value"), Output("notify-contact-phone", "value"),
        Output("notify-contact-email", "value"), Output("notify-contact-department", "value"), Output("notify-contact-title", "value"),
        Output("notify-contact-channels", "value"),
        Input("notify-contact-grid", "selectedRows"), State("lang", "data"),
    )(pick_contact)
    secured_callback(
        app, "view:notify",
        Output("notify-group-selected", "children"), Output("notify-group-name", "value"), Output("notify-group-unit", "value"),
        Output("notify-group-channel", "value"), Output("notify-group-mentions", "value"), Output("notify-group-key", "value"),
        Output("notify-group-secret", "value"),
        Input("notify-group-grid", "selectedRows"), State("lang", "data"),
    )(pick_group)
    secured_callback(
        app, "view:notify",
        Output("notify-route-selected", "children"), Output("notify-route-window", "value"), Output("notify-route-repeat", "value"),
        Output("notify-route-quiet", "value"),
        Input("notify-route-grid", "selectedRows"), State("lang", "data"),
    )(pick_route)
    secured_callback(app, "view:notify", Output("notify-shift-selected", "children"), Input("notify-shift-grid", "selectedRows"),
                     State("lang", "data"))(pick_shift)

    # /notify: changes (admins)
    secured_callback(
        app, "notify:manage",
        Output("notify-contact-message", "children"), Output("notify-roster-changed", "data", allow_duplicate=True),
        Input("notify-contact-add", "n_clicks"), Input("notify-contact-save", "n_clicks"), Input("notify-contact-remove", "n_clicks"),
        State("notify-contact-name", "value"), State("notify-contact-phone", "value"), State("notify-contact-email", "value"),
        State("notify-contact-department", "value"), State("notify-contact-title", "value"), State("notify-contact-channels", "value"),
        State("notify-contact-grid", "selectedRows"), State("notify-roster-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(change_contact)
    secured_callback(
        app, "notify:manage",
        Output("notify-group-message", "children"), Output("notify-group-key", "value", allow_duplicate=True),
        Output("notify-group-secret", "value", allow_duplicate=True), Output("notify-roster-changed", "data", allow_duplicate=True),
        Input("notify-group-add", "n_clicks"), Input("notify-group-save", "n_clicks"), Input("notify-group-remove", "n_clicks"),
        State("notify-group-name", "value"), State("notify-group-unit", "value"), State("notify-group-channel", "value"),
        State("notify-group-key", "value"), State("notify-group-secret", "value"), State("notify-group-mentions", "value"),
        State("notify-group-grid", "selectedRows"), State("notify-roster-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(change_group)
    secured_callback(
        app, "notify:manage",
        Output("notify-shift-message", "children"), Output("notify-roster-changed", "data", allow_duplicate=True),
        Input("notify-shift-add", "n_clicks"), Input("notify-shift-remove", "n_clicks"),
        State("notify-shift-unit", "value"), State("notify-shift-contact", "value"), State("notify-shift-role", "value"),
        State("notify-shift-from", "value"), State("notify-shift-to", "value"),
        State("notify-shift-grid", "selectedRows"), State("notify-roster-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(change_shift)
    secured_callback(
        app, "notify:manage",
        Output("notify-route-message", "children"), Output("notify-routes-changed", "data", allow_duplicate=True),
        Input("notify-route-save", "n_clicks"), Input("notify-route-enable", "n_clicks"), Input("notify-route-disable", "n_clicks"),
        State("notify-route-window", "value"), State("notify-route-repeat", "value"), State("notify-route-quiet", "value"),
        State("notify-route-grid", "selectedRows"), State("notify-routes-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(change_route)
    secured_callback(
        app, "notify:manage",
        Output("notify-quiet-message", "children"), Output("notify-routes-changed", "data", allow_duplicate=True),
        Input("notify-quiet-save", "n_clicks"), Input("notify-quiet-clear", "n_clicks"),
        State("notify-quiet-start", "value"), State("notify-quiet-end", "value"), State("notify-routes-changed", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )(change_quiet)
    secured_callback(
        app, "notify:manage", Output("notify-test-message", "children"),
        Input("notify-test-send", "n_clicks"), State("notify-test-target", "value"), State("notify-test-text", "value"),
        State("lang", "data"), prevent_initial_call=True,
    )(send_test)
    register_silences(app, "notify", "view:notify")
