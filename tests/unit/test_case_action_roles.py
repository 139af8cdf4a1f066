"""`check_may_take`: whether a principal may ever take a case action, whatever the case (the
check every door runs before it looks a case up, so its answer reveals nothing about one)."""

from __future__ import annotations

import pytest

from ioc.domain.access import Principal
from ioc.domain.cases import TRANSITIONS, CaseActionError, CasePermissionError, check_may_take

KIOSK = Principal("kiosk:wall", frozenset({"operator"}), kind="kiosk", read_only=True)


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_each_action_is_open_to_its_roles(action):
    for role in TRANSITIONS[action].roles:
        check_may_take(action, Principal(f"a-{role}", frozenset({role}), department="water_affairs"))


@pytest.mark.parametrize("roles", [{"operator"}, {"admin"}, {"reporter"}, {"inspector"}, set()])
def test_a_principal_without_one_of_the_actions_roles_may_never_take_it(roles):
    with pytest.raises(CasePermissionError, match="may not accept a case"):
        check_may_take("accept", Principal("someone", frozenset(roles)))


def test_a_kiosk_may_take_no_action_whatever_its_roles():
    with pytest.raises(CasePermissionError, match="read-only kiosk"):
        check_may_take("urge", KIOSK)
    with pytest.raises(CasePermissionError, match="read-only kiosk"):
        check_may_take("accept", Principal("kiosk:desk", frozenset({"dispatcher"}), kind="kiosk", read_only=True))


def test_nobody_signed_in_may_take_an_action():
    with pytest.raises(CasePermissionError, match="sign in"):
        check_may_take("accept", None)


def test_an_unknown_action_is_refused_naming_the_action_before_any_role():
    with pytest.raises(CaseActionError) as refused:
        check_may_take("teleport", KIOSK)
    assert refused.value.field == "action" and not isinstance(refused.value, CasePermissionError)


def test_a_handler_of_any_department_passes_the_case_free_check():
    """Whose department a case is in is the case's question: visibility (404), then the workflow."""
    check_may_take("acknowledge", Principal("dept:street_lighting", frozenset({"handler"}), department="street_lighting"))
