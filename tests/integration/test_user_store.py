"""Users, sign-in failures and API tokens in a real Redis (ioc.adapters.user_store): every change
comes with its audit entry (actor, role, action, target, outcome, ip)."""

from __future__ import annotations

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.user_store import AccountError, Actor, UserNotFound
from ioc.domain.accounts import verify_password
from ioc.web.services import user_store as make_store
from tests.conftest import TEST_PASSWORD

ADMIN = Actor("root-admin", "admin", "10.0.0.9")


@pytest.fixture
def audit(redis_client):
    return AuditLog(redis_client)


@pytest.fixture
def strict_store(redis_client, settings, city):
    """A store that locks a name after 3 failures (an address after 12)."""
    return make_store(redis_client, settings.replace(login_max_failures=3), city)


def last(audit: AuditLog, action: str):
    entries = audit.recent(50, action=action)
    assert entries, f"no {action} audit entry"
    return entries[0]


def fields(entry) -> tuple:
    return entry.actor, entry.role, entry.action, entry.target, entry.outcome, entry.ip


# ---- users -------------------------------------------------------------------------------------

def test_add_stores_an_argon2id_hash_and_audits_without_it(user_store, audit, redis_client):
    user, password = user_store.add("zhang", ["dispatcher", "leader"], ADMIN, password=TEST_PASSWORD, display_name="张三")
    assert password == TEST_PASSWORD
    stored = user_store.get("zhang")
    assert stored == user and stored.roles == ("dispatcher", "leader") and stored.epoch == 1 and not stored.disabled
    assert stored.password_hash.startswith("$argon2id$") and verify_password(stored.password_hash, TEST_PASSWORD)
    assert TEST_PASSWORD.encode() not in redis_client.hget(keys.USERS, "zhang")
    entry = last(audit, "user.add")
    assert fields(entry) == ("root-admin", "admin", "user.add", "zhang", "ok", "10.0.0.9")
    assert "password_hash" not in entry.detail and entry.detail["roles"] == ["dispatcher", "leader"]
    assert TEST_PASSWORD not in orjson.dumps(entry.detail).decode()


def test_add_generates_a_password_when_none_is_given(user_store):
    _user, password = user_store.add("li", ["operator"], ADMIN)
    assert len(password) == 19
    assert user_store.authenticate("li", password).user is not None


def test_a_name_is_added_once_and_a_refused_add_audits_nothing(user_store, audit):
    user_store.add("zhang", ["operator"], ADMIN, password=TEST_PASSWORD)
    before = audit.length()
    with pytest.raises(AccountError, match="already exists"):
        user_store.add("zhang", ["admin"], ADMIN, password="another-password")
    with pytest.raises(AccountError, match="already exists"):
        user_store.add("Zhang", ["admin"], ADMIN, password="another-password")  # names are case-insensitive
    assert user_store.get("zhang").roles == ("operator",)
    assert audit.length() == before


def test_invalid_users_are_refused(user_store, audit):
    with pytest.raises(AccountError, match="needs --department"):
        user_store.add("handler-a", ["handler"], ADMIN, password=TEST_PASSWORD)
    with pytest.raises(AccountError, match="unknown department"):
        user_store.add("handler-a", ["handler"], ADMIN, password=TEST_PASSWORD, department="nowhere")
    with pytest.raises(AccountError, match="at least 8"):
        user_store.add("shorty", ["operator"], ADMIN, password="short")
    assert user_store.list() == [] and audit.length() == 0


def test_update_roles_department_and_display_name(user_store, audit):
    user_store.add("wang", ["operator"], ADMIN, password=TEST_PASSWORD)
    after = user_store.update("wang", ADMIN, roles=["department"], department="town_yangshe", display_name="  王  五 ")
    assert (after.roles, after.department, after.display_name, after.epoch) == (("handler",), "town_yangshe", "王 五", 1)
    assert user_store.get("wang") == after
    entry = last(audit, "user.update")
    assert fields(entry) == ("root-admin", "admin", "user.update", "wang", "ok", "10.0.0.9")
    assert entry.detail["before"]["roles"] == ["operator"] and entry.detail["after"]["roles"] == ["handler"]
    assert entry.detail["after"]["department"] == "town_yangshe"
    with pytest.raises(AccountError, match="only a department handler"):
        user_store.update("wang", ADMIN, roles=["operator"])  # the department would be left dangling
    with pytest.raises(UserNotFound):
        user_store.update("nobody", ADMIN, roles=["operator"])


