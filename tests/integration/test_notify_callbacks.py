"""The notification pages' callbacks against a real Redis: registered with their permissions (reads
`view:duty` / `view:notify`, roster and route changes `notify:manage`, silences `notify:silence`),
enforced over HTTP (a dispatcher adds a silence but may not edit the roster; an operator sees
/duty but not /notify), and, called as plain functions, storing each change through its store
with its audit entry and refusing a bad one with a reason in the page language. Robot keys never
reach the browser."""

from __future__ import annotations

import time

import pytest
from dash import no_update

from callbacks import notify
from ioc.adapters import redis_keys as keys
from ioc.adapters.notify_store import NotifyStore
from ioc.adapters.roster_store import RosterStore
from ioc.adapters.user_store import Actor
from ioc.domain.clock import local_text
from ioc.domain.departments import department_ids
from ioc.domain.notifications import intent_from_fields
from ioc.domain.roster import Contact, Group, Roster, Shift
from ioc.i18n import t
from ioc.web.app import create_app
from ioc.web.dash_guard import CALLBACK_PERMISSIONS

ADMIN = Actor("root", "admin", "127.0.0.1")
KEY = "693a91f6-7d2e-4b8c-9a1e-0c5f2a7be4f1"
HOUR_MS = 3_600_000


def local(ms: int) -> str:
    return local_text(ms, "%Y-%m-%d %H:%M")


@pytest.fixture
def roster_store(redis_client, city):
    return RosterStore(redis_client, department_ids(city))


@pytest.fixture
def notify_store(redis_client):
    return NotifyStore(redis_client)


@pytest.fixture
def roster(roster_store):
    """张三 (center) on duty now, 李四 (water affairs) tomorrow; a DingTalk group of water affairs."""
    now = int(time.time() * 1000)
    iso = lambda ms: local_text(ms, "%Y-%m-%dT%H:%M")  # noqa: E731
    value = Roster(
        (Contact("c1", "张三", "13912345678", "", "", "值班长", ("sms",)), Contact("c2", "李四", "13812345678", "", "water_affairs")),
        (Group("g1", "水务局工作群", "water_affairs", "dingtalk", KEY, "SEC0123456789abcdef"),),
        (Shift("center", "c1", iso(now - HOUR_MS), iso(now + 8 * HOUR_MS), "值班领导"),
         Shift("water_affairs", "c2", iso(now + 24 * HOUR_MS), iso(now + 36 * HOUR_MS))),
    )
    roster_store.put(value, "setup")
    return value


def audited(redis_client, action: str) -> list[dict]:
    out = []
    for _id, fields in redis_client.xrange(keys.AUDIT):
        f = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v for k, v in fields.items()}
        if f.get("action") == action:
            out.append(f)
    return out


# ---- registration and the guard -----------------------------------------------------------------

def test_notify_callbacks_are_registered_with_their_permissions(settings):
    table = create_app(settings).server.extensions[CALLBACK_PERMISSIONS]
    perms = {cid: perm for cid, perm in table.items() if "notify-" in cid or "duty-" in cid}
    assert {perm for cid, perm in perms.items() if cid.startswith("..duty-cards.")} == {"view:duty"}
    for message in ("notify-contact-message", "notify-group-message", "notify-shift-message", "notify-route-message",
                    "notify-quiet-message", "notify-test-message"):
        assert {perm for cid, perm in perms.items() if message in cid} == {"notify:manage"}, message
    assert {perm for cid, perm in perms.items() if "-silence-message" in cid} == {"notify:silence"}
    assert set(perms.values()) == {"view:duty", "view:notify", "notify:manage", "notify:silence"}


def _callback(app, fragment: str) -> tuple[str, dict]:
    (cid,) = [cid for cid in app.server.extensions[CALLBACK_PERMISSIONS] if fragment in cid]
    return cid, app.callback_map[cid]


