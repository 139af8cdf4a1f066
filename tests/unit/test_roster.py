"""The duty roster (ioc.domain.roster): validation with the place and reason, who is on duty
(shifts across midnight), a unit's groups, the JSON form and redaction of robot keys."""

from __future__ import annotations

import copy

import pytest

from ioc.domain.roster import (REDACTED, Roster, RosterError, Shift, contacts_for, groups_for, iso_ms, on_duty,
                               validate_roster)

DEPARTMENTS = {"urban_management", "water_affairs", "town_yangshe"}


def sample() -> dict:
    return {
        "contacts": [
            {"id": "wang", "name": "王敏", "phone": "13812345678", "email": "wangmin@zjg.gov.cn", "department": "",
             "title": "值班主任", "channels": ["sms", "email"]},
            {"id": "li", "name": "李强", "phone": "0512-58681234", "department": "urban_management", "channels": []},
            {"id": "zhao", "name": "赵丽", "phone": "13912345678", "department": "urban_management", "channels": ["sms"]},
        ],
        "groups": [
            {"id": "um-wecom", "name": "城管局值班群", "department": "urban_management", "channel": "wecom", "key": "k-um-1"},
            {"id": "center-ding", "name": "城运中心群", "department": "", "channel": "dingtalk", "key": "tok1", "secret": "SECabc",
             "mentions": ["13812345678"]},
            {"id": "dispatch-mail", "name": "派遣席邮箱", "department": "dispatch", "channel": "email",
             "key": "a@zjg.gov.cn, b@zjg.gov.cn"},
        ],
        "shifts": [
            {"unit": "center", "contact_id": "wang", "starts": "2026-12-06T20:00", "ends": "2026-12-07T08:00", "role": "值班领导"},
            {"unit": "urban_management", "contact_id": "li", "starts": "2026-12-06T08:00", "ends": "2026-12-06T20:00"},
            {"unit": "urban_management", "contact_id": "zhao", "starts": "2026-12-06T20:00", "ends": "2026-12-07T08:00"},
        ],
    }


def refused(data) -> RosterError:
    with pytest.raises(RosterError) as info:
        validate_roster(data, DEPARTMENTS)
    return info.value


def test_a_good_roster_is_accepted_with_every_part():
    roster = validate_roster(sample(), DEPARTMENTS)
    assert (len(roster.contacts), len(roster.groups), len(roster.shifts)) == (3, 3, 3)
    assert roster.contact("li").phone == "0512-58681234"


def test_a_shift_without_a_role_is_a_duty_officers():
    roster = validate_roster(sample(), DEPARTMENTS)
    assert roster.shifts[1].role == "值班员"


@pytest.mark.parametrize("change, path, words", [
    (lambda d: d["contacts"][1].update(department="fire_brigade"), "contacts[1].department", "unknown department"),
    (lambda d: d["groups"][0].update(department="nowhere"), "groups[0].department", "unknown department"),
    (lambda d: d["shifts"][1].update(unit="police"), "shifts[1].unit", "unknown department"),
    (lambda d: d["contacts"][0].update(phone="12812345678"), "contacts[0].phone", "neither a mainland mobile"),
    (lambda d: d["contacts"][0].update(phone="1381234567"), "contacts[0].phone", "neither a mainland mobile"),
    (lambda d: d["contacts"][0].update(email="wangmin@"), "contacts[0].email", "not an email address"),
    (lambda d: d["groups"][2].update(key="a@zjg.gov.cn, nobody"), "groups[2].key", "not an email address"),
    (lambda d: d["groups"][0].update(channel="telegram"), "groups[0].channel", "unknown channel"),
    (lambda d: d["contacts"][0].update(channels=["fax"]), "contacts[0].channels[0]", "unknown channel"),
    (lambda d: d["contacts"][1].update(channels=["sms"]), "contacts[1].channels", "sms needs a mainland mobile"),
    (lambda d: d["contacts"][2].update(channels=["email"]), "contacts[2].channels", "email needs an email address"),
    (lambda d: d["groups"][0].pop("key"), "groups[0].key", "missing"),
    (lambda d: d["contacts"][0].pop("name"), "contacts[0].name", "missing"),
    (lambda d: d["shifts"][0].pop("ends"), "shifts[0].ends", "missing"),
    (lambda d: d["shifts"][0].update(contact_id="nobody"), "shifts[0].contact_id", "unknown contact"),
    (lambda d: d["shifts"][0].update(ends="2026-12-06T19:00"), "shifts[0].ends", "ends after it starts"),
    (lambda d: d["shifts"][0].update(starts="yesterday"), "shifts[0].starts", "not an ISO date-time"),
    (lambda d: d["contacts"].append(dict(d["contacts"][0])), "contacts[3].id", "duplicate contact id"),
    (lambda d: d["groups"][0].update(secret="x"), "groups[0].secret", "only dingtalk and feishu"),
    (lambda d: d["groups"][1].update(mentions=["wang"]), "groups[1].mentions[0]", "not a mainland mobile"),
    (lambda d: d["contacts"][0].update(nickname="小王"), "contacts[0].nickname", "unknown field"),
    (lambda d: d.update(people=[]), "people", "unknown field"),
])
def test_a_bad_roster_is_refused_with_the_place_and_the_reason(change, path, words):
    data = sample()
    change(data)
    error = refused(data)
    assert error.path == path and words in error.reason, str(error)


