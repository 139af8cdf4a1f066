"""The bench's `notify` scenario (`python -m bench --only notify`): its roster and routes are valid
and keep every bench message its own (no grouping), what the receivers got is matched to the
intents by their case, lost and duplicated deliveries are counted per dedupe key, every figure
has its target, and the quick scenario runs the real notifier against the local receivers.
Timing is never asserted."""

from __future__ import annotations

import pytest

from bench import notify
from bench.model import Measurement

DEPARTMENTS = ["chengguan", "shuiwu", "town_yangshe", "zhujian", "jiaotong"]


def _produced(n: int, at0: int = 1_700_000_000_000) -> notify.Produced:
    out = notify.Produced(started=at0 / 1000, ended=at0 / 1000 + n / 200)
    for k in range(n):
        cid = notify.case_id("181500", k)
        out.at[cid], out.department[cid] = at0 + k * 5, DEPARTMENTS[k % len(DEPARTMENTS)]
    return out


def _record(cid: str, department: str, at: int, n: int = 1) -> dict:
    channel, target = notify.recipients_of(notify.bench_roster(DEPARTMENTS))[department]
    return {"id": n, "at": at, "channel": channel, "target": target, "accepted": True,
            "text": f"【案件派遣】占道经营\n案件：{cid}\n地址：bench 1"}


def test_the_bench_roster_gives_each_department_one_group_the_channels_in_turn_signed_where_they_sign():
    from ioc.domain.roster import validate_roster

    data = notify.bench_roster(DEPARTMENTS)
    roster = validate_roster(data, DEPARTMENTS)

    assert [g.department for g in roster.groups] == DEPARTMENTS
    assert [g.channel for g in roster.groups] == ["wecom", "dingtalk", "feishu", "email", "wecom"]
    assert all(bool(g.secret) == (g.channel in ("dingtalk", "feishu")) for g in roster.groups)


def test_the_bench_route_sends_every_dispatch_to_the_department_s_group_without_grouping_or_quiet_hours():
    from ioc.domain.notify_routing import config_from_dict

    config = config_from_dict(notify.bench_routes())

    (route,) = config.routes
    assert route.kinds == (notify.KIND,) and route.targets == ("department_group",)
    assert (route.group_window_s, route.repeat_min, route.quiet) == (0, 0, False)
    assert not config.quiet_hours.enabled


def test_a_received_message_is_matched_to_its_case_and_a_grouped_one_to_each_of_its_cases():
    records = [_record("NB181500-000001", "shuiwu", 1000),
               {"id": 2, "at": 1001, "channel": "wecom", "target": "k", "text": "3 条新通知：\n1. NB181500-000002\n2. NB181500-000003"},
               {"id": 3, "at": 1002, "channel": "wecom", "target": "k", "text": "【测试通知】"}]

    got, strangers = notify.deliveries(records)

    assert [d.case_id for d in got] == ["NB181500-000001", "NB181500-000002", "NB181500-000003"]
    assert got[0].received_ms == 1000 and strangers == 1


def test_every_figure_has_its_target():
    produced = _produced(40)
    records = [_record(cid, produced.department[cid], at + 120, k) for k, (cid, at) in enumerate(produced.at.items())]
    got, _ = notify.deliveries(records)

    rows = notify.results(produced, got, notify.recipients_of(notify.bench_roster(DEPARTMENTS)), {"rate": 200.0}).measurements

    assert all(isinstance(m, Measurement) and m.scenario == "notify" for m in rows)
    assert [(m.name, m.target) for m in rows] == [
        ("trigger → delivered p50 (200/s)", ""), ("trigger → delivered p95 (200/s)", ""),
        ("trigger → delivered p99 (200/s)", "≤ 2 s"), ("deliveries per second achieved", "≥ 95% of offered (200/s)"),
        ("deliveries lost (dedupe keys never delivered)", "0"),
        ("deliveries duplicated (dedupe keys delivered twice or more)", "0")]
    assert rows[2].value == pytest.approx(0.12) and rows[4].value == 0 and rows[5].value == 0
    assert set(rows[2].detail["per_channel"]) == {"wecom", "dingtalk", "feishu", "email"}


def test_a_delivery_never_made_is_lost_and_one_made_twice_is_duplicated():
    produced = _produced(10)
    items = list(produced.at.items())
    records = [_record(cid, produced.department[cid], at + 100, k) for k, (cid, at) in enumerate(items[1:])]
    records.append(_record(items[5][0], produced.department[items[5][0]], items[5][1] + 900, 99))
    got, _ = notify.deliveries(records)

    rows = {m.name: m for m in notify.results(produced, got, notify.recipients_of(notify.bench_roster(DEPARTMENTS)),
                                              {"rate": 200.0}).measurements}

    lost, twice = rows["deliveries lost (dedupe keys never delivered)"], rows["deliveries duplicated (dedupe keys delivered twice or more)"]
    assert (lost.value, lost.passed) == (1, False) and items[0][0] in lost.detail["first"][0]
    assert (twice.value, twice.passed) == (1, False)
    assert rows["trigger → delivered p99 (200/s)"].passed is False  # a lost delivery fails the latency too


@pytest.mark.integration
@pytest.mark.slow
def test_the_quick_scenario_runs_the_notifier_against_the_local_receivers_and_reports_every_figure(quick_bench):
    pytest.importorskip("ioc.notify.worker", reason="the notifier (piece notify) is not merged")

    rows, page = quick_bench("notify")

    p99 = rows["trigger → delivered p99 (50/s)"]
    assert p99["target"] == "≤ 2 s" and p99["passed"] in (True, False) and p99["value"] > 0
    assert p99["detail"]["intents"] == 400 and p99["detail"]["delivered"] == 400
    assert rows["deliveries lost (dedupe keys never delivered)"]["value"] == 0
    assert rows["deliveries duplicated (dedupe keys delivered twice or more)"]["value"] == 0
    assert "| notify | trigger → delivered p99 (50/s) |" in page
