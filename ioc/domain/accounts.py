"""Users and API tokens of the unified user system (统一用户): records, validation, secrets.

Pure: no I/O (the Redis side is `ioc.adapters.user_store`). Passwords are hashed with
Argon2id (argon2-cffi's defaults: 64 MiB, 3 passes, 4 lanes; about 50 ms here), the OWASP
first choice; API tokens are random 256-bit secrets of which only the SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass, field, replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .access import Principal, normalise_role

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
DISPLAY_MAX = 40
PASSWORD_MIN = 8
PASSWORD_MAX = 128
TOKEN_PREFIX = "ioc_"

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A user or token change that is not well formed; the message says what to fix (in English,
    for the CLI and the API), `code` names the cause for a page to say it in its language
    (i18n key `account_err_<code>`, formatted with `params`)."""

    def __init__(self, message: str, code: str = "other", **params):
        super().__init__(message)
        self.code = code
        self.params = params


def validate_name(name: str) -> str:
    """The stored form of a user name (trimmed, lowercase: sign-in is case-insensitive)."""
    name = (name or "").strip().lower()
    if not NAME_PATTERN.match(name):
        raise AccountError(f"user name {name!r} must be 2-40 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", "name")
    return name


def validate_password(password: str, name: str = "") -> str:
    password = password or ""
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"the password must be at least {PASSWORD_MIN} characters", "password_short", n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"the password must be at most {PASSWORD_MAX} characters", "password_long", n=PASSWORD_MAX)
    if name and password.lower() == name.lower():
        raise AccountError("the password must not be the user name", "password_is_name")
    return password


def validate_roles(roles, department: str, departments: frozenset[str]) -> tuple[tuple[str, ...], str]:
    """Normalised roles and department: at least one known role; a handler names one known department."""
    normalised: list[str] = []
    for role in roles or ():
        for part in str(role).split(","):
            if part.strip():
                try:
                    name = normalise_role(part)
                except ValueError as e:
                    raise AccountError(str(e), "role") from None
                if name not in normalised:
                    normalised.append(name)
    if not normalised:
        raise AccountError("a user needs at least one role", "no_role")
    department = (department or "").strip()
    if "handler" in normalised:
        if not department:
            raise AccountError("a department handler needs --department (the department whose tasks it handles)", "department_needed")
        if department not in departments:
            raise AccountError(f"unknown department {department!r}; departments are {', '.join(sorted(departments))}",
                               "department_unknown")
    elif department:
        raise AccountError("only a department handler is bound to a department", "department_not_handler")
    return tuple(normalised), department


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def generate_password() -> str:
    """A random password people can type: 4 groups of 4 unambiguous characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def _as_dict(record, hide: str = "") -> dict:
    """A User or ApiToken as stored (JSON-ready), leaving out the field `hide`."""
    data = asdict(record)
    data.pop(hide, None)
    data["roles"] = list(record.roles)
    return data


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    password_hash: str
    display_name: str = ""
    department: str = ""
    disabled: bool = False
    epoch: int = 1  # bumped by a password reset or disable: signs out every session of the user
    created_at: int = 0
    updated_at: int = 0
    demo: bool = False

    def principal(self) -> Principal:
        return Principal(self.name, frozenset(self.roles), self.display_name, self.department, "user", False)

    def public(self) -> dict:
        """The record without the password hash (for lists, the API and the audit log)."""
        return _as_dict(self, hide="password_hash")

    def to_dict(self) -> dict:
        return _as_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "User":
        return cls(
            name=str(data["name"]), roles=tuple(data.get("roles") or ()), password_hash=str(data.get("password_hash", "")),
            display_name=str(data.get("display_name", "")), department=str(data.get("department", "")),
            disabled=bool(data.get("disabled", False)), epoch=int(data.get("epoch", 1)),
            created_at=int(data.get("created_at", 0)), updated_at=int(data.get("updated_at", 0)), demo=bool(data.get("demo", False)),
        )

    def with_changes(self, **changes) -> "User":
        return replace(self, **changes)


@dataclass(frozen=True)
class ApiToken:
    """A machine client's credential (department system, other city platform) or a kiosk link."""

    id: str
    name: str
    roles: tuple[str, ...]
    department: str = ""
    kiosk: bool = False
    created_by: str = ""
    created_at: int = 0
    revoked_at: int = 0
    revoked_by: str = ""
    secret_sha256: str = field(default="", repr=False)

    @property
    def active(self) -> bool:
        return not self.revoked_at

    def principal(self) -> Principal:
        if self.kiosk:
            return Principal(f"kiosk:{self.name}", frozenset({"operator"}), self.name, "", "kiosk", True)
        return Principal(f"token:{self.name}", frozenset(self.roles), self.name, self.department, "token", False)

    def public(self) -> dict:
        """The record without the secret's digest, with `active`."""
        return {**_as_dict(self, hide="secret_sha256"), "active": self.active}

    def to_dict(self) -> dict:
        return _as_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ApiToken":
        return cls(
            id=str(data["id"]), name=str(data.get("name", "")), roles=tuple(data.get("roles") or ()),
            department=str(data.get("department", "")), kiosk=bool(data.get("kiosk", False)),
            created_by=str(data.get("created_by", "")), created_at=int(data.get("created_at", 0)),
            revoked_at=int(data.get("revoked_at", 0)), revoked_by=str(data.get("revoked_by", "")),
            secret_sha256=str(data.get("secret_sha256", "")),
        )


def new_token_secret() -> tuple[str, str, str]:
    """(token id, the full token to hand out once, its SHA-256 to store)."""
    token_id = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, token_sha256(token)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def validate_token_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 60 or any(c in name for c in "\r\n\t"):
        raise AccountError("a token needs a name of 1-60 characters saying which system uses it", "token_name")
    return name
