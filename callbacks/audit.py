"""Callbacks of the audit log page (leaders and admins)."""

from __future__ import annotations

import datetime as dt
import json

from dash import Input, Output, State, ctx, no_update

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.i18n import STRINGS, resolve_lang, t
from ioc.web.auth import secured_callback

PAGE = 500
CHINA = dt.timezone(dt.timedelta(hours=8))


def action_label(action: str, lang: str) -> str:
    """`登录 (auth.sign_in)`: the action's name in the page language, with its code."""
    key = f"audit:{action}"
    return f"{t(key, lang)} ({action})" if key in STRINGS else action


def audit_rows(entries, lang: str = "zh") -> list[dict]:
    """Entries as table rows (time in China Standard Time, detail as compact JSON)."""
    return [
        {"id": e.id, "time": dt.datetime.fromtimestamp(e.at_ms / 1000, CHINA).strftime("%Y-%m-%d %H:%M:%S"),
         "actor": e.actor, "role": e.role, "action": e.action, "action_label": action_label(e.action, lang), "target": e.target, "outcome": e.outcome, "ip": e.ip,
         "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""}
        for e in entries
    ]


def register(app, services) -> None:
    @secured_callback(
        app, "view:audit",
        Output("audit-grid", "rowData"), Output("audit-before", "data"),
        Input("audit-tick", "n_intervals"), Input("audit-actor", "value"), Input("audit-action", "value"),
        Input("audit-more", "n_clicks"), State("audit-before", "data"), State("audit-grid", "rowData"), State("lang", "data"),
    )
    def load(_n, actor, action, _more, before, rows, lang):
        lang = resolve_lang(lang, services.settings.lang)
        older = ctx.triggered_id == "audit-more"
        if older and not before:
            return no_update, no_update
        try:
            entries = services.audit.recent(PAGE, before=before if older else None, actor=(actor or "").strip(), action=action or "")
        except (REDIS_UNAVAILABLE + (AttributeError,)):
            return no_update, no_update
        new_rows = audit_rows(entries, lang)
        last = entries[-1].id if len(entries) == PAGE else None
        if older:
            return (rows or []) + new_rows, last
        if before and rows and len(rows) > PAGE:
            return no_update, no_update  # the user paged back: keep what they are reading
        return new_rows, last