def test_disabling_bumps_the_epoch_and_refuses_sign_in(user_store, audit):
    user_store.add("zhao", ["inspector"], ADMIN, password=TEST_PASSWORD)
    disabled = user_store.set_disabled("zhao", True, ADMIN)
    assert disabled.disabled and disabled.epoch == 2  # every session (cookie carries epoch 1) ends
    assert fields(last(audit, "user.disable")) == ("root-admin", "admin", "user.disable", "zhao", "ok", "10.0.0.9")
    outcome = user_store.authenticate("zhao", TEST_PASSWORD, "10.1.1.1")
    assert outcome.user is None and outcome.reason == "failed"
    failed = last(audit, "auth.sign_in_failed")
    assert fields(failed) == ("zhao", "inspector", "auth.sign_in_failed", "zhao", "failed", "10.1.1.1")
    assert failed.detail["error"] == "user disabled"
    enabled = user_store.set_disabled("zhao", False, ADMIN)
    assert not enabled.disabled and enabled.epoch == 2  # enabling does not resurrect old sessions
    assert fields(last(audit, "user.enable")) == ("root-admin", "admin", "user.enable", "zhao", "ok", "10.0.0.9")
    assert user_store.authenticate("zhao", TEST_PASSWORD).user is not None


def test_reset_password_ends_sessions_and_clears_the_failure_counter(strict_store, audit):
    strict_store.add("qian", ["operator"], ADMIN, password=TEST_PASSWORD)
    for _ in range(3):
        strict_store.authenticate("qian", "wrong-password", "10.1.1.2")
    assert strict_store.authenticate("qian", TEST_PASSWORD, "10.1.1.2").reason == "locked"
    user, password = strict_store.reset_password("qian", ADMIN)
    assert user.epoch == 2 and password != TEST_PASSWORD
    assert strict_store.failures("qian") == 0
    entry = last(audit, "user.reset_password")
    assert fields(entry) == ("root-admin", "admin", "user.reset_password", "qian", "ok", "10.0.0.9")
    assert password not in orjson.dumps(entry.detail).decode()
    assert strict_store.authenticate("qian", TEST_PASSWORD).user is None
    assert strict_store.authenticate("qian", password).user is not None
    with pytest.raises(AccountError, match="at least 8"):
        strict_store.reset_password("qian", ADMIN, password="short")
    with pytest.raises(UserNotFound):
        strict_store.reset_password("nobody", ADMIN, password="long-enough-1")


def test_change_own_password_needs_the_current_one_and_keeps_sessions(user_store, audit):
    user_store.add("sun", ["leader"], ADMIN, password=TEST_PASSWORD)
    with pytest.raises(AccountError, match="current password"):
        user_store.change_own_password("sun", "not-my-password", "brand-new-password", ip="10.2.2.2")
    refused = last(audit, "auth.password_changed")
    assert fields(refused) == ("sun", "leader", "auth.password_changed", "sun", "failed", "10.2.2.2")
    assert user_store.authenticate("sun", TEST_PASSWORD).user is not None  # unchanged
    with pytest.raises(AccountError, match="at least 8"):
        user_store.change_own_password("sun", TEST_PASSWORD, "short")
    with pytest.raises(AccountError, match="differ"):
        user_store.change_own_password("sun", TEST_PASSWORD, TEST_PASSWORD)
    changed = user_store.change_own_password("sun", TEST_PASSWORD, "brand-new-password", ip="10.2.2.2")
    assert changed.epoch == 1  # this session and the user's others carry on
    assert fields(last(audit, "auth.password_changed")) == ("sun", "leader", "auth.password_changed", "sun", "ok", "10.2.2.2")
    assert user_store.authenticate("sun", TEST_PASSWORD).user is None
    assert user_store.authenticate("sun", "brand-new-password").user is not None


