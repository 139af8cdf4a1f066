"""Pure view model of the big screen (一屏观全域) and the district page: from a `CitySnapshot`
to KPI figures, district map styles, the alarm ticker and the data-freshness state.

No I/O here: callbacks read the snapshot and call these functions; tests call them directly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from ioc.domain.city_state import CitySnapshot, DeviceRow
from ioc.domain import lighting
from ioc.domain.air_quality import POLLUTANT_NAMES, level, primary_pollutant
from ioc.domain.alarm_handling import Acknowledgement, escalation
from ioc.domain.case_tally import OpenCaseTally
from ioc.domain.clock import local_hour, local_midnight_ms, local_text
from ioc.domain.geo import CityMap
from ioc.domain.rules import RULES_BY_ID, SEVERITIES
from ioc.views.readings_text import AlarmWords, alarm_words

FREE_FLOW_KMH = 50.0  # reference speed of the congestion index (travel-time ratio)
WARNING_LINE_M = RULES_BY_ID["water_level_warning"].threshold
STALE_AFTER_MS = 15_000

INDICATORS = ("alarms", "cases", "aqi", "online")
# Class breaks and colours (light to dark, "good" to "bad") per map indicator.
SCALES = {
    "alarms": ([0, 1, 3, 6, 10], ["#1d4e89", "#f2c14e", "#f08a24", "#e4572e", "#a4161a"]),
    "cases": ([0, 1, 5, 10, 20], ["#1d4e89", "#f2c14e", "#f08a24", "#e4572e", "#a4161a"]),
    "aqi": ([0, 50, 100, 150, 200], ["#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#9b2226"]),
    "online": ([0, 80, 90, 95, 99], ["#9b2226", "#e76f51", "#e9c46a", "#52b788", "#2a9d8f"]),
}
SEVERITY_COLORS = {"critical": "#ff3b30", "major": "#ff9f0a", "minor": "#ffd60a"}


def _avg(roll: dict[str, float], field_prefix: str) -> float | None:
    n = roll.get(f"{field_prefix}:n", 0)
    return roll[f"{field_prefix}:s"] / n if n else None


def city_stat(roll: dict[str, float], kind: str, attribute: str, district: str | None = None) -> tuple[float, float, float | None]:
    """(sum, count, max) of an attribute over all districts (or one) in a merged rollup bucket."""
    total, count, peak = 0.0, 0.0, None
    suffix = f"|{kind}|{attribute}"
    for name, value in roll.items():
        if not name.endswith((":s", ":n", ":x")):
            continue
        base, stat = name[:-2], name[-1]
        d, _, rest = base.partition("|")
        if "|" + rest != suffix or (district and d != district):
            continue
        if stat == "s":
            total += value
        elif stat == "n":
            count += value
        else:
            peak = value if peak is None else max(peak, value)
    return total, count, peak


def value_share(roll: dict[str, float], kind: str, attribute: str, value: str, district: str | None = None) -> float | None:
    """Share of readings of an enum/boolean attribute equal to `value`."""
    hits, total = 0.0, 0.0
    prefix = f"|{kind}|{attribute}="
    for name, n in roll.items():
        d, sep, rest = name.partition("|")
        if not sep or (district and d != district) or not ("|" + rest).startswith(prefix) or not name.endswith(":n"):
            continue
        total += n
        if ("|" + rest) == f"{prefix}{value}:n":
            hits += n
    return hits / total if total else None


@dataclass(frozen=True)
class Kpis:
    devices: int
    online: int
    online_rate: float | None
    alarms: dict[str, int]
    aqi: float | None
    aqi_level: str
    primary_pollutant: str
    pm25: float | None
    avg_speed: float | None
    congestion_index: float | None
    people: int | None
    water_level_max: float | None
    water_warning_line: float
    lights_on_share: float | None
    lights_faulty: int
    systems_online: int
    systems_total: int
    interface_calls: int | None
    interface_errors: int | None
    interfaces_up: int | None
    interfaces_total: int | None
    messages_per_min: int | None
    cases_open: int = 0
    cases_overdue: int = 0
    cases_today: int = 0  # reported since 00:00 China time
    people_hotspots: int = 0  # crowd counters: `people` = their mean count × this many
    lights_period: str = "on"  # the lighting schedule now: "on", "off" (by day: none scheduled on), "switching"
    water_gauge: str = ""  # id of the online gauge with the highest latest level
    water_gauge_name: str = ""
    water_district: str = ""  # its district id
    interface_error_rate: float | None = None  # errors / calls over the minute


def highest_gauge(snapshot: CitySnapshot, district: str | None = None) -> DeviceRow | None:
    """The online water gauge (of the district, or the city) whose latest level is highest."""
    by_id = snapshot.fleet.by_id
    best, best_level = None, None
    for device_id, value in snapshot.water_levels.items():
        row = by_id.get(device_id)
        if row is None or not row.online or (district is not None and row.district != district):
            continue
        if best_level is None or value > best_level:
            best, best_level = row, value
    return best


def _bucket(snapshot: CitySnapshot) -> dict[str, float]:
    """The last complete minute, or the current one while the city has just started."""
    return snapshot.recent if snapshot.recent else snapshot.current


def case_counts(snapshot: CitySnapshot) -> dict[str, tuple[int, int, int]]:
    """Per district: (open cases, overdue, reported since China midnight) — a replayed moment's tally
    (`snapshot.case_counts`) or counted from the open cases."""
    if snapshot.case_counts is not None:
        return snapshot.case_counts
    return tally_of(snapshot.cases).counts(snapshot.now_ms, local_midnight_ms(snapshot.now_ms))


_last_tally: tuple = (None, -1, None)  # (the list of open cases, its length, its tally)


def tally_of(cases: list) -> OpenCaseTally:
    """The tally of a list of open cases, made once per list: the case index hands out a new list
    at each change and the same one until then, so every frame of the same cases shares it (the
    length guards a list that grows in place, as a test's may)."""
    global _last_tally
    held, length, tally = _last_tally
    if held is cases and length == len(cases):
        return tally
    tally = OpenCaseTally.of(cases)
    _last_tally = (cases, len(cases), tally)
    return tally


def kpis(snapshot: CitySnapshot, lang: str = "zh", district: str | None = None) -> Kpis:
    roll = _bucket(snapshot)
    fleet = snapshot.fleet
    devices, online = fleet.count(district)
    alarms = [a for a in snapshot.alarms if district is None or a.get("district") == district]

    def avg(kind, attr):
        s, n, _ = city_stat(roll, kind, attr, district)
        return s / n if n else None

    aqi = avg("air_quality", "airQualityIndex")
    concentrations = {p: avg("air_quality", p) for p in ("pm25", "pm10", "no2", "so2", "o3")}
    primary, _ = primary_pollutant({k: v for k, v in concentrations.items() if v is not None})
    speed = avg("traffic", "averageVehicleSpeed")
    people_avg = avg("crowd", "peopleCount")
    _, _, water_max = city_stat(roll, "water_level", "waterLevel", district)
    systems, systems_online = fleet.count(district, "platform")
    calls_s, calls_n, _ = city_stat(roll, "platform", "calls", district)
    errors_s, _, _ = city_stat(roll, "platform", "errors", district)
    up = avg("platform", "interfacesUp")
    hotspots = fleet.count(district, "crowd")[0]
    gauge = highest_gauge(snapshot, district)
    total = avg("platform", "interfacesTotal")
    messages = sum(v for k, v in roll.items() if k.endswith("|_:n") and (district is None or k.startswith(district + "|")))
    severity = Counter(a.get("severity") for a in alarms)
    counted = [n for d, n in case_counts(snapshot).items() if district is None or d == district]
    return Kpis(
        devices=devices,
        online=online,
        online_rate=(100 * online / devices) if devices else None,
        alarms={s: severity.get(s, 0) for s in SEVERITIES},
        aqi=aqi,
        aqi_level=level(aqi, lang) if aqi is not None else "",
        primary_pollutant=POLLUTANT_NAMES.get(primary, "—") if primary else "—",
        pm25=concentrations["pm25"],
        avg_speed=speed,
        congestion_index=min(10.0, max(1.0, FREE_FLOW_KMH / speed)) if speed else None,
        people=int(round(people_avg * hotspots)) if people_avg is not None else None,
        water_level_max=water_max,
        water_warning_line=WARNING_LINE_M,
        lights_on_share=value_share(roll, "streetlight", "powerState", "on", district),
        lights_faulty=sum(1 for a in alarms if a.get("rule_id") == "streetlight_fault"),
        systems_online=systems_online,
        systems_total=systems,
        interface_calls=int(calls_s) if calls_n else None,
        interface_errors=int(errors_s) if calls_n else None,
        interfaces_up=int(round(up * systems)) if up is not None else None,
        interfaces_total=int(round(total * systems)) if total is not None else None,
        messages_per_min=int(messages) if roll else None,
        cases_open=sum(n[0] for n in counted),
        cases_overdue=sum(n[1] for n in counted),
        cases_today=sum(n[2] for n in counted),
        people_hotspots=hotspots,
        lights_period=lighting.period(local_hour(snapshot.now_ms)),
        water_gauge=gauge.id if gauge else "",
        water_gauge_name=gauge.name if gauge else "",
        water_district=gauge.district if gauge else "",
        interface_error_rate=(errors_s / calls_s) if calls_s else None,
    )


# --- map ---------------------------------------------------------------------------------------

def district_values(snapshot: CitySnapshot, indicator: str) -> dict[str, float]:
    if indicator == "alarms":
        return dict(Counter(a.get("district", "") for a in snapshot.alarms))
    if indicator == "cases":
        return {d: n[0] for d, n in case_counts(snapshot).items() if n[0]}
    if indicator == "aqi":
        roll = _bucket(snapshot)
        out = {}
        for name in roll:
            if name.endswith("|air_quality|airQualityIndex:n"):
                d = name.split("|", 1)[0]
                value = _avg(roll, f"{d}|air_quality|airQualityIndex")
                if value is not None:
                    out[d] = round(value, 1)
        return out
    if indicator == "online":
        fleet = snapshot.fleet
        return {d: round(100 * fleet.count(d)[1] / n, 1) for d in fleet.by_district if (n := fleet.count(d)[0])}
    raise ValueError(f"unknown indicator {indicator!r}")


COUNT_INDICATORS = ("alarms", "cases")  # a district missing from the values has none of them


def district_hideout(values: dict[str, float], indicator: str, selected: str | None = None, lang: str = "zh") -> dict:
    """What the browser's style and hover functions need: values, class breaks and colours, and how
    a district's hover states its figure (`hover`, `{v}` standing for the value; `zero`: a missing
    district has 0 rather than no data). Small per tick."""
    from ioc.i18n import t

    breaks, colors = SCALES[indicator]
    return {"values": values, "breaks": breaks, "colors": colors, "selected": selected or "", "indicator": indicator,
            "lang": lang, "hover": t(f"hover_{indicator}", lang), "zero": indicator in COUNT_INDICATORS,
            "no_value": t("tooltip_no_value", lang)}


def district_labels(city: CityMap, lang: str = "zh") -> dict:
    """Points where the map writes each district's name (its seat, inside its polygon), sent once."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [d.seat[0], d.seat[1]]},
             "properties": {"id": d.id, "name": d.name(lang)}}
            for d in city.districts
        ],
    }


DEVICES_URL = "/api/v1/map/devices"  # the device layer's GeoJSON, fetched by the map itself (ioc.web.map_data)


def devices_url(district: str = "") -> str:
    return f"{DEVICES_URL}?district={district}" if district else DEVICES_URL


def devices_geojson(devices: list[DeviceRow]) -> dict:
    """Device positions, sent to the browser once; live state goes in the layer's hideout."""
    return {
        "type": "FeatureCollection",
        "features": [
            # 5 decimals are about 1 m: enough for a map, and a third off the 50,000-device layer
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(d.lon, 5), round(d.lat, 5)]},
             "properties": {"id": d.id, "kind": d.kind, "name": d.name}}
            for d in devices
        ],
    }


