"""The frame: routing (only to views the principal may open), navigation per role, who is
signed in, language, clock and data freshness."""

from __future__ import annotations

import time

from dash import Input, Output, State, html

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.domain.access import ROLES, SIGNED_IN, allowed
from ioc.i18n import ROLE_NAMES, resolve_lang, t
from ioc.views.bigscreen import clock, freshness
from ioc.web import pages
from ioc.web.auth import current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.services import current_services
from layouts.shell import clock_parts, forbidden, nav_links, title


def user_badge(principal, lang: str) -> list:
    """`<display name> · <roles>`, with a read-only mark for a kiosk session."""
    if principal is None:
        return []
    roles = "、".join(ROLE_NAMES[r][lang] for r in ROLES if r in principal.roles)
    parts = [f"{principal.label} · {t('kiosk', lang) if principal.kind == 'kiosk' else roles}"]
    if principal.read_only:
        parts.append(html.Span(t("read_only", lang), className="ro"))
    return parts


def switch_language(_clicks, lang):
    return "en" if lang == "zh" else "zh"


def route(pathname, lang):
    """The page for the URL path, or the forbidden page for a view the principal may not open."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    principal = current_principal()
    if not pages.may_view_path(principal, pathname):
        return forbidden(lang)
    context = pages.PageContext(services.city, lang, services.settings.tile_url, allowed(principal, "alarm:acknowledge"),
                                can_command=allowed(principal, "event:command"),
                                can_rewind=services.rewind is not None and allowed(principal, "view:rewind"),
                                can_read_cases=allowed(principal, "case:read"))
    return pages.layout_for(pathname, context)


def relabel(lang):
    """The frame's words in the language, the navigation of the principal's role, who is signed in."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    principal = current_principal()
    # a wall's kiosk session offers no sign-out: anyone passing by could end it (/logout itself still works)
    kiosk = principal is not None and principal.kind == "kiosk"
    # the poll for a department's new event tasks and instructions: only for someone bound to one
    notices_off = not (principal is not None and principal.department and "handler" in principal.roles)
    return (title(lang), nav_links(pages.visible_views(principal), lang, pages.FULL_PAGE_PATHS), user_badge(principal, lang),
            "" if kiosk else t("sign_out", lang), "sign-out hidden" if kiosk else "sign-out",
            t("language", lang), [{"label": t("sound", lang), "value": "on"}], notices_off)


def heartbeat(_n, previous, lang):
    """Clock, data freshness and the outage banner, every tick. It owns the banner, so it reads
    an unavailable Redis as its answer (the banner up, the dot stale) rather than an error."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    now_ms = int(time.time() * 1000)
    try:
        accepted = services.snapshot.counters().get("messages:accepted", 0)
    except REDIS_UNAVAILABLE:
        state = {**(previous or {}), "stale": True}
        return clock_parts(clock(now_ms)), state, "fresh-dot stale", t("stale", lang), t("data_unavailable", lang), "banner"
    state = freshness(previous, accepted, now_ms)
    stale = state["stale"]
    return (clock_parts(clock(now_ms)), state, "fresh-dot stale" if stale else "fresh-dot", t("stale" if stale else "fresh", lang),
            "", "banner hidden")


def register(app, services) -> None:
    secured_callback(app, SIGNED_IN, Output("lang", "data"), Input("lang-switch", "n_clicks"), State("lang", "data"),
                     prevent_initial_call=True)(switch_language)
    secured_callback(app, SIGNED_IN, Output("page", "children"), Input("url", "pathname"), Input("lang", "data"))(route)
    secured_callback(
        app, SIGNED_IN,
        Output("app-title", "children"), Output("nav", "children"), Output("user-badge", "children"),
        Output("sign-out", "children"), Output("sign-out", "className"), Output("lang-switch", "children"), Output("sound", "options"),
        Output("ev-notice-tick", "disabled"),
        Input("lang", "data"),
    )(relabel)
    secured_callback(
        app, SIGNED_IN,
        Output("clock", "children"), Output("freshness", "data"), Output("fresh-dot", "className"),
        Output("fresh-label", "children"), Output("banner", "children"), Output("banner", "className"),
        Input("tick", "n_intervals"), State("freshness", "data"), State("lang", "data"),
    )(heartbeat)