# ---- signing in --------------------------------------------------------------------------------

def test_sign_in_is_audited_and_case_insensitive(user_store, audit):
    user_store.add("zhou", ["dispatcher"], ADMIN, password=TEST_PASSWORD)
    outcome = user_store.authenticate("  ZHOU ", TEST_PASSWORD, "10.3.3.3")
    assert outcome.user is not None and outcome.user.name == "zhou"
    assert fields(last(audit, "auth.sign_in")) == ("zhou", "dispatcher", "auth.sign_in", "zhou", "ok", "10.3.3.3")


def test_a_name_is_locked_after_max_failures_even_for_the_right_password(strict_store, audit):
    strict_store.add("wu", ["operator"], ADMIN, password=TEST_PASSWORD)
    for i in range(1, 4):
        outcome = strict_store.authenticate("wu", f"wrong-{i}", "10.4.4.4")
        assert (outcome.user, outcome.reason) == (None, "failed")
        assert strict_store.failures("wu") == i
    failed = last(audit, "auth.sign_in_failed")
    assert fields(failed) == ("wu", "operator", "auth.sign_in_failed", "wu", "failed", "10.4.4.4")
    assert failed.detail == {"error": "wrong password", "failures": 3}
    locked = strict_store.authenticate("wu", TEST_PASSWORD, "10.4.4.5")  # from another address too
    assert (locked.user, locked.reason) == (None, "locked")
    assert 1 <= locked.retry_after_s <= strict_store.lock_s
    entry = last(audit, "auth.locked_out")
    assert fields(entry) == ("wu", "-", "auth.locked_out", "wu", "denied", "10.4.4.5")
    assert entry.detail["retry_after_s"] == locked.retry_after_s


def test_unknown_names_are_counted_and_locked_too(strict_store, audit):
    for _ in range(3):
        assert strict_store.authenticate("ghost", "whatever-1", "10.5.5.5").reason == "failed"
    assert last(audit, "auth.sign_in_failed").detail["error"] == "unknown user"
    assert strict_store.authenticate("ghost", "whatever-1", "10.5.5.5").reason == "locked"
    # the name is locked before it exists: adding it later does not bypass the window
    strict_store.add("ghost", ["operator"], ADMIN, password=TEST_PASSWORD)
    assert strict_store.authenticate("ghost", TEST_PASSWORD, "10.5.5.6").reason == "locked"


def test_one_address_is_locked_after_four_times_max_failures(strict_store):
    strict_store.add("zheng", ["operator"], ADMIN, password=TEST_PASSWORD)
    for i in range(12):  # 12 different names, 1 failure each: no name is locked
        assert strict_store.authenticate(f"guess-{i}", "wrong-password", "10.6.6.6").reason == "failed"
    locked = strict_store.authenticate("zheng", TEST_PASSWORD, "10.6.6.6")
    assert (locked.user, locked.reason) == (None, "locked") and locked.retry_after_s >= 1
    assert strict_store.authenticate("zheng", TEST_PASSWORD, "10.6.6.7").user is not None  # other addresses unaffected


def test_a_success_clears_the_name_counter(strict_store):
    strict_store.add("feng", ["operator"], ADMIN, password=TEST_PASSWORD)
    for _ in range(2):
        strict_store.authenticate("feng", "wrong-password", "10.7.7.7")
    assert strict_store.failures("feng") == 2
    assert strict_store.authenticate("feng", TEST_PASSWORD, "10.7.7.7").user is not None
    assert strict_store.failures("feng") == 0
    for _ in range(2):  # two more failures do not lock: the count started over
        strict_store.authenticate("feng", "wrong-password", "10.7.7.7")
    assert strict_store.authenticate("feng", TEST_PASSWORD, "10.7.7.7").user is not None