def offline_ids(devices: list[DeviceRow]) -> list[str]:
    return [d.id for d in devices if not d.online]


def alarms_geojson(alarms: list[dict], devices: list[DeviceRow], lang: str = "zh") -> dict:
    where = {d.id: (d.lon, d.lat) for d in devices}
    names = {d.id: d.name for d in devices}
    features = []
    for a in sorted(alarms, key=lambda a: SEVERITIES.index(a.get("severity", "minor"))):
        pos = where.get(a.get("device_id"))
        if pos is None:
            continue
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(pos)},
            "properties": {"id": a["id"], "severity": a.get("severity"), "color": SEVERITY_COLORS.get(a.get("severity"), "#ffd60a"),
                           "tooltip": alarm_words(a, lang, names.get(a.get("device_id"), "")).text(with_district=False)},
        })
    return {"type": "FeatureCollection", "features": features}


# --- ticker and freshness ----------------------------------------------------------------------

def clock(now_ms: int) -> str:
    return local_text(now_ms, "%Y-%m-%d %H:%M:%S")


def event_time(e: dict) -> int:
    """An alarm event's own time: when it was acknowledged, cleared or raised."""
    when = {"acknowledged": e.get("acknowledged_at"), "cleared": e.get("cleared_at")}.get(e.get("event", ""))
    return int(when or e.get("raised_at") or 0)


