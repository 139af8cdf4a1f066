"""The reference pages (docs/reference/*.md) document every public name the code defines —
settings, kinds, attributes, rules, reject reasons, Redis key families, metrics, commands, portal
pages, case actions, departments, audit actions — and their generated tables are the ones the
code makes (`python -m scripts.reference_tables --write` rewrites them)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from ioc.adapters import redis_keys
from ioc.domain.cases import TRANSITIONS
from ioc.domain.departments import FUNCTIONAL
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES
from ioc.domain.telemetry import REASONS
from ioc.settings import SETTINGS
from ioc.web.metrics import metric_families
from scripts.reference_tables import REFERENCE, TABLES, portal_pages


def page(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_documented(setting):
    assert f"`{setting.env}`" in page("settings.md")


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda k: k.id)
def test_every_kind_and_its_attributes_are_documented(kind):
    mqtt = page("mqtt.md")
    assert f"`{kind.id}`" in mqtt
    for attr in kind.attributes:
        assert f"`{attr.name}`" in mqtt, attr.name


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_is_documented(rule):
    assert f"`{rule.id}`" in page("alarms.md")


@pytest.mark.parametrize("reason", REASONS)
def test_every_reject_reason_is_documented(reason):
    assert f"`{reason}`" in page("mqtt.md")


# what a key family's variable part is called on the page, by the parameter that names it
PLACEHOLDERS = {"shard": "N", "minute": "<minute>", "hour": "<hour>", "case_id": "<id>", "class_code": "<class>"}
# modules that name key families: every key is to be named in redis_keys; the cases' families
# are still named beside their store (checked here until they move)
KEY_MODULES = ("ioc.adapters.redis_keys", "ioc.adapters.case_store")


def key_families() -> set[str]:
    """Every key family the code names: the `ioc:` constants and the key functions (called with
    the placeholders the page uses), without the prefixes other families extend and the names of
    before the `{core}` tag."""
    found: set[str] = set()
    for module_name in KEY_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, value in vars(module).items():
            if name.startswith(("_", "LEGACY")):
                continue
            if isinstance(value, str) and name.isupper() and value.startswith("ioc:"):
                found.add(value)
            elif inspect.isfunction(value) and value.__module__ == module.__name__:
                params = list(inspect.signature(value).parameters)
                if params and all(p in PLACEHOLDERS for p in params):
                    key = value(*(PLACEHOLDERS[p] for p in params))
                    if isinstance(key, str) and key.startswith("ioc:"):
                        found.add(key)
    return {key for key in found if not any(other.startswith(key + ":") for other in found)}


def test_the_key_families_are_found_in_the_code():
    families = key_families()
    assert {"ioc:metrics", "ioc:{sN}:latest", "ioc:{rollup}:min:<minute>", "ioc:{core}:alarms:active",
            "ioc:{core}:cases:timeline:<id>", "ioc:session"} <= families
    assert redis_keys.CORE not in families and redis_keys.ROLLUP_TAG not in families


@pytest.mark.parametrize("family", sorted(key_families()))
def test_every_redis_key_family_is_documented(family):
    assert f"`{family}`" in page("redis-keys.md"), family


def test_every_metric_is_documented():
    metrics = page("metrics.md")
    for family in metric_families({}, 0, 0, {}, 0, 0):
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in metrics, name


@pytest.mark.parametrize("command", ["python -m ioc demo", "python -m ioc web", "python -m ioc ingest", "python -m ioc cases",
                                     "python -m simulators", "python -m ioc user add", "python -m ioc user list",
                                     "python -m ioc user disable", "enable NAME", "python -m ioc user reset-password",
                                     "python -m ioc user update", "python -m ioc token create", "python -m ioc token list",
                                     "token revoke", "make demo", "make test", "make bench", "make soak", "make screenshots"])
def test_every_command_is_documented(command):
    assert command in page("cli.md")


@pytest.mark.parametrize("path, permission", [(p[0], p[1]) for p in portal_pages()], ids=lambda v: v)
def test_every_portal_page_is_documented_with_its_permission(path, permission):
    assert f"| `{path}` |" in page("http.md") and f"`{permission}`" in page("http.md")


@pytest.mark.parametrize("action", TRANSITIONS)
def test_every_case_action_has_a_row(action):
    assert any(line.startswith("| ") and f"`{action}`" in line for line in page("cases.md").splitlines()), action


@pytest.mark.parametrize("department", [d.id for d in FUNCTIONAL])
def test_every_functional_department_is_documented(department):
    assert f"`{department}`" in page("access.md")


@pytest.mark.parametrize("title, make, path", TABLES, ids=[t[0] for t in TABLES])
def test_the_generated_tables_are_the_ones_the_code_makes(title, make, path):
    table = make()
    assert table in path.read_text(encoding="utf-8"), f"{path.name}: run python -m scripts.reference_tables --write ({title})"
