"""Boundaries that keep the code easy to change."""

from __future__ import annotations

import ast
from pathlib import Path

from ioc.settings import REPO_ROOT

FORBIDDEN_IN_DOMAIN = ("dash", "redis", "paho", "flask", "gunicorn", "amqtt", "socket", "subprocess", "requests")


def _modules(path: Path) -> set[str]:
    """Full dotted names of every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


def test_the_domain_imports_no_framework_or_io_library():
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(_imports(path) & set(FORBIDDEN_IN_DOMAIN))
        for path in (REPO_ROOT / "ioc" / "domain").rglob("*.py")
    }
    assert {p: names for p, names in offenders.items() if names} == {}


def test_the_domain_does_not_import_adapters_or_the_web():
    for path in (REPO_ROOT / "ioc" / "domain").rglob("*.py"):
        bad = [m for m in _modules(path) if m.startswith(("ioc.adapters", "ioc.web", "ioc.ingest"))]
        assert bad == [], path


def test_callbacks_never_import_a_global_app():
    for path in (REPO_ROOT / "callbacks").rglob("*.py"):
        assert "ioc.web.app" not in _modules(path), path


def test_layouts_build_components_without_io():
    for path in (REPO_ROOT / "layouts").rglob("*.py"):
        assert not (_imports(path) & {"redis", "paho", "requests"}), path


def test_test_modules_have_unique_names_across_the_test_folders():
    """tests/ has no packages: pytest imports test modules by basename, so two alike would clash."""
    from collections import Counter

    from ioc.settings import REPO_ROOT

    names = Counter(p.name for p in (REPO_ROOT / "tests").glob("*/test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