def alarm_words_for(alarm: dict, names: dict[str, str], city: CityMap, lang: str = "zh") -> AlarmWords:
    """An alarm in people's words, its device named from the fleet (`names`: id -> name) and its
    district by name: the same words on the board, the ticker, the pop-up and the clear dialog."""
    district = city.district(alarm.get("district", ""))
    return alarm_words(alarm, lang, names.get(alarm.get("device_id"), ""), district.name(lang) if district else "")


def ticker(events: list[dict], city: CityMap, lang: str = "zh", limit: int = 8, devices: list[DeviceRow] = ()) -> list[dict]:
    """Newest alarm events first by each event's own time (acknowledged_at, cleared_at or
    raised_at): time, severity, district name, rule name, the device by name (its id secondary)
    and the reading in words."""
    names = {d.id: d.name for d in devices}
    rows = []
    for e in sorted(events, key=event_time, reverse=True)[:limit]:
        words = alarm_words_for(e, names, city, lang)
        rows.append({
            "time": local_text(event_time(e), "%H:%M:%S"),
            "event": e.get("event", ""),
            "severity": e.get("severity", ""),
            "district": words.district,
            "rule": words.rule,
            "device": words.device,
            "device_id": words.device_id,
            "reading": words.reading,
            "value": e.get("value"),
        })
    return rows


