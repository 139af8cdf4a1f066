"""Callbacks of the audit log page (leaders and admins)."""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update

from ioc.domain.departments import all_departments
from ioc.i18n import resolve_lang
from ioc.views.audit import audit_rows
from ioc.web.dash_guard import secured_callback
from ioc.web.services import current_services

PAGE = 500


def load(_n, actor, action, _more, before, rows, lang):
    """The newest entries (filtered by actor and action), or the next older page ("more")."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    older = ctx.triggered_id == "audit-more"
    if older and not before:
        return no_update, no_update
    entries = services.audit.recent(PAGE, before=before if older else None, actor=(actor or "").strip(), action=action or "")
    departments = {d.id: d for d in all_departments(services.city)}
    districts = {d.id: d.name(lang) for d in services.city.districts}
    new_rows = audit_rows(entries, lang, departments, districts)
    last = entries[-1].id if len(entries) == PAGE else None
    if older:
        return (rows or []) + new_rows, last
    if before and rows and len(rows) > PAGE:
        return no_update, no_update  # the user paged back: keep what they are reading
    return new_rows, last


def register(app, services) -> None:
    secured_callback(
        app, "view:audit",
        Output("audit-grid", "rowData"), Output("audit-before", "data"),
        Input("audit-tick", "n_intervals"), Input("audit-actor", "value"), Input("audit-action", "value"),
        Input("audit-more", "n_clicks"), State("audit-before", "data"), State("audit-grid", "rowData"), State("lang", "data"),
    )(load)
