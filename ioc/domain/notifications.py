"""Notification intents (通知意图) and the texts people receive. Pure: no I/O.

An `Intent` says that something happened that people should hear of: a case dispatched to a
department, a case overdue, an escalated critical alarm, a linked event's task… It is written to
the notify outbox (`ioc:{core}:notify:outbox`) by the same Lua script or MULTI as the change that
caused it, so a change is never committed without its intent, nor an intent without its change.
The notifier worker (`ioc.notify.worker`) turns each intent into deliveries
(`ioc.domain.notify_routing.resolve`) and each delivery into a `Message` rendered here.

`facts` carries what the texts need, already in people's words (class, district and department
names in Chinese and English, the address, the deadline, a portal link), so rendering needs no
lookup and an intent written today reads the same tomorrow.

Kinds (`KINDS`) and subjects (`case:<id>`, `alarm:<alarm id>`, `event:<id>`) are fixed by
/work/wt/notes/FIELD-SPEC.md. The dedupe key of one delivery is `delivery_key(...)`:
`<subject>|<version>|<kind>|<channel>|<recipient>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from .clock import local_text

KINDS: tuple[str, ...] = ("case.dispatched", "case.rework", "case.overdue", "case.deferral_requested", "case.urged",
                          "alarm.escalated", "event.started", "event.task", "event.level", "event.instruction", "test")
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
LANGS = ("zh", "en")


class IntentError(ValueError):
    """An outbox entry that is not a readable intent (the worker logs it and acknowledges it)."""


@dataclass(frozen=True)
class Intent:
    kind: str
    subject: str  # "case:<id>" | "alarm:<alarm id>" | "event:<id>"
    version: str  # the subject's version the intent belongs to (with the dedupe key: one delivery per version)
    at: int  # epoch ms of the triggering change (the start of the trigger -> delivered latency)
    severity: str = "info"  # "info" | "warning" | "critical"
    departments: tuple[str, ...] = ()  # department ids concerned (their groups / duty)
    district: str = ""
    facts: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise IntentError(f"unknown notification kind {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise IntentError(f"unknown severity {self.severity!r}")

    @property
    def subject_type(self) -> str:
        return self.subject.split(":", 1)[0]

    @property
    def subject_id(self) -> str:
        return self.subject.split(":", 1)[1] if ":" in self.subject else self.subject


@dataclass(frozen=True)
class Message:
    """What a channel client sends: a title, a markdown-light text (lines, `**bold**` at most), a
    link (portal path or absolute URL, "" for none) and phones to @mention in a group."""

    title: str
    text: str
    link: str = ""
    mentions: tuple[str, ...] = ()

    def plain(self) -> str:
        """Title, text and link as plain text (markdown marks removed)."""
        body = self.text.replace("**", "")
        lines = [self.title, body] if self.title else [body]
        if self.link:
            lines.append(self.link)
        return "\n".join(line for line in lines if line)


def intent_fields(intent: Intent) -> dict[str, str]:
    """The outbox entry's fields (strings only: a number through Lua would become 1.7e+12)."""
    return {"kind": intent.kind, "subject": intent.subject, "version": str(intent.version), "at": str(int(intent.at)),
            "severity": intent.severity, "departments": ",".join(intent.departments), "district": intent.district,
            "facts": orjson.dumps(intent.facts).decode()}


def flat_fields(intent: Intent) -> list[str]:
    """`intent_fields` as [field, value, …] for a Lua script's XADD."""
    return [x for pair in intent_fields(intent).items() for x in pair]