def freshness(previous: dict | None, accepted: int, now_ms: int) -> dict:
    """Track when the accepted-message counter last moved (state kept in the browser's dcc.Store);
    `stale` once it has not moved for STALE_AFTER_MS."""
    if not previous or accepted != previous.get("accepted"):
        return {"accepted": accepted, "changed_ms": now_ms, "stale": False}
    return {**previous, "stale": now_ms - previous["changed_ms"] > STALE_AFTER_MS}


def district_ranking(snapshot: CitySnapshot, city: CityMap, lang: str = "zh") -> list[dict]:
    """One row per district with the indicators of the map, for the sortable comparison table."""
    alarms = district_values(snapshot, "alarms")
    aqi = district_values(snapshot, "aqi")
    online = district_values(snapshot, "online")
    fleet = snapshot.fleet
    critical = defaultdict(int)
    for a in snapshot.alarms:
        if a.get("severity") == "critical":
            critical[a.get("district", "")] += 1
    counts = case_counts(snapshot)
    cases = {d: n[0] for d, n in counts.items()}
    overdue = {d: n[1] for d, n in counts.items()}
    return [
        {"id": d.id, "district": d.name(lang), "devices": fleet.count(d.id)[0], "online_rate": online.get(d.id),
         "alarms": alarms.get(d.id, 0), "critical": critical.get(d.id, 0), "aqi": aqi.get(d.id),
         "cases": cases.get(d.id, 0), "cases_overdue": overdue.get(d.id, 0)}
        for d in city.districts
    ]


# --- texts -------------------------------------------------------------------------------------

def _num(value, digits=0, suffix="") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def _lights_texts(k: Kpis, lang: str) -> tuple[str, str]:
    """路灯亮灯率: the share lit among the lamps the schedule has on; by day none is, so say so."""
    from ioc.i18n import t

    faulty = f"{t('kpi_lights_faulty', lang)} {k.lights_faulty:,}"
    if k.lights_period == "off":
        return t("kpi_lights_off_by_day", lang), f"{t('kpi_lights_schedule', lang)} · {faulty}"
    share = _num(None if k.lights_on_share is None else 100 * k.lights_on_share, 1, "%")
    return share, f"{t('kpi_lights_switching' if k.lights_period == 'switching' else 'kpi_lights_of_scheduled', lang)} · {faulty}"


