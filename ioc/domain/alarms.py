"""Alarms: what a rule transition becomes once it is tied to a device and a district."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .rules import Transition

SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2}


@dataclass(frozen=True)
class Alarm:
    id: str  # "<device_id>|<rule_id>": one active alarm per (device, rule)
    device_id: str
    kind: str
    rule_id: str
    severity: str
    district: str
    attribute: str
    value: object
    threshold: object
    raised_at: int  # epoch ms of the sample that raised it
    name_zh: str
    name_en: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Alarm":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def alarm_id(device_id: str, rule_id: str) -> str:
    return f"{device_id}|{rule_id}"


def alarm_from(transition: Transition, device_id: str, kind: str, district: str) -> Alarm:
    rule = transition.rule
    return Alarm(
        id=alarm_id(device_id, rule.id),
        device_id=device_id,
        kind=kind,
        rule_id=rule.id,
        severity=rule.severity,
        district=district,
        attribute=rule.attribute,
        value=transition.value,
        threshold=rule.threshold,
        raised_at=transition.ts,
        name_zh=rule.name_zh,
        name_en=rule.name_en,
    )