def _post(client, app, fragment: str, secret: str, values: dict | None = None, triggered: str | None = None):
    """Post the callback whose id holds `fragment` as the renderer would, `values` by `id.prop`."""
    cid, spec = _callback(app, fragment)
    values = {"lang.data": "zh", **(values or {})}

    def dep(d):
        return {"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}

    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]}
               for o in cid.strip(".").split("...")] if cid.startswith("..") else \
        {"id": cid.split(".")[0], "property": cid.split(".")[1].split("@")[0]}
    body = {"output": cid, "outputs": outputs, "inputs": [dep(d) for d in spec["inputs"]], "state": [dep(d) for d in spec["state"]],
            "changedPropIds": [triggered] if triggered else []}
    return client.post("/_dash-update-component", json=body, headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def tokens(user_store):
    return {role: user_store.create_token(f"{role} system", [role], ADMIN)[1] for role in ("operator", "dispatcher", "admin")}


def test_a_dispatcher_may_add_a_silence_but_not_change_the_roster(settings, roster, tokens, notify_store):
    app = create_app(settings)
    client = app.server.test_client()
    now = int(time.time() * 1000)
    silence = {"notify-silence-add.n_clicks": 1, "notify-silence-kind.value": "case.overdue",
               "notify-silence-from.value": local(now), "notify-silence-to.value": local(now + 2 * HOUR_MS),
               "notify-silence-comment.value": "系统维护"}
    response = _post(client, app, "notify-silence-message", tokens["dispatcher"], silence, "notify-silence-add.n_clicks")
    assert response.status_code == 200
    (stored,) = notify_store.silences()
    assert stored.matchers == {"kind": "case.overdue"} and stored.by == "token:dispatcher system"
    contact = {"notify-contact-add.n_clicks": 1, "notify-contact-name.value": "王五", "notify-contact-phone.value": "13712345678"}
    assert _post(client, app, "notify-contact-message", tokens["dispatcher"], contact, "notify-contact-add.n_clicks").status_code == 403
    assert _post(client, app, "notify-route-message", tokens["dispatcher"], {}, "notify-route-save.n_clicks").status_code == 403
    assert [c.name for c in RosterStore(app.server.extensions["ioc_services"].redis).get().contacts] == ["张三", "李四"]


def test_an_operator_loads_the_duty_page_but_not_the_notify_page(settings, roster, tokens):
    app = create_app(settings)
    client = app.server.test_client()
    duty = _post(client, app, "..duty-cards.", tokens["operator"])
    assert duty.status_code == 200
    assert "张三" in duty.get_data(as_text=True) and "tel:13912345678" in duty.get_data(as_text=True)
    assert _post(client, app, "notify-duty-cards", tokens["operator"]).status_code == 403
    assert _post(client, app, "notify-silence-message", tokens["operator"], {}, "notify-silence-add.n_clicks").status_code == 403


def test_the_roster_tables_never_carry_a_robot_key_or_secret(settings, roster, tokens):
    app = create_app(settings)
    response = _post(app.server.test_client(), app, "notify-duty-cards", tokens["admin"])
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "水务局工作群" in text
    assert KEY not in text and "SEC0123456789abcdef" not in text


# ---- /duty --------------------------------------------------------------------------------------

def test_the_duty_page_shows_the_silence_form_only_to_those_who_may_silence(signed_in, roster):
    with signed_in("operator"):
        cards, silences, form = notify.load_duty(None, 0, "zh")
    assert form == notify.HIDDEN and silences == []
    assert "张三" in str(cards) and "市水务局" in str(cards)
    with signed_in("dispatcher"):
        assert notify.load_duty(None, 0, "zh")[2] == notify.SHOWN


# ---- contacts and groups ------------------------------------------------------------------------

def test_an_admin_adds_a_contact_stored_and_audited(signed_in, roster, roster_store, redis_client):
    with signed_in("admin", name="root", triggered="notify-contact-add.n_clicks"):
        message, changed = notify.change_contact(1, None, None, "王五", "13712345678", "wangwu@zjg.gov.cn", "water_affairs", "科员",
                                                 ["sms", "email"], [], 0, "zh")
    assert message == "已新增联系人：王五" and changed == 1
    (added,) = [c for c in roster_store.get().contacts if c.name == "王五"]
    assert (added.department, added.channels) == ("water_affairs", ("sms", "email"))
    (entry,) = audited(redis_client, "roster.update")[-1:]
    assert entry["actor"] == "root"


def test_a_contact_with_a_bad_phone_is_refused_in_the_page_language(signed_in, roster, roster_store):
    with signed_in("admin", triggered="notify-contact-add.n_clicks", lang="en"):
        message, changed = notify.change_contact(1, None, None, "王五", "12345", "", "center", "", ["sms"], [], 0, "en")
    assert changed is no_update
    assert message == "Not saved: Contact 王五 · Phone: is neither a mobile number (11 digits) nor a landline (e.g. 0512-58xxxxxx)"
    assert len(roster_store.get().contacts) == 2


def test_a_contact_still_on_the_roster_cannot_be_removed(signed_in, roster, roster_store):
    with signed_in("admin", triggered="notify-contact-remove.n_clicks"):
        message, changed = notify.change_contact(None, None, 1, "", "", "", None, "", [], [{"id": "c1", "name": "张三"}], 0, "zh")
    assert message == "未保存: 张三 仍在值班表中（1 个班次），请先删除其班次。" and changed is no_update


def test_saving_a_group_without_a_new_key_keeps_its_key_and_secret(signed_in, roster, roster_store):
    rows = [{"id": "g1", "name": "水务局工作群"}]
    with signed_in("admin", triggered="notify-group-save.n_clicks"):
        message, key, secret, changed = notify.change_group(None, 1, None, "水务局值班群", "water_affairs", "dingtalk", "", "",
                                                            "13912345678", rows, 0, "zh")
    assert message == "已保存群：水务局值班群" and (key, secret, changed) == ("", "", 1)
    group = roster_store.get().group("g1")
    assert (group.name, group.key, group.secret, group.mentions) == ("水务局值班群", KEY, "SEC0123456789abcdef", ("13912345678",))


def test_a_new_key_replaces_the_old_one_and_a_bad_key_is_refused(signed_in, roster, roster_store):
    rows = [{"id": "g1", "name": "水务局工作群"}]
    with signed_in("admin", triggered="notify-group-save.n_clicks"):
        notify.change_group(None, 1, None, "水务局工作群", "water_affairs", "dingtalk", "newkey-123", "", "", rows, 0, "zh")
        message, *_ = notify.change_group(None, 1, None, "水务局工作群", "water_affairs", "dingtalk", "bad key!", "", "", rows, 0, "zh")
    assert roster_store.get().group("g1").key == "newkey-123"
    assert message == "未保存: 群“水务局工作群” · 密钥/地址：机器人密钥只能包含字母、数字、“-”和“_”"


# ---- shifts -------------------------------------------------------------------------------------

def test_an_admin_adds_a_shift_and_an_overlapping_one_is_refused(signed_in, roster, roster_store):
    now = int(time.time() * 1000)
    start, end = local(now + 48 * HOUR_MS), local(now + 60 * HOUR_MS)
    with signed_in("admin", triggered="notify-shift-add.n_clicks"):
        message, changed = notify.change_shift(1, None, "water_affairs", "c2", "值班员", start, end, [], 0, "zh")
        assert changed == 1 and message.startswith("已新增班次：市水务局 李四")
        refused, changed = notify.change_shift(1, None, "water_affairs", "c2", "值班员", start, end, [], 1, "zh")
    assert changed is no_update and "时间重叠" in refused
    assert len(roster_store.get().shifts) == 3


def test_a_shift_with_an_unreadable_time_is_refused_before_the_store(signed_in, roster):
    with signed_in("admin", triggered="notify-shift-add.n_clicks"):
        message, changed = notify.change_shift(1, None, "center", "c1", "值班员", "明天早上", "2026-12-31 08:00", [], 0, "zh")
    assert message == "未保存: “开始”不是有效时间，请按 2026-12-06 08:00 的格式填写（北京时间）。" and changed is no_update


def test_an_admin_removes_the_selected_shift(signed_in, roster, roster_store, city):
    with signed_in("admin", triggered="notify-shift-remove.n_clicks"):
        *_, rows, _contacts, _groups, _options, _targets = notify.load_roster(0, 0, "zh")
        (row,) = [r for r in rows if r["name"] == "李四"]
        message, changed = notify.change_shift(None, 1, None, None, None, None, None, [row], 0, "zh")
    assert message == "已删除班次：市水务局 李四" and changed == 1
    assert [s.contact_id for s in roster_store.get().shifts] == ["c1"]


# ---- routes and quiet hours ---------------------------------------------------------------------

def test_an_admin_disables_a_route_and_changes_its_window(signed_in, notify_store, redis_client):
    row = {"id": "overdue", "name": "超期通知部门与调度"}
    with signed_in("admin", triggered="notify-route-disable.n_clicks"):
        assert notify.change_route(None, None, 1, None, None, [], [row], 0, "zh") == ("已停用路由：超期通知部门与调度", 1)
    with signed_in("admin", triggered="notify-route-save.n_clicks"):
        assert notify.change_route(1, None, None, 600, 30, ["quiet"], [row], 1, "zh")[1] == 2
        refused, changed = notify.change_route(1, None, None, 99999, 0, [], [row], 2, "en")
    route = next(r for r in notify_store.routes().routes if r.id == "overdue")
    assert (route.enabled, route.group_window_s, route.repeat_min, route.quiet) == (False, 600, 30, True)
    assert refused == "Not saved: “Group window” must be a whole number from 0 to 3600." and changed is no_update
    assert len(audited(redis_client, "notify.routes")) == 2


def test_quiet_hours_are_saved_checked_and_cleared(signed_in, notify_store):
    with signed_in("admin", triggered="notify-quiet-save.n_clicks"):
        assert notify.change_quiet(1, None, "22:00", "7:00", 0, "zh") == ("已保存免打扰时段：22:00 — 07:00", 1)
        refused, _ = notify.change_quiet(1, None, "25:00", "07:00", 1, "zh")
    assert refused == "未保存: “开始”应为 24 小时制时间，如 22:00。"
    quiet = notify_store.routes().quiet_hours
    assert (quiet.start, quiet.end, quiet.enabled) == ("22:00", "07:00", True)
    with signed_in("admin", triggered="notify-quiet-clear.n_clicks"):
        notify.change_quiet(None, 1, None, None, 1, "zh")
        assert notify.load_routes(2, 0, "zh")[1] == t("notify_quiet_none", "zh")
    assert not notify_store.routes().quiet_hours.enabled


# ---- silences -----------------------------------------------------------------------------------

def test_a_leader_adds_and_expires_a_silence_on_the_duty_page(signed_in, notify_store, redis_client):
    change = notify.change_silence("duty")
    now = int(time.time() * 1000)
    with signed_in("leader", name="li.lingdao", triggered="duty-silence-add.n_clicks"):
        message, changed = change(1, None, None, "water_affairs", "yangshe", "", local(now), local(now + 2 * HOUR_MS), "泵站检修", [], 0, "zh")
        assert changed == 1 and message.startswith("已新增静默：部门：市水务局；区镇：杨舍镇")
        _cards, rows, _form = notify.load_duty(None, 1, "zh")
    (row,) = rows
    assert (row["state"], row["by"], row["comment"]) == ("生效中", "li.lingdao", "泵站检修")
    with signed_in("leader", triggered="duty-silence-expire.n_clicks"):
        message, changed = change(None, 1, None, None, None, None, None, None, None, [row], 1, "zh")
        assert message == "静默已结束：部门：市水务局；区镇：杨舍镇" and changed == 2
        assert notify.load_silences(2, 0, "zh")[0]["state"] == "已过期"
    assert [len(audited(redis_client, a)) for a in ("notify.silence.add", "notify.silence.expire")] == [1, 1]


@pytest.mark.parametrize("fields, reason", [
    ((None, None, None, "", "now", "later", "维护"), "“开始”不是有效时间"),
    ((None, None, None, "", "2019-01-01 08:00", "2020-01-01 08:00", "维护"), "结束时间已过"),
    (("case.overdue", None, None, "", "", "+2h", "维护"), "“结束”不是有效时间"),
    ((None, None, None, "", "", "2099-01-01 08:00", "维护"), "请至少填写一个静默条件"),
    (("case.overdue", None, None, "", "", "2099-01-01 08:00", " "), "请填写静默说明"),
])
def test_a_silence_that_cannot_work_is_refused_with_the_reason(signed_in, notify_store, fields, reason):
    with signed_in("dispatcher", triggered="notify-silence-add.n_clicks"):
        message, changed = notify.change_silence("notify")(1, None, *fields, [], 0, "zh")
    assert reason in message and changed is no_update and notify_store.silences() == []


# ---- the test message and the sent log ----------------------------------------------------------

def test_a_test_message_is_queued_to_the_chosen_group_and_audited(signed_in, roster, redis_client):
    with signed_in("admin", name="root", triggered="notify-test-send.n_clicks"):
        assert notify.send_test(1, "group:g1", "", "zh") == "测试消息已提交：水务局工作群"
    ((_id, fields),) = redis_client.xrange(keys.NOTIFY_OUTBOX)
    intent = intent_from_fields({k.decode(): v.decode() for k, v in fields.items()})
    assert (intent.kind, intent.facts["target"], intent.facts["by"]) == ("test", "group:g1", "root")
    assert intent.facts["text"] == t("notify_test_default", "zh")
    assert audited(redis_client, "notify.test")[0]["target"] == intent.subject


def test_the_sent_log_names_recipients_and_filters_by_channel_and_result(signed_in, roster, notify_store):
    now = int(time.time() * 1000)
    results = [{"subject": "case:ZJG-20261206-000001", "kind": "case.dispatched", "version": "3", "channel": "dingtalk",
                "recipient": "group:g1", "name": "水务局工作群", "result": "sent", "attempt": 1, "reason": "", "route": "dispatch",
                "latency_ms": 120},
               {"subject": "alarm:wl-1|water_level_warning", "kind": "alarm.escalated", "version": "1", "channel": "sms",
                "recipient": "contact:c1", "name": "张三", "result": "failed", "attempt": 8, "reason": "rate limited",
                "route": "escalated", "latency_ms": 0}]
    notify_store.record("", now, results=results)
    with signed_in("admin"):
        rows = notify.load_log(0, None, None, "log", "zh")
        assert [(r["to"], r["channel"], r["result"], r["attempts"]) for r in rows] == [
            ("张三", "短信", "发送失败", 8), ("水务局工作群", "钉钉", "已发送", 1)]  # newest first
        assert [r["link"] for r in rows] == ["", "/case/ZJG-20261206-000001"]
        assert [r["to"] for r in notify.load_log(0, "sms", "failed", "log", "zh")] == ["张三"]
        detail = str(notify.log_detail([rows[1]], "zh"))
    assert "/case/ZJG-20261206-000001" in detail and KEY not in str(rows)