def test_overlapping_shifts_of_one_unit_and_role_are_refused_naming_both():
    data = sample()
    data["shifts"].append({"unit": "urban_management", "contact_id": "wang", "starts": "2026-12-06T19:00",
                           "ends": "2026-12-06T21:00"})
    error = refused(data)
    assert error.path == "shifts[3]" and "overlaps shifts[1]" in error.reason


def test_shifts_of_different_roles_may_overlap():
    data = sample()
    data["shifts"].append({"unit": "center", "contact_id": "li", "starts": "2026-12-06T20:00", "ends": "2026-12-07T08:00",
                           "role": "值班员"})
    assert len(validate_roster(data, DEPARTMENTS).shifts) == 4


def test_shifts_that_touch_do_not_overlap():
    assert validate_roster(sample(), DEPARTMENTS)  # 08:00-20:00 then 20:00-08:00 for urban_management


def test_without_a_department_list_only_the_form_of_an_id_is_checked():
    data = sample()
    data["contacts"][1]["department"] = "fire_brigade"
    assert validate_roster(data).contact("li").department == "fire_brigade"


def test_on_duty_finds_the_night_shift_after_midnight():
    roster = validate_roster(sample(), DEPARTMENTS)
    people = on_duty(roster, "urban_management", iso_ms("2026-12-07T03:00"))
    assert [c.id for _s, c in people] == ["zhao"]


def test_on_duty_finds_the_night_shift_before_midnight():
    roster = validate_roster(sample(), DEPARTMENTS)
    assert [c.id for _s, c in on_duty(roster, "urban_management", iso_ms("2026-12-06T23:59"))] == ["zhao"]


def test_a_shift_ends_exclusive_at_its_end():
    roster = validate_roster(sample(), DEPARTMENTS)
    assert [c.id for _s, c in on_duty(roster, "urban_management", iso_ms("2026-12-06T20:00"))] == ["zhao"]
    assert on_duty(roster, "center", iso_ms("2026-12-07T08:00")) == []


def test_on_duty_lists_the_leader_first():
    data = sample()
    data["shifts"].append({"unit": "center", "contact_id": "li", "starts": "2026-12-06T18:00", "ends": "2026-12-07T08:00"})
    roster = validate_roster(data, DEPARTMENTS)
    assert [s.role for s, _c in on_duty(roster, "center", iso_ms("2026-12-06T22:00"))] == ["值班领导", "值班员"]


def test_a_time_with_an_offset_is_read_in_that_offset():
    shift = Shift("center", "wang", "2026-12-06T12:00:00+00:00", "2026-12-06T13:00:00+00:00")
    assert shift.covers(iso_ms("2026-12-06T20:30"))  # 12:30 UTC is 20:30 China time


def test_groups_for_the_center_include_groups_without_a_department():
    roster = validate_roster(sample(), DEPARTMENTS)
    assert [g.id for g in groups_for(roster, "center")] == ["center-ding"]
    assert [g.id for g in groups_for(roster, "dispatch")] == ["dispatch-mail"]
    assert [g.id for g in groups_for(roster, "urban_management")] == ["um-wecom"]


def test_contacts_for_a_unit():
    roster = validate_roster(sample(), DEPARTMENTS)
    assert [c.id for c in contacts_for(roster, "urban_management")] == ["li", "zhao"]


def test_the_json_form_reads_back_to_the_same_roster():
    roster = validate_roster(sample(), DEPARTMENTS)
    assert Roster.from_dict(roster.to_dict()) == roster
    assert validate_roster(roster.to_dict(), DEPARTMENTS) == roster


def test_a_redacted_roster_hides_robot_keys_and_secrets_but_not_mail_addresses():
    data = validate_roster(sample(), DEPARTMENTS).to_dict(redact=True)
    assert data["groups"][0]["key"] == REDACTED
    assert data["groups"][1]["secret"] == REDACTED
    assert data["groups"][2]["key"] == "a@zjg.gov.cn, b@zjg.gov.cn"
    assert "k-um-1" not in str(data) and "SECabc" not in str(data)


def test_redacted_keys_coming_back_keep_the_stored_ones():
    stored = validate_roster(sample(), DEPARTMENTS)
    edited = copy.deepcopy(stored.to_dict(redact=True))
    edited["groups"][0]["name"] = "城管局群"
    restored = validate_roster(edited, DEPARTMENTS).with_secrets_of(stored)
    assert restored.group("um-wecom").key == "k-um-1" and restored.group("center-ding").secret == "SECabc"
    assert restored.group("um-wecom").name == "城管局群"


def test_a_redacted_key_of_a_new_group_is_refused():
    stored = validate_roster(sample(), DEPARTMENTS)
    edited = stored.to_dict(redact=True)
    edited["groups"][0]["id"] = "new-group"
    with pytest.raises(RosterError) as info:
        validate_roster(edited, DEPARTMENTS).with_secrets_of(stored)
    assert info.value.path == "groups[0].key"


def test_center_as_a_department_is_stored_as_the_empty_one():
    data = sample()
    data["groups"][1]["department"] = "center"
    assert validate_roster(data, DEPARTMENTS).group("center-ding").department == ""
