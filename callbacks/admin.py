"""Callbacks of the users and API tokens page (admins only).

Reads run under `view:admin`; changes under `user:manage` / `token:manage`, as the acting admin
(the store writes each change with its audit entry). A change bumps a counter store, which
reloads both tables. Rows and small rules come from `ioc.views.admin`.
"""

from __future__ import annotations

from dash import Input, Output, State, ctx, html, no_update
from flask import request

from ioc.adapters.user_store import Actor, UserNotFound
from ioc.domain.accounts import AccountError
from ioc.domain.departments import all_departments
from ioc.i18n import resolve_lang, t
from ioc.views.admin import account_error_text, department_for, kiosk_link, selected, self_lockout, token_rows, user_rows
from ioc.web.auth import client_ip, current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.services import current_services

SHOWN: dict = {}
HIDDEN = {"display": "none"}


def secret_box(label: str, secret: str, note: str) -> list:
    """The children of a `.secret` box: what it is, the secret itself, and that it is shown once."""
    return [html.Div(label), html.Code(secret, className="secret-value"), html.Div(note)]


def _actor(permission: str) -> Actor:
    p = current_principal()
    return Actor(p.name, p.acting_role(permission), client_ip())


def lang_of(lang) -> str:
    return resolve_lang(lang, current_services().settings.lang)


def departments_of(city) -> dict:
    return {d.id: d for d in all_departments(city)}


def load(_users_changed, _tokens_changed, _refresh, lang):
    """Both tables, read again after every change."""
    services = current_services()
    lang, departments = lang_of(lang), departments_of(services.city)
    return user_rows(services.users.list(), departments, lang), token_rows(services.users.tokens(), departments, lang), ""


def fit_columns(_users, _tokens):
    """Once rows are shown, each column as wide as its contents: a long name whole, an empty column narrow."""
    return "autoSize", "autoSize"


def pick_user(rows, lang):
    if not rows:
        return t("admin_none_selected", lang_of(lang)), no_update, no_update, no_update, no_update
    row = rows[0]
    return row["name"], row["name"], row.get("display_name", ""), row.get("role_ids", []), row.get("department_id") or None


def pick_token(rows, lang):
    return selected(rows, "id") or t("admin_none_selected", lang_of(lang))


def user_department_enabled(roles):
    return "handler" not in (roles or [])


def token_fields_enabled(roles, kiosk):
    is_kiosk = "kiosk" in (kiosk or [])
    return is_kiosk, is_kiosk or "handler" not in (roles or [])


@notice_in("admin-user-message")
def change_user(_add, _save, _enable, _reset, _disable, name, display, roles, department, password, rows, changed, lang):
    """Add, save, enable, disable a user or reset their password, as the signed-in admin."""
    lang = lang_of(lang)
    action = str(ctx.triggered_id or "").removeprefix("admin-user-")
    target = selected(rows, "name")
    by = _actor("user:manage")
    if action != "add" and not target:
        return t("admin_select_user", lang), [], HIDDEN, no_update, no_update
    if self_lockout(by.name, target, action, roles):
        return t("admin_self_lockout", lang), [], HIDDEN, no_update, no_update
    users, department = current_services().users, department_for(roles, department)
    secret = None
    try:
        if action == "add":
            user, secret = users.add(name or "", roles or [], by, password=password or None, display_name=display or "",
                                     department=department)
            message = f"{t('admin_user_added', lang)}: {user.name}"
        elif action == "save":
            user = users.update(target, by, roles=roles or [], department=department, display_name=display or "")
            message = f"{t('admin_user_saved', lang)}: {user.name}"
        elif action in ("disable", "enable"):
            user = users.set_disabled(target, action == "disable", by)
            message = f"{t('admin_user_disabled' if user.disabled else 'admin_user_enabled', lang)}: {user.name}"
        elif action == "reset":
            user, secret = users.reset_password(target, by, password=password or None)
            message = f"{t('admin_password_reset', lang)}: {user.name}"
        else:
            return no_update, no_update, no_update, no_update, no_update
    except AccountError as e:
        return f"{t('admin_failed', lang)}: {account_error_text(e, lang)}", [], HIDDEN, no_update, no_update
    except UserNotFound:
        return f"{t('admin_failed', lang)}: {t('account_err_not_found', lang)}", [], HIDDEN, no_update, no_update
    if secret is None:
        return message, [], HIDDEN, no_update, (changed or 0) + 1
    box = secret_box(t("admin_password_of", lang).format(name=user.name), secret, t("admin_secret_once", lang))
    return message, box, SHOWN, "", (changed or 0) + 1


