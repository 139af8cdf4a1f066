"""Pure view model of the audit log page (/audit): entries in, table rows out, in people's words.

An action is shown by its name (`上报案件` / "Case reported"), a role by its name, an outcome as
a word, and the JSON detail as `key: value` pairs with the keys named in the page language, the
values plain (stages, departments, districts, severities, roles by name, yes/no for booleans,
times as China time) and a user change as `before → after`.

No I/O here: the callback reads the audit log and calls these functions; tests call them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ioc.domain.clock import local_text
from ioc.domain.departments import Department
from ioc.domain.rules import RULES_BY_ID
from ioc.i18n import ROLE_NAMES, STRINGS, t
from ioc.views.cases import stage_name

SEP = " · "
# detail keys not shown: the record's bookkeeping (the entry has its own time), never a secret
HIDDEN_KEYS = frozenset({"epoch", "updated_at", "created_at", "revoked_at", "id", "demo", "password_hash", "secret_sha256"})
# detail keys shown first, in this order; any other key follows in the order it came
KEY_ORDER = ("from", "to", "error", "reason", "note", "name", "display_name", "roles", "department", "disabled", "kiosk",
             "active", "revoked_by", "created_by", "hours", "master_id", "source", "report_id", "reported_at", "device_id",
             "rule_id", "severity", "district", "value", "failures", "retry_after_s", "path", "callback")
# readable reasons of the server's own English detail texts
REASONS = {"unknown user": "audit_reason_unknown_user", "user disabled": "audit_reason_user_disabled",
           "wrong password": "audit_reason_wrong_password", "wrong current password": "audit_reason_wrong_current_password",
           "unknown or revoked kiosk link": "audit_reason_bad_kiosk_link"}


def fmt_time(at_ms: int, seconds: bool = True) -> str:
    """Milliseconds since the epoch as China Standard Time ('' for none)."""
    if not at_ms:
        return ""
    return local_text(at_ms, "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def action_name(action: str, lang: str = "zh") -> str:
    """`上报案件` for `case.report`; an action without a name is shown as it is."""
    key = f"audit:{action}"
    return t(key, lang) if key in STRINGS else action


def role_text(role: str, lang: str = "zh") -> str:
    """`调度员、领导` for `dispatcher+leader`; `-` (nobody known) as a dash."""
    if not role or role == "-":
        return "—"
    names = ((ROLE_NAMES[r].get(lang) or ROLE_NAMES[r]["zh"]) if r in ROLE_NAMES else r for r in role.split("+"))
    return ("、" if lang == "zh" else ", ").join(names)


def outcome_text(outcome: str, lang: str = "zh") -> str:
    key = f"audit_outcome_{outcome}"
    return t(key, lang) if key in STRINGS else outcome


def key_name(key: str, lang: str = "zh") -> str:
    label = f"audit_key_{key}"
    return t(label, lang) if label in STRINGS else key


def value_text(key: str, value, lang: str = "zh", departments: Mapping[str, Department] | None = None,
               districts: Mapping[str, str] | None = None) -> str:
    """One detail value in words."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return t("case_yes" if value else "case_no", lang)
    if key in ("from", "to"):
        return stage_name(str(value), lang)
    if key == "roles":
        return role_text("+".join(value) if isinstance(value, (list, tuple)) else str(value), lang)
    if key == "department":
        department = (departments or {}).get(str(value))
        return department.name(lang) if department else str(value)
    if key == "district":
        return (districts or {}).get(str(value), str(value))
    if key == "rule_id" and str(value) in RULES_BY_ID:
        rule = RULES_BY_ID[str(value)]
        return rule.name_en if lang == "en" else rule.name_zh
    if key == "severity":
        label = f"severity_{value}"
        return t(label, lang) if label in STRINGS else str(value)
    if key == "source":
        label = f"case_source_{value}"
        return t(label, lang) if label in STRINGS else str(value)
    if key in ("error", "reason") and str(value) in REASONS:
        return t(REASONS[str(value)], lang)
    if key == "hours":
        return t("audit_hours", lang).format(n=value)
    if key == "retry_after_s":
        return t("audit_seconds", lang).format(n=value)
    if key == "failures":
        return t("audit_times", lang).format(n=value)
    if key.endswith("_at") and isinstance(value, int) and value > 10**11:
        return fmt_time(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ("、" if lang == "zh" else ", ").join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _ordered(keys: Iterable[str]) -> list[str]:
    keys = [k for k in keys if k not in HIDDEN_KEYS]
    return sorted(keys, key=lambda k: (KEY_ORDER.index(k) if k in KEY_ORDER else len(KEY_ORDER), keys.index(k)))


def detail_text(action: str, detail: Mapping | None, lang: str = "zh", departments: Mapping[str, Department] | None = None,
                districts: Mapping[str, str] | None = None) -> str:
    """The entry's detail in words: `环节：待受理 → 待核实 · 意见：…` for a case action, `角色：值班员 →
    调度员` for a user change (`before`/`after`), `键：值` pairs for anything else."""
    if not detail:
        return ""
    detail = dict(detail)
    if "raw" in detail and len(detail) == 1:  # a detail that was not JSON
        return str(detail["raw"])

    def value(key, v):
        return value_text(key, v, lang, departments, districts)

    parts = []
    before, after = detail.pop("before", None), detail.pop("after", None)
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before or {}, after or {}
        for key in _ordered(list(dict.fromkeys([*before, *after]))):
            parts.append(f"{key_name(key, lang)}{t('audit_colon', lang)}{value(key, before.get(key))} → {value(key, after.get(key))}")
    if action.startswith("case.") and ("from" in detail or "to" in detail):
        frm, to = detail.pop("from", ""), detail.pop("to", "")
        stages = value("to", to) if not frm or frm == to else f"{value('from', frm)} → {value('to', to)}"
        parts.append(f"{key_name('stage', lang)}{t('audit_colon', lang)}{stages}")
    for key in _ordered(list(detail)):
        if detail[key] in (None, "", [], {}):  # nothing to say (a change's empty side is shown above as —)
            continue
        parts.append(f"{key_name(key, lang)}{t('audit_colon', lang)}{value(key, detail[key])}")
    return SEP.join(parts)


def audit_rows(entries, lang: str = "zh", departments: Mapping[str, Department] | None = None,
               districts: Mapping[str, str] | None = None) -> list[dict]:
    """Entries as table rows: `action` keeps the code (for filters and machine readers),
    `action_label`, `role`, `outcome` and `detail` are words."""
    return [
        {"id": e.id, "time": fmt_time(e.at_ms), "actor": e.actor, "role": role_text(e.role, lang), "action": e.action,
         "action_label": action_name(e.action, lang), "target": e.target, "outcome": outcome_text(e.outcome, lang), "ip": e.ip,
         "detail": detail_text(e.action, e.detail, lang, departments, districts)}
        for e in entries
    ]