def _water_sub(k: Kpis, lang: str, city: CityMap | None) -> str:
    """Which gauge has the highest level, in which district; then the warning line."""
    from ioc.i18n import t

    line = f"{t('kpi_warning_line', lang)} {k.water_warning_line:.2f} m"
    if not k.water_gauge:
        return line
    district = city.district(k.water_district) if city is not None else None
    where = f"{k.water_gauge_name} ({district.name(lang)})" if district else k.water_gauge_name
    return f"{where} · {line}"


def kpi_texts(k: Kpis, lang: str = "zh", city: CityMap | None = None) -> dict[str, tuple[str, str]]:
    """KPI card key -> (big value, small line under it), in the page's language. With `city`,
    the highest water gauge's district is named too."""
    from ioc.i18n import t

    sev = " · ".join(f"{t('severity_' + s, lang)} {k.alarms[s]}" for s in SEVERITIES)
    error_rate = _num(None if k.interface_error_rate is None else 100 * k.interface_error_rate, 2, " %")
    platform_sub = f"{t('kpi_calls', lang)} {_num(k.interface_calls)} · {t('kpi_error_rate', lang)} {error_rate}"
    interfaces = f"{t('kpi_interfaces', lang)} {_num(k.interfaces_up)}/{_num(k.interfaces_total)}"
    return {
        "kpi_online": (_num(k.online_rate, 1, "%"), f"{k.online:,}/{k.devices:,} · {t('kpi_messages', lang)} {_num(k.messages_per_min)}"),
        "kpi_alarms": (f"{sum(k.alarms.values()):,}", sev),
        "kpi_aqi": (_num(k.aqi), f"{k.aqi_level} · {t('kpi_primary', lang)} {k.primary_pollutant}"),
        "kpi_traffic": (_num(k.congestion_index, 1), f"{t('kpi_speed', lang)} {_num(k.avg_speed, 1)} {t('unit_kmh', lang)}"),
        "kpi_people": (_num(k.people), t("kpi_people_total", lang).format(n=k.people_hotspots)),
        "kpi_water": (_num(k.water_level_max, 2, " m"), _water_sub(k, lang, city)),
        "kpi_lights": _lights_texts(k, lang),
        "kpi_cases": (f"{k.cases_open:,}", f"{t('kpi_cases_overdue', lang)} {k.cases_overdue:,} · {t('kpi_cases_open_today', lang)} {k.cases_today:,}"),
        "kpi_platform": (f"{k.systems_online}/{k.systems_total}", f"{t('kpi_systems', lang)} · {platform_sub} · {interfaces}"),
    }


def water_alert(k: Kpis) -> bool:
    return k.water_level_max is not None and k.water_level_max >= k.water_warning_line


def legend(indicator: str, lang: str = "zh") -> list[tuple[str, str]]:
    """(colour, label) pairs of the map's class breaks."""
    breaks, colors = SCALES[indicator]
    out = []
    for i, (b, c) in enumerate(zip(breaks, colors)):
        upper = breaks[i + 1] if i + 1 < len(breaks) else None
        out.append((c, f"≥ {b}" if upper is None else f"{b}–{upper}"))
    return out


def fmt_value(value, lang: str = "zh") -> str:
    """A reading's value for people: booleans as 是/否 (yes/no), numbers without float noise."""
    if value is True or value is False:
        return ("yes" if value else "no") if lang == "en" else ("是" if value else "否")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# --- operator attention --------------------------------------------------------------------------

def escalation_text(overdue_minutes: int, lang: str = "zh") -> str:
    """`已升级 · 超时 7 分钟`; under a minute past the escalation it says so (never "超时 0 分钟")."""
    from ioc.i18n import t

    overdue = (t("overdue_under_minute", lang) if overdue_minutes < 1
               else f"{t('overdue', lang)} {overdue_minutes} {t('minutes', lang)}")
    return f"{t('escalated', lang)} · {overdue}"