def test_failure_counters_expire_with_the_lock_window(strict_store, redis_client):
    strict_store.authenticate("chen", "wrong-password", "10.8.8.8")
    ttl_user = redis_client.ttl(f"{keys.LOGIN_FAILURES}:user:chen")
    ttl_ip = redis_client.ttl(f"{keys.LOGIN_FAILURES}:ip:10.8.8.8")
    assert 0 < ttl_user <= strict_store.lock_s and 0 < ttl_ip <= strict_store.lock_s


def test_a_weak_hash_is_upgraded_at_sign_in(user_store, redis_client):
    from argon2 import PasswordHasher

    user_store.add("chu", ["operator"], ADMIN, password=TEST_PASSWORD)
    record = orjson.loads(redis_client.hget(keys.USERS, "chu"))
    record["password_hash"] = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(TEST_PASSWORD)
    redis_client.hset(keys.USERS, "chu", orjson.dumps(record))
    assert user_store.authenticate("chu", TEST_PASSWORD).user is not None
    upgraded = user_store.get("chu")
    assert "m=65536,t=3,p=4" in upgraded.password_hash and upgraded.epoch == 1


# ---- API tokens and kiosk links ----------------------------------------------------------------

def test_create_look_up_and_revoke_a_token(user_store, audit, redis_client):
    token, secret = user_store.create_token("traffic platform", ["dispatcher"], ADMIN)
    assert secret.startswith(f"ioc_{token.id}_") and token.roles == ("dispatcher",) and token.active
    raw = b"".join(redis_client.hvals(keys.TOKENS)) + b"".join(redis_client.hkeys(keys.TOKEN_INDEX))
    assert secret.encode() not in raw and secret.split("_", 2)[2].encode() not in raw  # only the SHA-256 is stored
    created = last(audit, "token.create")
    assert fields(created) == ("root-admin", "admin", "token.create", token.id, "ok", "10.0.0.9")
    assert "secret_sha256" not in created.detail and secret not in orjson.dumps(created.detail).decode()
    assert user_store.token_for_secret(secret) == token
    assert user_store.token_for_secret(secret + "x") is None
    assert user_store.token_for_secret("") is None and user_store.token_for_secret("Bearer " + secret) is None
    revoked = user_store.revoke_token(token.id, ADMIN)
    assert not revoked.active and revoked.revoked_by == "root-admin"
    assert user_store.token_for_secret(secret) is None
    assert user_store.token(token.id).revoked_at == revoked.revoked_at
    assert fields(last(audit, "token.revoke")) == ("root-admin", "admin", "token.revoke", token.id, "ok", "10.0.0.9")
    before = audit.length()
    assert user_store.revoke_token(token.id, ADMIN) == revoked  # revoking twice changes nothing
    assert audit.length() == before
    with pytest.raises(UserNotFound):
        user_store.revoke_token("deadbeef", ADMIN)


def test_a_token_for_a_handler_needs_a_department(user_store):
    with pytest.raises(AccountError, match="needs --department"):
        user_store.create_token("dept system", ["handler"], ADMIN)
    token, _secret = user_store.create_token("dept system", ["handler"], ADMIN, department="water_affairs")
    assert token.principal().department == "water_affairs"
    with pytest.raises(AccountError, match="1-60"):
        user_store.create_token("", ["operator"], ADMIN)


def test_a_kiosk_link_is_a_read_only_operator_whatever_roles_are_asked(user_store):
    token, secret = user_store.create_token("wall 1", ["admin"], ADMIN, department="water_affairs", kiosk=True)
    assert (token.kiosk, token.roles, token.department) == (True, ("operator",), "")
    p = user_store.token_for_secret(secret).principal()
    assert (p.kind, p.read_only, p.roles) == ("kiosk", True, frozenset({"operator"}))


def test_tokens_are_listed_newest_first(user_store):
    a, _ = user_store.create_token("a", ["operator"], ADMIN)
    b, _ = user_store.create_token("b", ["operator"], ADMIN)
    ids = [t.id for t in user_store.tokens()]
    assert set(ids) == {a.id, b.id}
    assert user_store.tokens()[0].created_at >= user_store.tokens()[1].created_at
