"""The demo roster (ioc.demo_roster) is a valid roster: every department has a group and someone
on duty now, the center has a duty officer reached by SMS, and the channels rotate."""

from __future__ import annotations

import time

from ioc.demo_roster import demo_roster
from ioc.domain.departments import all_departments, department_ids
from ioc.domain.roster import groups_for, on_duty, validate_roster


def test_the_demo_roster_passes_validation_with_the_citys_departments(city):
    roster = demo_roster(all_departments(city), int(time.time() * 1000))
    assert validate_roster(roster.to_dict(), department_ids(city)) == roster


def test_every_department_has_a_group_and_someone_on_duty_now(city):
    now = int(time.time() * 1000)
    roster = demo_roster(all_departments(city), now)
    for d in all_departments(city):
        assert groups_for(roster, d.id) and on_duty(roster, d.id, now), d.id


def test_the_center_has_a_leader_and_an_officer_reached_by_sms_on_duty_now():
    from ioc.domain.departments import FUNCTIONAL

    now = int(time.time() * 1000)
    people = on_duty(demo_roster(FUNCTIONAL, now), "center", now)
    assert [s.role for s, _ in people] == ["值班领导", "值班员"] and "sms" in people[1][1].channels


def test_the_demo_groups_use_every_channel_and_sign_dingtalk_and_feishu():
    from ioc.domain.departments import FUNCTIONAL

    groups = demo_roster(FUNCTIONAL, 0).groups
    assert {g.channel for g in groups} == {"wecom", "dingtalk", "feishu", "email"}
    assert all(g.secret for g in groups if g.channel in ("dingtalk", "feishu"))
