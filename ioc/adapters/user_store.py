"""Users, API tokens and sign-in failures in Redis; every change is written with its audit entry
in one MULTI/EXEC transaction (optimistic, WATCHing the record it changes).

Keys: `ioc:{core}:users` (name -> user JSON), `ioc:{core}:tokens` (id -> token JSON),
`ioc:{core}:tokens:sha256` (SHA-256 of a token -> id), all with the audit stream's hash tag so
a transaction stays in one Redis Cluster slot; `ioc:auth:failures:user:<name>` and
`…:ip:<address>` (counters that expire with the lock window), `ioc:session:<id>` (a live portal
session; signing out deletes it, so a copied cookie dies with it), `ioc:secret_key` (the shared
cookie-signing key when IOC_SECRET_KEY is unset). This module is their one writer.

Every user and token change also appends its `type=user` / `type=token` entry (the JSON as
stored) to the record stream `ioc:{core}:record` in the same transaction (`record_stream.append_in`,
capped at `record_maxlen`), for the recorder to copy into PostgreSQL.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import orjson

from ioc.adapters import record_stream
from ioc.adapters import redis_keys as keys
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.redis_client import as_text as _text
from ioc.domain.accounts import (AccountError, ApiToken, User, generate_password, hash_password, needs_rehash,
                                 new_token_secret, token_sha256, validate_name, validate_password, validate_roles,
                                 validate_token_name, verify_password)

# verified when the user does not exist, so a wrong name costs as long as a wrong password
_DUMMY_HASH = hash_password("not-a-real-password")


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit log."""

    name: str
    role: str
    ip: str = ""


