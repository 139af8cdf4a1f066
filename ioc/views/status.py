"""Pure view model of the intake status page: from a Redis snapshot to display strings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ioc.domain.city_state import FleetCounts
from ioc.domain.clock import local_text
from ioc.domain.kinds import KINDS
from ioc.domain.rules import SEVERITIES
from ioc.i18n import t

CARDS = ("devices", "online", "online_rate", "accepted", "rejected", "alarms_active")


@dataclass(frozen=True)
class StatusView:
    values: dict[str, str]
    kinds: list[dict]
    updated: str
    alarms_by_severity: str


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_rate(part: int, whole: int) -> str:
    return "—" if whole == 0 else f"{100 * part / whole:.1f}%"


def status_view(fleet: FleetCounts, counters: dict[str, int], alarms: list[dict], lang: str, now_ms: int) -> StatusView:
    severities = Counter(a.get("severity") for a in alarms)
    values = {
        "devices": fmt_int(fleet.devices),
        "online": fmt_int(fleet.online),
        "online_rate": fmt_rate(fleet.online, fleet.devices),
        "accepted": fmt_int(counters.get("messages:accepted", 0)),
        "rejected": fmt_int(counters.get("messages:rejected", 0)),
        "alarms_active": fmt_int(len(alarms)),
    }
    kinds = []
    for kind_id, kind in KINDS.items():
        total = fleet.by_kind.get(kind_id, 0)
        if not total:
            continue
        kinds.append({
            "kind": kind.name_zh if lang == "zh" else kind.name_en,
            "devices": total,
            "online": fleet.online_by_kind.get(kind_id, 0),
            "rate": fmt_rate(fleet.online_by_kind.get(kind_id, 0), total),
            "messages": counters.get(f"accepted:{kind_id}", 0),
        })
    updated = local_text(now_ms, "%Y-%m-%d %H:%M:%S")
    by_severity = " · ".join(f"{t('severity_' + s, lang)} {severities.get(s, 0)}" for s in SEVERITIES)
    return StatusView(values, kinds, updated, by_severity)


def recorder_text(lag: dict[str, float] | None, counters: dict[str, int], lang: str) -> str:
    """The recorder's line on /status: its lag (the slowest stream), rows written and entries
    lost; or that it is not running (`lag` None: no live recorder heartbeat)."""
    if lag is None:
        return t("recorder_down", lang)
    rows = sum(v for k, v in counters.items() if k.startswith("recorder:rows:"))
    lost = sum(v for k, v in counters.items() if k.startswith("recorder:lost:"))
    worst = max(lag.values(), default=0.0)
    return t("recorder_line", lang).format(lag=f"{worst:.1f}", rows=fmt_int(rows), lost=fmt_int(lost))
