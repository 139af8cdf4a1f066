"""Callbacks of the account page: who I am, change my own password."""

from __future__ import annotations

from dash import Input, Output, State, html, no_update

from ioc.adapters.user_store import AccountError
from ioc.domain.access import ROLES, SIGNED_IN
from ioc.domain.departments import all_departments
from ioc.i18n import ROLE_NAMES, resolve_lang, t
from ioc.views.admin import account_error_text
from ioc.web.auth import client_ip, current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.services import current_services


def facts(_id, lang):
    """Name, roles and department of the signed-in principal; the password form for a person only."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    p = current_principal()
    department = {d.id: d for d in all_departments(services.city)}.get(p.department)
    items = [(t("account_name", lang), f"{p.name}" + (f" ({p.display_name})" if p.display_name else "")),
             (t("account_roles", lang), "、".join(ROLE_NAMES[r][lang] for r in ROLES if r in p.roles))]
    if department:
        items.append((t("account_department", lang), department.name(lang)))
    if p.kind == "kiosk":
        items.append((t("kiosk", lang), t("account_kiosk", lang)))
    children = [x for label, value in items for x in (html.Dt(label), html.Dd(value))]
    return children, ({"display": "none"} if p.kind != "user" else {}), p.name


@notice_in("account-message")
def change_password(_clicks, current, new, confirm, lang):
    """Submitted by the button or by Enter in any field of the form; the new password twice."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    p = current_principal()
    if p.kind != "user":
        return t("account_kiosk", lang), "", "", ""
    if not current or not new:
        return t("password_missing", lang), no_update, no_update, no_update
    if new != (confirm or ""):
        return t("password_mismatch", lang), no_update, no_update, ""
    try:
        services.users.change_own_password(p.name, current, new, ip=client_ip())
    except AccountError as e:
        return account_error_text(e, lang), no_update, no_update, no_update
    return t("password_changed", lang), "", "", ""


def register(app, services) -> None:
    secured_callback(app, "view:account", Output("account-facts", "children"), Output("password-form", "style"),
                     Output("password-user", "value"), Input("account-page", "id"), State("lang", "data"))(facts)
    secured_callback(app, SIGNED_IN, Output("account-message", "children"), Output("password-current", "value"),
                     Output("password-new", "value"), Output("password-confirm", "value"), Input("password-change", "n_clicks"),
                     State("password-current", "value"), State("password-new", "value"), State("password-confirm", "value"),
                     State("lang", "data"), prevent_initial_call=True)(change_password)
