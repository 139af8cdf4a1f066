"""The README documents every public name the code defines (settings, kinds, attributes,
rules, reject reasons, Redis key families, metrics, commands)."""

from __future__ import annotations


import pytest

from ioc.adapters import redis_keys
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES
from ioc.domain.telemetry import REASONS
from ioc.settings import REPO_ROOT, SETTINGS
from ioc.web.metrics import metric_families

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_documented(setting):
    assert f"`{setting.env}`" in README


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda k: k.id)
def test_every_kind_and_its_attributes_are_documented(kind):
    assert f"`{kind.id}`" in README
    for attr in kind.attributes:
        assert f"`{attr.name}`" in README, attr.name


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_is_documented(rule):
    assert f"`{rule.id}`" in README


@pytest.mark.parametrize("reason", REASONS)
def test_every_reject_reason_is_documented(reason):
    assert f"`{reason}`" in README


def test_every_redis_key_family_is_documented():
    names = [redis_keys.METRICS, redis_keys.DEADLETTER, redis_keys.ALARMS_ACTIVE, redis_keys.ALARMS_EVENTS, redis_keys.ALARMS_ACKS,
             redis_keys.WORKERS, redis_keys.USERS, redis_keys.TOKENS, redis_keys.TOKEN_INDEX, redis_keys.LOGIN_FAILURES,
             redis_keys.SESSIONS, redis_keys.AUDIT, redis_keys.SECRET_KEY]
    sharded = [f(0) for f in (redis_keys.latest, redis_keys.latest_ts, redis_keys.meta, redis_keys.district,
                              redis_keys.state, redis_keys.geo, redis_keys.rules, redis_keys.registry_version,
                              redis_keys.state_version)]
    buckets = [redis_keys.rollup(1), redis_keys.rollup_hourly(1)]
    for key in names:
        assert f"`{key}`" in README, key
    for key in sharded:
        family = key.replace("{s0}", "{sN}")
        assert f"`{family}`" in README, family
    for key in buckets:
        family = key.replace(":min:1", ":min:<minute>").replace(":hour:1", ":hour:<hour>")
        assert f"`{family}`" in README, family


def test_every_metric_is_documented():
    for family in metric_families({}, 0, 0, {}, 0, 0):
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in README, name


def test_the_quick_start_shows_both_commands():
    assert "make demo" in README and "make test" in README


@pytest.mark.parametrize("command", ["python -m ioc demo", "python -m ioc web", "python -m ioc ingest", "python -m simulators",
                                     "python -m ioc user add", "python -m ioc user list", "python -m ioc user disable",
                                     "python -m ioc user reset-password", "python -m ioc token create", "python -m ioc token list"])
def test_every_command_is_documented(command):
    assert command in README


def test_the_readme_tables_match_the_reference_generator():
    from scripts.reference_tables import TABLES

    for _title, make in TABLES:
        table = make()
        assert table in README, table.splitlines()[2]
