"""The README is a guide: short, with the quick start, the processes, the settings most
installations touch (with the defaults the code has) and a way into every reference page. The
reference itself is checked against the code in test_reference_docs.py."""

from __future__ import annotations

import re

import pytest

from ioc.settings import REPO_ROOT, SETTINGS

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
DEFAULTS = {s.env: s.default for s in SETTINGS}


def test_the_readme_is_a_guide_of_at_most_about_500_lines():
    assert len(README.splitlines()) <= 520


def test_the_quick_start_shows_both_commands():
    assert "make demo" in README and "make test" in README


def test_every_procfile_process_is_in_the_readme_with_its_command():
    for line in (REPO_ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, command = (part.strip() for part in line.split(":", 1))
            assert f"| `{name}` | `{command}` |" in README, line


def readme_settings() -> list[tuple[str, str]]:
    """(variable, default) of each row of the README's configuration table."""
    rows = re.findall(r"^\| `([A-Z_]+)` \| (`[^`]*`|\(unset\)) \|", README, re.M)
    return [(env, "" if default == "(unset)" else default.strip("`")) for env, default in rows]


def test_the_readme_names_the_settings_most_installations_touch():
    names = {env for env, _ in readme_settings()}
    assert {"REDIS_URL", "MQTT_URL", "IOC_SECRET_KEY", "IOC_LANG", "IOC_TILE_URL", "IOC_DATA_DIR", "PORT"} <= names


@pytest.mark.parametrize("env, default", readme_settings(), ids=lambda v: v)
def test_each_setting_in_the_readme_exists_with_its_default(env, default):
    assert env in DEFAULTS, f"{env} is no setting"
    assert DEFAULTS[env] == default, f"{env}: the README says {default!r}, the code {DEFAULTS[env]!r}"


@pytest.mark.parametrize("page", sorted(p.name for p in (REPO_ROOT / "docs" / "reference").glob("*.md")))
def test_the_readme_leads_to_every_reference_page(page):
    assert f"(docs/reference/{page}" in README, page


@pytest.mark.parametrize("page", ["portal.md", "architecture.md", "operations.md", "security.md", "testing.md", "perf.md",
                                  "changes.md"])
def test_the_readme_leads_to_every_guide_page(page):
    assert f"(docs/{page}" in README, page
