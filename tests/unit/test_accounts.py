"""Specification of users and API tokens (ioc.domain.accounts): name, password and role
validation, Argon2id hashes, random passwords, and token secrets of which only the SHA-256 is kept."""

from __future__ import annotations

import hashlib
import re

import pytest
from argon2 import PasswordHasher

from ioc.domain.accounts import (AccountError, ApiToken, User, generate_password, hash_password, needs_rehash,
                                 new_token_secret, token_sha256, validate_name, validate_password, validate_roles,
                                 validate_token_name, verify_password)

DEPARTMENTS = frozenset({"urban_management", "water_affairs", "town_yangshe"})


# ---- names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ab", "zhang.san", "li_si", "wang-wu", "0day", "a" * 40, " padded "])
def test_valid_user_names(name):
    assert validate_name(name) == name.strip()


def test_user_names_are_stored_in_lowercase():
    assert validate_name(" Zhang.San ") == "zhang.san"


@pytest.mark.parametrize("name", ["", "a", "a" * 41, "-lead", ".dot", "_u", "zhang san", "张三", "a/b",
                                  "a@b", None])
def test_invalid_user_names(name):
    with pytest.raises(AccountError, match="user name"):
        validate_name(name)


# ---- passwords ------------------------------------------------------------------------------

def test_password_length_limits():
    assert validate_password("x" * 8) == "x" * 8
    assert validate_password("x" * 128) == "x" * 128
    with pytest.raises(AccountError, match="at least 8"):
        validate_password("x" * 7)
    with pytest.raises(AccountError, match="at least 8"):
        validate_password(None)
    with pytest.raises(AccountError, match="at most 128"):
        validate_password("x" * 129)


def test_the_password_must_not_be_the_user_name():
    with pytest.raises(AccountError, match="user name"):
        validate_password("zhangsan", "zhangsan")
    with pytest.raises(AccountError, match="user name"):
        validate_password("ZhangSan", "zhangsan")
    assert validate_password("zhangsan1", "zhangsan") == "zhangsan1"


def test_generated_passwords_are_random_typeable_and_valid():
    seen = {generate_password() for _ in range(50)}
    assert len(seen) == 50
    for pw in seen:
        assert re.fullmatch(r"[a-km-zA-HJ-NP-Z2-9]{4}(-[a-km-zA-HJ-NP-Z2-9]{4}){3}", pw), pw
        assert not set(pw) & set("01lIoO")
        assert validate_password(pw, "someone") == pw


# ---- roles and departments ------------------------------------------------------------------

def test_roles_are_normalised_split_and_deduplicated():
    assert validate_roles(["Dispatcher", "leader"], "", DEPARTMENTS) == (("dispatcher", "leader"), "")
    assert validate_roles(["dispatcher,leader", " dispatcher "], "", DEPARTMENTS) == (("dispatcher", "leader"), "")
    assert validate_roles(("admin",), "  ", DEPARTMENTS) == (("admin",), "")


def test_a_role_is_required_and_unknown_roles_are_refused():
    for roles in ([], None, [""], [" , "]):
        with pytest.raises(AccountError, match="at least one role"):
            validate_roles(roles, "", DEPARTMENTS)
    with pytest.raises(AccountError, match="unknown role 'root'"):
        validate_roles(["operator", "root"], "", DEPARTMENTS)


def test_a_handler_needs_a_known_department():
    assert validate_roles(["handler"], "urban_management", DEPARTMENTS) == (("handler",), "urban_management")
    assert validate_roles(["department"], " town_yangshe ", DEPARTMENTS) == (("handler",), "town_yangshe")
    with pytest.raises(AccountError, match="needs --department"):
        validate_roles(["handler"], "", DEPARTMENTS)
    with pytest.raises(AccountError, match="unknown department 'fire_brigade'"):
        validate_roles(["handler"], "fire_brigade", DEPARTMENTS)


def test_only_a_handler_is_bound_to_a_department():
    with pytest.raises(AccountError, match="only a department handler"):
        validate_roles(["dispatcher"], "urban_management", DEPARTMENTS)
    assert validate_roles(["dispatcher", "handler"], "water_affairs", DEPARTMENTS) == (("dispatcher", "handler"), "water_affairs")