def alarm_board(alarms: list[dict], devices: list[DeviceRow], city: CityMap, now_ms: int, policy, lang: str = "zh",
                limit: int = 12, people: dict[str, str] | None = None) -> list[dict]:
    """Active alarms as the operator works them: escalated first, then by severity, newest first.
    Each names its device by name (id secondary) and its reading in words; who acknowledged it by
    display name (`people`: login -> display name), the login name secondary."""
    names = {d.id: d.name for d in devices}
    people = people or {}
    rows = []
    for a in alarms:
        ack = Acknowledgement.from_dict(a["ack"]) if a.get("ack") else None
        esc = escalation(a, ack, now_ms, policy)
        words = alarm_words_for(a, names, city, lang)
        rows.append({
            "id": a["id"],
            "severity": a.get("severity", "minor"),
            "rule": words.rule,
            "device": words.device,
            "device_id": words.device_id,
            "district": words.district,
            "value": words.value,
            "reading": words.reading,
            "threshold": words.threshold,
            "since": local_text(a.get("raised_at", 0), "%H:%M:%S"),
            "raised_at": a.get("raised_at", 0),
            "acked_by": (people.get(ack.by) or ack.by) if ack else "",
            "acked_login": ack.by if ack else "",
            "acked_at": local_text(ack.at_ms, "%H:%M") if ack else "",
            "escalated": esc.escalated,
            "overdue_minutes": esc.overdue_minutes,
            "escalation": escalation_text(esc.overdue_minutes, lang) if esc.escalated else "",
        })
    rows.sort(key=lambda r: (not r["escalated"], SEVERITIES.index(r["severity"]), -r["raised_at"]))
    return rows[:limit]


def escalated_count(alarms: list[dict], now_ms: int, policy) -> int:
    return sum(
        1 for a in alarms
        if escalation(a, Acknowledgement.from_dict(a["ack"]) if a.get("ack") else None, now_ms, policy).escalated
    )


def popup_alarm(alarms: list[dict], seen: list[str]) -> dict | None:
    """The newest unacknowledged critical alarm this screen has not popped up yet."""
    fresh = [a for a in alarms if a.get("severity") == "critical" and not a.get("ack") and a["id"] not in set(seen)]
    return max(fresh, key=lambda a: a.get("raised_at", 0)) if fresh else None


POPUP_OPEN, POPUP_BADGE, POPUP_HIDDEN = "popup", "popup badge", "popup hidden"  # the pop-up's classes


@dataclass(frozen=True)
class PopupStep:
    """What the critical pop-up does on one refresh: `show` a new alarm, `close`, `fold` into the
    badge, or nothing (`keep`)."""

    action: str
    alarm: dict | None = None


def popup_step(alarms: list[dict], seen: list[str], current: str | None, shown: str | None, since_ms: int | None,
               now_ms: int, fold_after_ms: int | None = None) -> PopupStep:
    """The pop-up's lifecycle on one screen. A newer unacknowledged critical alarm replaces what is
    shown; the alarm on show closes the pop-up (or its badge) as soon as it is no longer active or is
    acknowledged, wherever that happened; with `fold_after_ms` (a kiosk, where nobody dismisses it)
    an open pop-up folds into the badge once it has been up that long."""
    new = popup_alarm(alarms, seen)
    if new is not None:
        return PopupStep("show", new)
    if not current:
        return PopupStep("keep")
    if current not in {a["id"] for a in alarms if not a.get("ack")}:
        return PopupStep("close")
    if fold_after_ms is not None and shown == POPUP_OPEN and since_ms is not None and now_ms - since_ms >= fold_after_ms:
        return PopupStep("fold")
    return PopupStep("keep")


def grid_values(alarms: list[dict], devices: list[DeviceRow]) -> dict[str, int]:
    """Unit-grid aggregation of active alarms, weighted by severity (critical 3, major 2, minor 1)."""
    weight = {"critical": 3, "major": 2, "minor": 1}
    cell_of = {d.id: d.cell for d in devices if d.cell}
    out: Counter = Counter()
    for a in alarms:
        cell = cell_of.get(a.get("device_id"))
        if cell:
            out[cell] += weight.get(a.get("severity"), 1)
    return dict(out)
