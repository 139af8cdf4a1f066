"""People's words for a proposal to start a linked event (大联动), for the wall and the events page.

    建议启动防汛Ⅳ级响应 / Proposed: flood control response, level IV
    杨舍镇 · 暨阳湖水位站 · 水位 4.32 m（警戒 4.20 m）
    Yangshe town · Jiyang Lake gauge · Water level 4.32 m (warning line 4.20 m)

Device and district names, never ids (an id only when the name is unknown); values rounded for
their measure with their unit (`ioc.views.readings_text`, or the plans' trigger table for an
attribute the kind catalog lacks, such as a rain gauge's rainfall). A water level's threshold that
is the warning (警戒) or guarantee (保证) line is named so; any other threshold reads
`阈值 > 100 mg/L` / `threshold > 100 mg/L`. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ioc.domain.event_triggers import Evidence, Proposal
from ioc.domain.kinds import KINDS
from ioc.domain.plans import LEVEL_NUMERALS, TRIGGER_ATTRIBUTES, Plan, attribute_unit
from ioc.views.readings_text import OPS, attribute_name, value_text

# (kind, attribute, threshold) -> (zh, en): thresholds that are a named line
NAMED_LINES: dict[tuple[str, str, float], tuple[str, str]] = {
    ("water_level", "waterLevel", 4.2): ("警戒", "warning line"),
    ("water_level", "waterLevel", 4.7): ("保证", "guarantee line"),
}
_THRESHOLD = ("阈值", "threshold")
_MINUTES = ("已持续 {n} 分钟", "for {n} min")
_DISTRICTS = ("涉及区镇：", "Districts: ")
_MORE = ("另有 {n} 个设备", "{n} more devices")


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def _known(kind: str, attribute: str) -> bool:
    k = KINDS.get(kind)
    return k is not None and k.attribute(attribute) is not None


def _name(kind: str, attribute: str, lang: str) -> str:
    if _known(kind, attribute):
        return attribute_name(kind, attribute, lang)
    zh, en, _unit, _digits = TRIGGER_ATTRIBUTES.get(kind, {}).get(attribute, (attribute, attribute, "", 2))
    return en[:1].upper() + en[1:] if lang == "en" else zh


def _value(kind: str, attribute: str, value: float, lang: str, trim: bool = False) -> str:
    if _known(kind, attribute):
        return value_text(kind, attribute, value, lang, trim=trim)
    digits = TRIGGER_ATTRIBUTES.get(kind, {}).get(attribute, ("", "", "", 2))[3]
    unit = attribute_unit(kind, attribute)
    number = f"{value:.0f}" if trim and float(value).is_integer() else f"{value:,.{digits}f}"
    return f"{number} {unit}" if unit else number


def _sentence_case(text: str) -> str:
    """"Flood control" -> "flood control" inside a sentence (an acronym such as "COD" stays)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def headline(proposal: Proposal, plan: Plan | None, lang: str = "zh") -> str:
    """"建议启动防汛Ⅳ级响应" / "Proposed: flood control response, level IV"."""
    name = plan.name(lang) if plan is not None else proposal.plan
    if lang == "en":
        return f"Proposed: {_sentence_case(name)} response, level {proposal.level}"
    return f"建议启动{name}{LEVEL_NUMERALS.get(proposal.level, proposal.level)}级响应"


def threshold_text(evidence: Evidence, lang: str = "zh") -> str:
    """"警戒 4.20 m" / "warning line 4.20 m"; otherwise "阈值 > 100 mg/L" / "threshold > 100 mg/L"."""
    value = _value(evidence.kind, evidence.attribute, evidence.threshold, lang, trim=False)
    line = NAMED_LINES.get((evidence.kind, evidence.attribute, round(float(evidence.threshold), 6)))
    if line is not None:
        return f"{_pick(line, lang)} {value}"
    op = OPS.get(evidence.op, evidence.op)
    return f"{_pick(_THRESHOLD, lang)} {op} {value}"


def reading_text(evidence: Evidence, lang: str = "zh") -> str:
    """"水位 4.32 m（警戒 4.20 m）" / "Water level 4.32 m (warning line 4.20 m)"."""
    value = _value(evidence.kind, evidence.attribute, evidence.value, lang)
    threshold = threshold_text(evidence, lang)
    paren = f" ({threshold})" if lang == "en" else f"（{threshold}）"
    return f"{_name(evidence.kind, evidence.attribute, lang)} {value}{paren}"


def evidence_line(evidence: Evidence, lang: str = "zh", city=None, now_ms: int = 0, minutes: int = 0) -> str:
    """"杨舍镇 · 暨阳湖水位站 · 水位 4.32 m（警戒 4.20 m）", with "已持续 6 分钟" when the trigger
    needs a duration (`minutes` > 0) and `now_ms` is given. `city`: a CityMap for district names."""
    district = ""
    if evidence.district:
        found = city.district(evidence.district) if city is not None else None
        district = found.name(lang) if found is not None else evidence.district
    parts = [district, evidence.name or evidence.device_id, reading_text(evidence, lang)]
    if minutes > 0 and now_ms and evidence.since_ms:
        held = max(0, (now_ms - evidence.since_ms) // 60_000)
        parts.append(_pick(_MINUTES, lang).format(n=held))
    return " · ".join(p for p in parts if p)


@dataclass(frozen=True)
class ProposalWords:
    """A proposal in people's words: the headline, the trigger met, the evidence and the districts."""

    headline: str
    trigger: str  # the plan's wording of the trigger met, e.g. "水位 ≥ 4.20 m，至少 2 个区镇"
    evidence: tuple[str, ...]
    districts: str  # "涉及区镇：杨舍镇、锦丰镇" / "Districts: Yangshe town, Jinfeng town"
    more: str = ""  # "另有 12 个设备" when the evidence was cut to `limit` lines


def proposal_words(proposal: Proposal, plan: Plan | None, lang: str = "zh", city=None, now_ms: int = 0,
                   limit: int = 8) -> ProposalWords:
    """Everything a proposal banner or card shows, in `lang` (evidence cut to `limit` lines)."""
    level = plan.level(proposal.level) if plan is not None else None
    trigger = level.triggers[proposal.trigger] if level is not None and 0 <= proposal.trigger < len(level.triggers) else None
    minutes = int(trigger.minutes) if trigger is not None else 0
    lines = tuple(evidence_line(e, lang, city, now_ms, minutes) for e in proposal.evidence[:limit])
    rest = len(proposal.evidence) - len(lines)
    names = []
    for district_id in proposal.districts:
        found = city.district(district_id) if city is not None else None
        names.append(found.name(lang) if found is not None else district_id)
    sep = ", " if lang == "en" else "、"
    return ProposalWords(
        headline=headline(proposal, plan, lang),
        trigger=trigger.describe(lang) if trigger is not None else "",
        evidence=lines,
        districts=_pick(_DISTRICTS, lang) + sep.join(names) if names else "",
        more=_pick(_MORE, lang).format(n=rest) if rest > 0 else "",
    )