# ---- password hashes ------------------------------------------------------------------------

def test_passwords_are_hashed_with_argon2id_and_a_salt():
    a, b = hash_password("correct-horse-battery"), hash_password("correct-horse-battery")
    assert a.startswith("$argon2id$v=19$")
    assert "m=65536,t=3,p=4" in a
    assert a != b  # salted
    assert "correct-horse-battery" not in a


def test_verify_right_and_wrong_passwords():
    digest = hash_password("correct-horse-battery")
    assert verify_password(digest, "correct-horse-battery") is True
    assert verify_password(digest, "correct-horse-batterz") is False
    assert verify_password(digest, "") is False
    assert verify_password("not a hash", "correct-horse-battery") is False
    assert verify_password("", "") is False


def test_needs_rehash_for_weaker_parameters_or_a_broken_hash():
    assert needs_rehash(hash_password("correct-horse-battery")) is False
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct-horse-battery")
    assert verify_password(weak, "correct-horse-battery")  # still accepted ...
    assert needs_rehash(weak) is True  # ... and upgraded at the next sign-in
    assert needs_rehash("$2b$12$notargon") is True


# ---- user records ---------------------------------------------------------------------------

def test_a_user_record_round_trips_and_its_public_form_has_no_hash():
    user = User("zhang", ("handler",), hash_password("correct-horse-battery"), "张三", "urban_management", False, 3, 1, 2)
    assert User.from_dict(user.to_dict()) == user
    public = user.public()
    assert "password_hash" not in public and public["roles"] == ["handler"] and public["epoch"] == 3
    p = user.principal()
    assert (p.name, p.roles, p.department, p.kind, p.read_only, p.label) == (
        "zhang", frozenset({"handler"}), "urban_management", "user", False, "张三")


# ---- API tokens -----------------------------------------------------------------------------

def test_a_token_secret_has_the_documented_format_and_only_its_sha256_is_kept():
    token_id, secret, digest = new_token_secret()
    assert re.fullmatch(r"[0-9a-f]{8}", token_id)
    assert re.fullmatch(rf"ioc_{token_id}_[A-Za-z0-9_-]{{43}}", secret)
    assert digest == hashlib.sha256(secret.encode()).hexdigest() == token_sha256(secret)
    token = ApiToken(token_id, "traffic platform", ("dispatcher",), "", False, "admin", 1, 0, "", digest)
    stored = token.to_dict()
    assert stored["secret_sha256"] == digest
    assert secret not in repr(stored) and secret.split("_", 2)[2] not in repr(stored)
    assert "secret_sha256" not in token.public() and token.public()["active"] is True
    assert digest not in repr(token)  # not even the digest in logs
    assert ApiToken.from_dict(stored) == token


def test_token_secrets_are_unique():
    secrets_ = {new_token_secret()[1] for _ in range(200)}
    assert len(secrets_) == 200


def test_token_principals():
    api = ApiToken("abcd0123", "city brain", ("dispatcher",), "", False)
    p = api.principal()
    assert (p.name, p.roles, p.kind, p.read_only) == ("token:city brain", frozenset({"dispatcher"}), "token", False)
    kiosk = ApiToken("abcd0124", "wall 1", ("admin",), "", True)  # a kiosk link is an operator whatever it says
    k = kiosk.principal()
    assert (k.name, k.roles, k.kind, k.read_only) == ("kiosk:wall 1", frozenset({"operator"}), "kiosk", True)
    revoked = ApiToken("abcd0125", "old", ("operator",), revoked_at=5, revoked_by="admin")
    assert not revoked.active and revoked.public()["active"] is False


def test_token_names():
    assert validate_token_name("  traffic platform ") == "traffic platform"
    assert validate_token_name("x" * 60) == "x" * 60
    for bad in ("", "   ", "x" * 61, "a\nb", "a\tb", None):
        with pytest.raises(AccountError, match="1-60 characters"):
            validate_token_name(bad)
