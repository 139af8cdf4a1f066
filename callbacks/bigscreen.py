"""Callbacks of the big screen: device positions once, then small live updates every tick."""

from __future__ import annotations

import time

import redis

from dash import ALL, Input, Output, State, ctx, html, no_update

from ioc.adapters.alarm_store import AlarmNotFound
from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.domain.access import allowed
from ioc.domain.alarm_handling import AlarmActionError
from ioc.domain.rules import RULES_BY_ID
from ioc.i18n import resolve_lang, t
from ioc.views.bigscreen import (INDICATORS, POPUP_BADGE, POPUP_HIDDEN, POPUP_OPEN, alarm_board, alarms_geojson,
                                 district_hideout, district_values, escalated_count, grid_values, kpi_texts, kpis,
                                 popup_step, ticker, water_alert)
from ioc.views.trends import TREND_PANELS, trend, trend_figure
from ioc.web.auth import client_ip, current_principal, secured_callback
from ioc.web.prejson import serialized

from layouts.bigscreen import LEFT, RIGHT, alarm_rows, empty_row, legend_items

KEYS = LEFT + RIGHT


def ticker_items(rows: list[dict], lang: str) -> list:
    return [
        html.Li(
            [html.Span(r["time"], className="t-time"), html.Span(t("severity_" + r["severity"], lang) if r["severity"] else "", className=f"t-sev {r['severity']}"),
             html.Span(r["district"], className="t-district"), html.Span(r["rule"], className="t-rule"),
             html.Span(t("event_" + r["event"], lang) if r["event"] in ("raised", "cleared", "acknowledged") else r["event"], className="t-event"),
             html.Span(r["device"], className="t-device")],
            className=f"ticker-row {r['event']}",
        )
        for r in rows
    ]