@notice_in("admin-token-message")
def change_token(_create, _revoke, name, roles, department, kiosk, rows, changed, lang):
    """Create an API token or a kiosk link, or revoke one, as the signed-in admin."""
    lang = lang_of(lang)
    users = current_services().users
    by = _actor("token:manage")
    try:
        if ctx.triggered_id == "admin-token-revoke":
            target = selected(rows, "id")
            if not target:
                return t("admin_select_token", lang), [], HIDDEN, no_update
            token = users.revoke_token(target, by)
            return f"{t('admin_token_revoked', lang)}: {token.id} {token.name}", [], HIDDEN, (changed or 0) + 1
        token, secret = users.create_token(name or "", roles or [], by, department=department_for(roles, department),
                                           kiosk="kiosk" in (kiosk or []))
    except AccountError as e:
        return f"{t('admin_failed', lang)}: {account_error_text(e, lang)}", [], HIDDEN, no_update
    except UserNotFound:
        return f"{t('admin_failed', lang)}: {t('account_err_not_found', lang)}", [], HIDDEN, no_update
    if token.kiosk:
        box = secret_box(t("admin_kiosk_link", lang), kiosk_link(request.host_url, secret), t("admin_token_once", lang))
    else:
        box = secret_box(t("admin_token_secret", lang), secret, t("admin_token_once", lang))
    return f"{t('admin_token_created', lang)}: {token.id} {token.name}", box, SHOWN, (changed or 0) + 1


def register(app, services) -> None:
    secured_callback(
        app, "view:admin",
        Output("admin-users-grid", "rowData"), Output("admin-tokens-grid", "rowData"), Output("admin-load-message", "children"),
        Input("admin-users-changed", "data"), Input("admin-tokens-changed", "data"), Input("admin-refresh", "n_clicks"),
        State("lang", "data"),
    )(load)
    secured_callback(app, "view:admin", Output("admin-users-grid", "columnSize"), Output("admin-tokens-grid", "columnSize"),
                     Input("admin-users-grid", "rowData"), Input("admin-tokens-grid", "rowData"), prevent_initial_call=True)(fit_columns)
    secured_callback(
        app, "view:admin",
        Output("admin-user-selected", "children"), Output("admin-user-name", "value"), Output("admin-user-display", "value"),
        Output("admin-user-roles", "value"), Output("admin-user-department", "value"),
        Input("admin-users-grid", "selectedRows"), State("lang", "data"),
    )(pick_user)
    secured_callback(app, "view:admin", Output("admin-token-selected", "children"),
                     Input("admin-tokens-grid", "selectedRows"), State("lang", "data"))(pick_token)
    secured_callback(app, "view:admin", Output("admin-user-department", "disabled"), Input("admin-user-roles", "value"))(user_department_enabled)
    secured_callback(app, "view:admin", Output("admin-token-roles", "disabled"), Output("admin-token-department", "disabled"),
                     Input("admin-token-roles", "value"), Input("admin-token-kiosk", "value"))(token_fields_enabled)
    secured_callback(
        app, "user:manage",
        Output("admin-user-message", "children"), Output("admin-user-secret", "children"), Output("admin-user-secret", "style"),
        Output("admin-user-password", "value"), Output("admin-users-changed", "data"),
        Input("admin-user-add", "n_clicks"), Input("admin-user-save", "n_clicks"), Input("admin-user-enable", "n_clicks"),
        Input("admin-user-reset", "n_clicks"), Input("admin-user-disable", "n_clicks"),
        State("admin-user-name", "value"), State("admin-user-display", "value"), State("admin-user-roles", "value"),
        State("admin-user-department", "value"), State("admin-user-password", "value"),
        State("admin-users-grid", "selectedRows"), State("admin-users-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(change_user)
    secured_callback(
        app, "token:manage",
        Output("admin-token-message", "children"), Output("admin-token-secret", "children"), Output("admin-token-secret", "style"),
        Output("admin-tokens-changed", "data"),
        Input("admin-token-create", "n_clicks"), Input("admin-token-revoke", "n_clicks"),
        State("admin-token-name", "value"), State("admin-token-roles", "value"), State("admin-token-department", "value"),
        State("admin-token-kiosk", "value"), State("admin-tokens-grid", "selectedRows"), State("admin-tokens-changed", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )(change_token)