class UserNotFound(KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such user"


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: `user` when it succeeded, else `reason`
    (`failed` or `locked`, with `retry_after_s` for a lock)."""

    user: User | None
    reason: str = ""
    retry_after_s: int = 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def shared_secret_key(redis_client) -> str | None:
    """The cookie-signing key every web process shares when IOC_SECRET_KEY is unset: made once
    (the first process to ask sets a random one), then read by all (`ioc:secret_key`)."""
    redis_client.set(keys.SECRET_KEY, secrets.token_hex(32), nx=True)
    value = redis_client.get(keys.SECRET_KEY)
    return _text(value) if value else None


class UserStore:
    def __init__(self, redis_client, departments: frozenset[str], max_failures: int = 5, lock_minutes: int = 15,
                 record_maxlen: int = record_stream.DEFAULT_MAXLEN):
        """`record_maxlen`: the cap of the record stream (settings.record_stream_maxlen)."""
        self.redis = redis_client
        self.record_maxlen = int(record_maxlen)
        self.departments = departments
        self.max_failures = max(1, int(max_failures))
        self.lock_s = max(1, int(lock_minutes)) * 60
        self.audit = AuditLog(redis_client)

    # ---- users -------------------------------------------------------------------------------

    def get(self, name: str) -> User | None:
        raw = self.redis.hget(keys.USERS, name)
        return User.from_dict(orjson.loads(raw)) if raw else None

    def require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise UserNotFound(f"no user {name!r}")
        return user

    def list(self) -> list[User]:
        return sorted((User.from_dict(orjson.loads(v)) for v in self.redis.hvals(keys.USERS)), key=lambda u: u.name)

    def add(self, name: str, roles, by: Actor, password: str | None = None, display_name: str = "",
            department: str = "", demo: bool = False) -> tuple[User, str]:
        """Add a user; returns it with its password (generated when none is given). Error if the name exists."""
        name = validate_name(name)
        roles, department = validate_roles(roles, department, self.departments)
        password = validate_password(password, name) if password else generate_password()
        now = _now_ms()
        user = User(name, roles, hash_password(password), _display(display_name), department, False, 1, now, now, demo)
        def txn(pipe):
            if pipe.hexists(keys.USERS, name):
                raise AccountError(f"user {name!r} already exists", "user_exists")
            stored = orjson.dumps(user.to_dict())
            pipe.multi()
            pipe.hset(keys.USERS, name, stored)
            self.audit.record_in(pipe, by.name, by.role, "user.add", name, "ok", by.ip, user.public())
            record_stream.append_in(pipe, record_stream.user_fields(name, now, stored), self.record_maxlen)

        self.redis.transaction(txn, keys.USERS)
        return user, password

    def update(self, name: str, by: Actor, roles=None, department: str | None = None, display_name: str | None = None) -> User:
        def change(user: User) -> User:
            new_roles, new_department = validate_roles(roles if roles is not None else user.roles,
                                                       department if department is not None else user.department,
                                                       self.departments)
            return user.with_changes(roles=new_roles, department=new_department,
                                     display_name=_display(display_name) if display_name is not None else user.display_name)

        return self._change(name, change, by, "user.update")

    def set_disabled(self, name: str, disabled: bool, by: Actor) -> User:
        """Disable (every session ends at once) or enable a user."""
        def change(user: User) -> User:
            return user.with_changes(disabled=disabled, epoch=user.epoch + (1 if disabled else 0))

        return self._change(name, change, by, "user.disable" if disabled else "user.enable")

    def reset_password(self, name: str, by: Actor, password: str | None = None) -> tuple[User, str]:
        """Set a new password (generated when none is given); every session of the user ends."""
        password = validate_password(password, name) if password else generate_password()
        digest = hash_password(password)
        user = self._change(name, lambda u: u.with_changes(password_hash=digest, epoch=u.epoch + 1), by, "user.reset_password")
        self.redis.delete(self._failure_key("user", name))
        return user, password

    def change_own_password(self, name: str, current: str, new: str, ip: str = "") -> User:
        user = self.require(name)
        if not verify_password(user.password_hash, current or ""):
            self.audit.record(name, "+".join(user.roles), "auth.password_changed", name, "failed", ip, {"error": "wrong current password"})
            raise AccountError("the current password is not right", "wrong_current")
        validate_password(new, name)
        if new == current:
            raise AccountError("the new password must differ from the current one", "same_password")
        digest = hash_password(new)
        # the epoch stays: this session (and the user's others) carry on
        return self._change(name, lambda u: u.with_changes(password_hash=digest), Actor(name, "+".join(user.roles), ip),
                            "auth.password_changed")

    def _change(self, name: str, change, by: Actor, action: str) -> User:
        def txn(pipe):
            raw = pipe.hget(keys.USERS, name)
            if raw is None:
                raise UserNotFound(f"no user {name!r}")
            before = User.from_dict(orjson.loads(raw))
            after = change(before).with_changes(updated_at=_now_ms())
            stored = orjson.dumps(after.to_dict())
            pipe.multi()
            pipe.hset(keys.USERS, name, stored)
            detail = {"before": _diff(before.public(), after.public()), "after": _diff(after.public(), before.public())}
            self.audit.record_in(pipe, by.name, by.role, action, name, "ok", by.ip, detail)
            record_stream.append_in(pipe, record_stream.user_fields(name, after.updated_at, stored), self.record_maxlen)
            result["user"] = after

        result: dict = {}
        self.redis.transaction(txn, keys.USERS)
        return result["user"]

    # ---- server-side sessions ------------------------------------------------------------------

    def open_session(self, subject: str, ttl_s: int) -> str:
        """A new session id for `subject` (user name or `kiosk:<token id>`), alive for `ttl_s`."""
        sid = secrets.token_urlsafe(18)
        self.redis.set(keys.session(sid), subject, ex=max(1, int(ttl_s)))
        return sid

    def close_session(self, sid: str) -> None:
        self.redis.delete(keys.session(sid))

    def session_user(self, sid: str, name: str) -> User | None:
        """The user of a live session (one round trip), or None once it was closed or expired."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(keys.session(sid))
        pipe.hget(keys.USERS, name)
        subject, raw = pipe.execute()
        if subject is None or _text(subject) != name or raw is None:
            return None
        return User.from_dict(orjson.loads(raw))

    def session_token(self, sid: str, token_id: str) -> ApiToken | None:
        """The kiosk token of a live kiosk session, or None."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(keys.session(sid))
        pipe.hget(keys.TOKENS, token_id)
        subject, raw = pipe.execute()
        if subject is None or _text(subject) != f"kiosk:{token_id}" or raw is None:
            return None
        return ApiToken.from_dict(orjson.loads(raw))

    # ---- signing in --------------------------------------------------------------------------

    def _failure_key(self, scope: str, value: str) -> str:
        return keys.login_failures(scope, value)

    def authenticate(self, name: str, password: str, ip: str = "") -> SignIn:
        """Check a name and password, counting failures per user and per address.

        After `max_failures` failures for a name (or 4× that from one address) within the lock
        window, further attempts are refused without checking the password until the window ends.
        """
        name = (name or "").strip().lower()
        user_key, ip_key = self._failure_key("user", name), self._failure_key("ip", ip or "-")
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(user_key)
        pipe.get(ip_key)
        pipe.ttl(user_key)
        pipe.ttl(ip_key)
        user_fails, ip_fails, user_ttl, ip_ttl = pipe.execute()
        if int(user_fails or 0) >= self.max_failures or int(ip_fails or 0) >= 4 * self.max_failures:
            retry = max(int(user_ttl or 0) if int(user_fails or 0) >= self.max_failures else 0,
                        int(ip_ttl or 0) if int(ip_fails or 0) >= 4 * self.max_failures else 0, 1)
            self.audit.record(name or "-", "-", "auth.locked_out", name, "denied", ip, {"retry_after_s": retry})
            return SignIn(None, "locked", retry)
        user = self.get(name) if name else None
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password or "")
        if user is None or not ok or user.disabled:
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(user_key)
            pipe.expire(user_key, self.lock_s)
            pipe.incr(ip_key)
            pipe.expire(ip_key, self.lock_s)
            count = pipe.execute()[0]
            why = "unknown user" if user is None else ("user disabled" if user.disabled and ok else "wrong password")
            self.audit.record(name or "-", "+".join(user.roles) if user else "-", "auth.sign_in_failed", name, "failed", ip,
                              {"error": why, "failures": int(count)})
            return SignIn(None, "failed")
        self.redis.delete(user_key)
        if needs_rehash(user.password_hash):
            digest = hash_password(password)
            user = self._change(name, lambda u: u.with_changes(password_hash=digest), Actor(name, "-", ip), "user.update")
        self.audit.record(name, "+".join(user.roles), "auth.sign_in", name, "ok", ip)
        return SignIn(user)

    def failures(self, name: str) -> int:
        return int(self.redis.get(self._failure_key("user", name)) or 0)

    # ---- API tokens and kiosk links ----------------------------------------------------------

    def create_token(self, name: str, roles, by: Actor, department: str = "", kiosk: bool = False) -> tuple[ApiToken, str]:
        """A new token; returns it with the secret, which is shown once and never stored."""
        name = validate_token_name(name)
        if kiosk:
            roles, department = ("operator",), ""
        else:
            roles, department = validate_roles(roles, department, self.departments)
        token_id, secret, digest = new_token_secret()
        token = ApiToken(token_id, name, roles, department, kiosk, by.name, _now_ms(), 0, "", digest)
        stored = orjson.dumps(token.to_dict())
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.TOKENS, token_id, stored)
            pipe.hset(keys.TOKEN_INDEX, digest, token_id)
            self.audit.record_in(pipe, by.name, by.role, "token.create", token_id, "ok", by.ip, token.public())
            record_stream.append_in(pipe, record_stream.token_fields(token_id, token.created_at, stored), self.record_maxlen)
            pipe.execute()
        return token, secret

    def tokens(self) -> list[ApiToken]:
        return sorted((ApiToken.from_dict(orjson.loads(v)) for v in self.redis.hvals(keys.TOKENS)), key=lambda t: (-t.created_at, t.id))

    def token(self, token_id: str) -> ApiToken | None:
        raw = self.redis.hget(keys.TOKENS, token_id)
        return ApiToken.from_dict(orjson.loads(raw)) if raw else None

    def revoke_token(self, token_id: str, by: Actor) -> ApiToken:
        """Revoke at once: the next request with it (or the kiosk session it opened) is refused."""
        def txn(pipe):
            raw = pipe.hget(keys.TOKENS, token_id)
            if raw is None:
                raise UserNotFound(f"no token {token_id!r}")
            token = ApiToken.from_dict(orjson.loads(raw))
            if token.revoked_at:
                result["token"] = token
                pipe.multi()
                return
            revoked = ApiToken(**{**token.__dict__, "revoked_at": _now_ms(), "revoked_by": by.name})
            stored = orjson.dumps(revoked.to_dict())
            pipe.multi()
            pipe.hset(keys.TOKENS, token_id, stored)
            pipe.hdel(keys.TOKEN_INDEX, token.secret_sha256)
            self.audit.record_in(pipe, by.name, by.role, "token.revoke", token_id, "ok", by.ip, revoked.public())
            record_stream.append_in(pipe, record_stream.token_fields(token_id, revoked.revoked_at, stored), self.record_maxlen)
            result["token"] = revoked

        result: dict = {}
        self.redis.transaction(txn, keys.TOKENS)
        return result["token"]

    def token_for_secret(self, secret: str) -> ApiToken | None:
        """The active token whose secret this is, or None."""
        if not secret or not secret.startswith("ioc_") or len(secret) > 200:
            return None
        token_id = self.redis.hget(keys.TOKEN_INDEX, token_sha256(secret))
        if token_id is None:
            return None
        token = self.token(_text(token_id))
        return token if token is not None and token.active else None


def _display(name: str | None) -> str:
    text = " ".join((name or "").split())
    if len(text) > 40:
        raise AccountError("the display name must be at most 40 characters", "display_name")
    return text


def _diff(a: dict, b: dict) -> dict:
    return {k: v for k, v in a.items() if b.get(k) != v and k not in ("updated_at",)}


__all__ = ["Actor", "SignIn", "UserNotFound", "UserStore", "AccountError"]


def restore_accounts(redis_client, users: list[dict], tokens: list[dict]) -> tuple[int, int]:
    """Write users and API tokens back after Redis was lost (`python -m ioc restore`): each user
    JSON and token JSON as recorded (password hashes and token SHA-256 only), and the SHA-256 ->
    token id map of the active tokens. Returns (users, active tokens)."""
    active = 0
    pipe = redis_client.pipeline(transaction=False)
    for user in users:
        pipe.hset(keys.USERS, str(user["name"]), orjson.dumps(user))
    for token in tokens:
        pipe.hset(keys.TOKENS, str(token["id"]), orjson.dumps(token))
        if not token.get("revoked_at") and token.get("secret_sha256"):
            pipe.hset(keys.TOKEN_INDEX, str(token["secret_sha256"]), str(token["id"]))
            active += 1
    pipe.execute()
    return len(users), active