def register(app, services) -> None:
    policy = services.settings.escalation_policy()
    alarm_store = services.alarms

    def city_cache():
        if services.city_cache is None:
            raise redis.ConnectionError("REDIS_URL is not set")
        return services.city_cache

    @secured_callback(
        app, "view:bigscreen",
        [Output(f"value-{k}", "children") for k in KEYS] + [Output(f"sub-{k}", "children") for k in KEYS]
        + [Output("card-kpi_water", "className"), Output("map-districts", "hideout"), Output("map-devices", "hideout"),
           Output("map-alarms", "data"), Output("map-grid", "hideout"), Output("ticker", "children"), Output("legend", "children"),
           Output("alarm-board", "children"),
           Output("popup", "className"), Output("popup-text", "children"), Output("popup-alarm", "data"),
           Output("seen-alarms", "data"), Output("sound-slot", "children"), Output("fleet-version", "data"),
           Output("popup-since", "data")],
        Input("tick", "n_intervals"), Input("indicator", "value"),
        State("lang", "data"), State("seen-alarms", "data"), State("sound", "value"), State("fleet-version", "data"),
        State("popup-alarm", "data"), State("popup", "className"), State("popup-since", "data"),
        running=[(Output("tick", "disabled"), True, False)],  # a slow server never gets ticks piling up
    )
    def refresh(_n, indicator, lang, seen, sound, fleet_version, popup_id, popup_class, popup_since):
        lang = resolve_lang(lang, services.settings.lang)
        indicator = indicator if indicator in INDICATORS else INDICATORS[0]  # a forged value is not an error page
        viewer = current_principal()
        rights = (allowed(viewer, "alarm:acknowledge"), allowed(viewer, "alarm:clear"))
        try:
            cache = city_cache()
            snapshot = cache.snapshot()
            shown = cache.derived(snapshot, ("bigscreen", lang, indicator, rights),
                                  lambda s: frame(s, lang, indicator, *rights))
        except REDIS_UNAVAILABLE:
            return [no_update] * (2 * len(KEYS) + 15)
        # the pop-up follows its alarm: a newer critical replaces it, a clear or an acknowledgement
        # anywhere closes it, and on a kiosk it folds into a badge after IOC_POPUP_SECONDS
        fold_after = services.settings.popup_seconds * 1000 if viewer is not None and viewer.kind == "kiosk" else None
        step = popup_step(snapshot.alarms, seen or [], popup_id, popup_class, popup_since, snapshot.now_ms, fold_after)
        popup = step.alarm
        if step.action == "close":
            popup_out = [POPUP_HIDDEN, no_update, None, no_update, None, None]
        elif step.action == "fold":
            popup_out = [POPUP_BADGE, no_update, no_update, no_update, no_update, no_update]
        elif popup is None:
            popup_out = [no_update] * 6
        else:
            district = services.city.district(popup.get("district", ""))
            text = (f"{district.name(lang) if district else ''} · {popup.get('name_en' if lang == 'en' else 'name_zh')}"
                    f" · {popup.get('device_id')} · {popup.get('attribute')} = {popup.get('value')}")
            chime = html.Audio(src="/assets/alert.wav", autoPlay=True, id="alarm-sound") if "on" in (sound or []) else None
            popup_out = [POPUP_OPEN, text, popup["id"], (seen or [])[-200:] + [popup["id"]], chime, snapshot.now_ms]
        # the offline styling (up to thousands of ids) only when the registry changed since this screen got it
        offline = {"offline": snapshot.fleet.offline, "lang": lang} if fleet_version != snapshot.registry_version else no_update
        return (shown[:2 * len(KEYS) + 2] + [offline] + shown[2 * len(KEYS) + 2:] + popup_out[:5] + [snapshot.registry_version]
                + popup_out[5:])

    def frame(snapshot, lang: str, indicator: str, with_ack: bool, with_clear: bool) -> list:
        """What every viewer with the same language, indicator and rights sees of one snapshot:
        made once per snapshot for all of them (`CityCache.derived`)."""
        figures = kpis(snapshot, lang)
        texts = kpi_texts(figures, lang)
        values = [texts[k][0] for k in KEYS]
        subs = [texts[k][1] for k in KEYS]
        escalated = escalated_count(snapshot.alarms, snapshot.now_ms, policy)
        if escalated:
            subs[KEYS.index("kpi_alarms")] += f" · {t('escalated', lang)} {escalated}"
        water_class = "kpi-card alert" if water_alert(figures) else "kpi-card"
        hideout = district_hideout(district_values(snapshot, indicator), indicator, lang=lang)
        legend_row = legend_items(indicator, lang)
        alarm_devices = snapshot.fleet.of_alarms(snapshot.alarms)
        board = alarm_rows(alarm_board(snapshot.alarms, alarm_devices, services.city, snapshot.now_ms, policy, lang), lang,
                           with_ack=with_ack, with_clear=with_clear)
        board = board or [empty_row("board_empty", lang)]
        events = services.snapshot.alarm_events(8)
        return values + subs + [water_class] + [serialized(v) for v in (  # made once, sent to every viewer as is
            hideout, alarms_geojson(snapshot.alarms, alarm_devices, lang), {"values": grid_values(snapshot.alarms, alarm_devices)},
            ticker_items(ticker(events, services.city, lang), lang) or [empty_row("ticker_empty", lang)], legend_row, board,
        )]

    @secured_callback(
        app, "alarm:acknowledge",
        Output("ack-message", "children"), Output("popup", "className", allow_duplicate=True),
        Input({"type": "ack", "id": ALL}, "n_clicks"), Input("popup-ack", "n_clicks"), Input("popup-later", "n_clicks"),
        State("popup-alarm", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )
    def acknowledge(board_clicks, popup_clicks, _later, popup_id, lang):
        """Acknowledge as the signed-in user (name and role recorded, with an audit entry)."""
        lang = resolve_lang(lang, services.settings.lang)
        trigger = ctx.triggered_id
        if trigger == "popup-later":
            return no_update, "popup hidden"
        if trigger == "popup-ack":
            alarm_id = popup_id
        elif isinstance(trigger, dict) and ctx.triggered and ctx.triggered[0]["value"]:
            alarm_id = trigger["id"]
        else:
            return no_update, no_update
        user = current_principal()
        try:
            alarm_store.acknowledge(alarm_id, user.name, user.acting_role("alarm:acknowledge"), int(time.time() * 1000), ip=client_ip())
            city_cache().invalidate()
        except (AlarmNotFound, AlarmActionError) as e:
            return str(e), "popup hidden"
        except REDIS_UNAVAILABLE:
            return t("data_unavailable", lang), no_update
        return f"{t('acked_ok', lang)} · {user.label}", "popup hidden"

    @secured_callback(
        app, "alarm:clear",
        Output("clear-alarm", "data"), Output("clear-dialog", "className"), Output("clear-text", "children"),
        Output("clear-note", "value"), Output("clear-error", "children"),
        Input({"type": "clear", "id": ALL}, "n_clicks"), State("lang", "data"),
        prevent_initial_call=True,
    )
    def open_clear(_clicks, lang):
        """A clear button on the alarm board opens the dialog for that alarm."""
        lang = resolve_lang(lang, services.settings.lang)
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
            return no_update, no_update, no_update, no_update, no_update
        try:
            alarm = alarm_store.get(trigger["id"])
        except AlarmNotFound as e:
            return None, "clear-dialog hidden", "", "", str(e)
        except REDIS_UNAVAILABLE:
            return no_update, no_update, no_update, no_update, t("data_unavailable", lang)
        district = services.city.district(alarm.get("district", ""))
        text = (f"{district.name(lang) if district else ''} · {alarm.get('name_en' if lang == 'en' else 'name_zh')}"
                f" · {alarm.get('device_id')} · {alarm.get('attribute')} = {alarm.get('value')}")
        return trigger["id"], "clear-dialog", text, "", ""

    @secured_callback(
        app, "alarm:clear",
        Output("clear-dialog", "className", allow_duplicate=True), Output("clear-error", "children", allow_duplicate=True),
        Output("ack-message", "children", allow_duplicate=True),
        Input("clear-confirm", "n_clicks"), Input("clear-cancel", "n_clicks"),
        State("clear-alarm", "data"), State("clear-note", "value"), State("lang", "data"),
        prevent_initial_call=True,
    )
    def confirm_clear(_confirm, _cancel, alarm_id, note, lang):
        """Clear by hand as the signed-in user; the note is required and kept with the event."""
        lang = resolve_lang(lang, services.settings.lang)
        if ctx.triggered_id == "clear-cancel" or not alarm_id:
            return "clear-dialog hidden", "", no_update
        user = current_principal()
        try:
            alarm_store.clear(alarm_id, user.name, user.acting_role("alarm:clear"), note or "", int(time.time() * 1000), ip=client_ip())
            city_cache().invalidate()
        except AlarmNotFound as e:
            return "clear-dialog hidden", "", str(e)
        except AlarmActionError as e:
            return no_update, str(e), no_update
        except REDIS_UNAVAILABLE:
            return no_update, t("data_unavailable", lang), no_update
        return "clear-dialog hidden", "", f"{t('cleared_ok', lang)} · {user.label}"

    trend_figures: dict[tuple[str, int], list] = {}  # (language, minute) -> the panels' figures

    @secured_callback(app, "view:bigscreen", [Output(key, "figure") for key, *_ in TREND_PANELS], Input("trend-tick", "n_intervals"), Input("lang", "data"))
    def trends(_n, lang):
        """The last 24 hours, made once a minute per language for every viewer of the process
        (the panels refresh once a minute)."""
        lang = resolve_lang(lang, services.settings.lang)
        minute = int(time.time() // 60)
        key = (lang, minute)
        if key not in trend_figures:
            hour = minute // 60
            try:
                buckets = services.snapshot.rollup_series("hour", hour - 23, hour + 1)
            except (REDIS_UNAVAILABLE + (AttributeError,)):
                return [no_update] * len(TREND_PANELS)
            reference = {"trend_water": RULES_BY_ID["water_level_warning"].threshold}
            for old in [k for k in trend_figures if k[1] != minute]:
                trend_figures.pop(old, None)
            trend_figures[key] = [
                trend_figure(trend(buckets, "hour", kind, attr, stat), t(name, lang), color, reference.get(name))
                for name, kind, attr, stat, color in TREND_PANELS
            ]
        return trend_figures[key]

    @secured_callback(app, "view:bigscreen", Output("url", "pathname"), Input("map-districts", "clickData"), Input("district-picker", "value"),
                  prevent_initial_call=True)
    def drill_down(click, picked):
        """Click a district on the map, or pick it from the list: open its page."""
        if ctx.triggered_id == "district-picker":
            return f"/district/{picked}" if picked else no_update
        if not click:
            return no_update
        return f"/district/{click['properties']['id']}"