def intent_from_fields(fields: dict) -> Intent:
    """The intent of an outbox entry (bytes or str keys and values); `IntentError` if unreadable."""
    f = {(k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
         for k, v in (fields or {}).items()}
    try:
        facts = orjson.loads(f.get("facts") or "{}")
        if not isinstance(facts, dict):
            raise IntentError("facts must be a JSON object")
        return Intent(kind=f["kind"], subject=f["subject"], version=f.get("version", ""), at=int(f.get("at") or 0),
                      severity=f.get("severity") or "info",
                      departments=tuple(d for d in (f.get("departments") or "").split(",") if d),
                      district=f.get("district", ""), facts=facts)
    except (KeyError, ValueError, orjson.JSONDecodeError) as e:
        raise IntentError(f"unreadable intent: {e}") from None


def delivery_key(subject: str, version: str, kind: str, channel: str, recipient: str) -> str:
    return f"{subject}|{version}|{kind}|{channel}|{recipient}"


# ---- texts ----------------------------------------------------------------------------------------

KIND_LABELS = {
    "case.dispatched": ("案件派遣", "Case dispatched"),
    "case.rework": ("案件返工", "Case sent back for rework"),
    "case.overdue": ("案件超期", "Case overdue"),
    "case.deferral_requested": ("延期申请", "Deferral requested"),
    "case.urged": ("案件督办", "Case urged"),
    "alarm.escalated": ("告警升级", "Alarm escalated"),
    "event.started": ("联动事件启动", "Linked event started"),
    "event.task": ("联动任务", "Event task"),
    "event.level": ("响应级别调整", "Response level changed"),
    "event.instruction": ("领导批示", "Leader's instruction"),
    "test": ("测试通知", "Test notification"),
}


def kind_label(kind: str, lang: str = "zh") -> str:
    zh, en = KIND_LABELS.get(kind, (kind, kind))
    return en if lang == "en" else zh


def _w(facts: dict, name: str, lang: str) -> str:
    """A fact in `lang` (`<name>_en` / `<name>_zh`, else `<name>`), "" when absent."""
    if lang == "en":
        return str(facts.get(f"{name}_en") or facts.get(name) or facts.get(f"{name}_zh") or "")
    return str(facts.get(f"{name}_zh") or facts.get(name) or facts.get(f"{name}_en") or "")


def _when(ms) -> str:
    try:
        return local_text(int(ms), "%m-%d %H:%M") if ms and int(ms) > 0 else ""
    except (TypeError, ValueError):
        return ""


def summary_line(intent: Intent, lang: str = "zh") -> str:
    """One line naming the subject and what happened (used alone in a grouped message)."""
    f, en = intent.facts, lang == "en"
    subject = intent.subject_id
    if intent.subject_type == "case":
        what = " · ".join(x for x in (_w(f, "class", lang), _w(f, "district", lang), str(f.get("address") or "")) if x)
        return f"{kind_label(intent.kind, lang)} {subject}" + (f" ({what})" if en and what else f"（{what}）" if what else "")
    if intent.subject_type == "alarm":
        what = " · ".join(x for x in (_w(f, "name", lang), _w(f, "place", lang), _w(f, "district", lang)) if x)
        return f"{kind_label(intent.kind, lang)}: {what or subject}" if en else f"{kind_label(intent.kind, lang)}：{what or subject}"
    if intent.subject_type == "event":
        title = str(f.get("title") or _w(f, "plan", lang) or subject)
        extra = _w(f, "department", lang) if intent.kind == "event.task" else _w(f, "level", lang)
        tail = (f" ({extra})" if en else f"（{extra}）") if extra else ""
        return f"{kind_label(intent.kind, lang)} {subject} {title}{tail}"
    return f"{kind_label(intent.kind, lang)}: {f.get('text') or subject}"


def render(intent: Intent, lang: str = "zh") -> Message:
    """The message for one intent, in Chinese (or English for a recipient who prefers it)."""
    f, en = intent.facts, lang == "en"
    sep = ": " if en else "："
    lines: list[str] = []

    def line(zh: str, en_label: str, value) -> None:
        if value not in (None, "", 0):
            lines.append(f"{en_label if en else zh}{sep}{value}")

    k = intent.kind
    if intent.subject_type == "case":
        line("案件", "Case", intent.subject_id)
        line("类别", "Class", _w(f, "class", lang))
        line("区域", "District", _w(f, "district", lang))
        line("地址", "Address", f.get("address"))
        line("处置部门", "Department", _w(f, "department", lang))
        if k == "case.overdue":
            line("阶段", "Stage", _w(f, "stage", lang))
            line("已超期", "Overdue since", _when(f.get("deadline")))
        else:
            line("处置时限", "Deadline", _when(f.get("deadline")))
        if k == "case.rework":
            line("返工次数", "Rework", f.get("rework_count"))
        if k == "case.deferral_requested":
            line("申请延期", "Hours asked", f"{f.get('hours')} {'h' if en else '小时'}" if f.get("hours") else "")
        line("督办人" if k == "case.urged" else "说明", "By" if k == "case.urged" else "Note",
             f.get("by") if k == "case.urged" else "")
        line("说明", "Note", f.get("note"))
        title = f"【{kind_label(k, lang)}】{_w(f, 'class', lang) or intent.subject_id}" if not en else \
            f"[{kind_label(k, lang)}] {_w(f, 'class', lang) or intent.subject_id}"
    elif intent.subject_type == "alarm":
        line("告警", "Alarm", _w(f, "name", lang))
        line("位置", "Where", _w(f, "place", lang))
        line("区域", "District", _w(f, "district", lang))
        line("数值", "Value", f.get("value"))
        line("发生时间", "Raised", _when(f.get("raised_at")))
        line("未确认", "Unacknowledged for", f"{f.get('minutes')} {'min' if en else '分钟'}" if f.get("minutes") else "")
        title = f"【{kind_label(k, lang)}】{_w(f, 'name', lang)}" if not en else f"[{kind_label(k, lang)}] {_w(f, 'name', lang)}"
    elif intent.subject_type == "event":
        line("事件", "Event", f"{intent.subject_id} {f.get('title') or ''}".strip())
        line("预案", "Plan", _w(f, "plan", lang))
        line("响应级别", "Level", _w(f, "level", lang))
        line("区域", "District", _w(f, "district", lang))
        if k == "event.task":
            line("部门", "Department", _w(f, "department", lang))
            line("任务", "Task", _w(f, "task", lang))
            line("签收时限", "Acknowledge within", f"{f.get('ack_min')} {'min' if en else '分钟'}" if f.get("ack_min") else "")
        if k == "event.level":
            line("调整原因", "Reason", f.get("reason"))
        if k == "event.instruction":
            line("批示", "Instruction", f.get("text"))
        line("指挥" if k != "event.instruction" else "批示人", "By", f.get("by"))
        title = f"【{kind_label(k, lang)}】{f.get('title') or _w(f, 'plan', lang) or intent.subject_id}" if not en else \
            f"[{kind_label(k, lang)}] {f.get('title') or _w(f, 'plan', lang) or intent.subject_id}"
    else:
        lines.append(str(f.get("text") or ("This is a test notification." if en else "这是一条测试通知。")))
        title = f"【{kind_label(k, lang)}】" if not en else f"[{kind_label(k, lang)}]"
    if intent.severity == "critical":
        title = ("[CRITICAL] " if en else "【紧急】") + title
    return Message(title=title, text="\n".join(lines), link=str(f.get("link") or ""))


def render_group(intents: list[Intent], lang: str = "zh", recipient_name: str = "") -> Message:
    """One message for several intents of one (route, recipient, channel) within a grouping
    window: "3 条新通知（城管局）" with a line per intent (a single intent: `render`)."""
    if len(intents) == 1:
        return render(intents[0], lang)
    n = len(intents)
    kinds = sorted({i.kind for i in intents}, key=KINDS.index)
    label = "、".join(kind_label(k, lang) for k in kinds) if lang != "en" else ", ".join(kind_label(k, lang) for k in kinds)
    if lang == "en":
        title = f"{n} new notifications" + (f" for {recipient_name}" if recipient_name else "") + f": {label}"
    else:
        title = f"{n} 条新通知" + (f"（{recipient_name}）" if recipient_name else "") + f"：{label}"
    if any(i.severity == "critical" for i in intents):
        title = ("[CRITICAL] " if lang == "en" else "【紧急】") + title
    lines = [f"{k + 1}. {summary_line(i, lang)}" for k, i in enumerate(intents)]
    links = {str(i.facts.get("link") or "") for i in intents} - {""}
    return Message(title=title, text="\n".join(lines), link=links.pop() if len(links) == 1 else "")
