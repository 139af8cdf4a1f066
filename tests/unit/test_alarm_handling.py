"""Specification of operator actions on alarms (ioc.domain.alarm_handling): escalation per
severity, acknowledged alarms never escalate, who may acknowledge or clear, the clear note."""

from __future__ import annotations

import pytest

from ioc.domain.alarm_handling import (
    NOTE_MAX, Acknowledgement, AlarmActionError, AlarmPermissionError, Escalation, EscalationPolicy,
    check_acknowledge, check_clear, escalation, may_acknowledge, may_clear,
)
from ioc.settings import Settings

MIN = 60_000
T0 = 1_764_000_000_000
POLICY = EscalationPolicy()


def alarm(severity: str) -> dict:
    return {"id": f"dev-1|rule_{severity}", "severity": severity, "raised_at": T0}


@pytest.mark.parametrize("severity, minutes", [("critical", 5), ("major", 15)])
def test_an_unacknowledged_alarm_escalates_after_its_severitys_minutes(severity, minutes):
    assert escalation(alarm(severity), None, T0 + minutes * MIN - 1, POLICY) == Escalation(False)
    at = escalation(alarm(severity), None, T0 + minutes * MIN, POLICY)
    assert at == Escalation(True, T0 + minutes * MIN, 0)
    later = escalation(alarm(severity), None, T0 + (minutes + 7) * MIN + 30_000, POLICY)
    assert later == Escalation(True, T0 + minutes * MIN, 7)


def test_a_minor_alarm_never_escalates_by_default():
    assert not escalation(alarm("minor"), None, T0 + 10_000 * MIN, POLICY).escalated


def test_an_acknowledged_alarm_never_escalates():
    ack = Acknowledgement("zhang", "operator", T0 + MIN)
    for severity in ("critical", "major", "minor"):
        assert escalation(alarm(severity), ack, T0 + 10_000 * MIN, POLICY) == Escalation(False)


def test_the_policy_comes_from_settings_where_zero_means_never():
    assert Settings.from_env(env={}).escalation_policy() == EscalationPolicy(5, 15, None)
    policy = Settings.from_env(env={"IOC_ALARM_ESCALATE_CRITICAL_MIN": "0", "IOC_ALARM_ESCALATE_MINOR_MIN": "30"}).escalation_policy()
    assert policy == EscalationPolicy(None, 15, 30)
    assert not escalation(alarm("critical"), None, T0 + 1000 * MIN, policy).escalated
    assert escalation(alarm("minor"), None, T0 + 30 * MIN, policy).escalated


def test_an_unknown_severity_never_escalates():
    assert not escalation(alarm("whatever"), None, T0 + 1000 * MIN, POLICY).escalated


@pytest.mark.parametrize("role, ack, clear", [
    ("operator", True, False), ("dispatcher", True, True), ("leader", True, True), ("admin", False, False),
    ("handler", False, False), ("inspector", False, False), ("", False, False),
])
def test_who_may_acknowledge_and_who_may_clear(role, ack, clear):
    assert may_acknowledge({role}) is ack
    assert may_clear({role}) is clear


def test_any_one_permitted_role_is_enough():
    assert may_clear({"operator", "leader"})
    assert not may_clear(set())


def test_an_operator_may_not_clear_and_is_told_why():
    with pytest.raises(AlarmPermissionError, match="operator may acknowledge only"):
        check_clear({"operator"}, "sensor checked on site")
    with pytest.raises(AlarmPermissionError, match="may not acknowledge"):
        check_acknowledge({"inspector"})
    check_acknowledge({"operator"})  # allowed: no error


@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_a_hand_clear_needs_a_note(note):
    with pytest.raises(AlarmActionError, match="needs a note"):
        check_clear({"dispatcher"}, note)


def test_a_note_longer_than_500_characters_is_refused():
    with pytest.raises(AlarmActionError, match="at most 500"):
        check_clear({"dispatcher"}, "x" * (NOTE_MAX + 1))
    assert check_clear({"dispatcher"}, "x" * NOTE_MAX) == "x" * NOTE_MAX


def test_the_note_is_trimmed_and_errors_are_value_errors():
    assert check_clear({"leader"}, "  现场核实，传感器故障  ") == "现场核实，传感器故障"
    assert issubclass(AlarmPermissionError, ValueError)
