"""Boundaries that keep the code easy to change."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from ioc.settings import REPO_ROOT

FORBIDDEN_IN_DOMAIN = ("dash", "redis", "paho", "flask", "gunicorn", "amqtt", "socket", "subprocess", "requests", "PIL",
                       "pillow_heif", "boto3", "botocore")


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


def test_the_domain_does_not_import_adapters_the_web_or_the_words_people_read():
    """The domain is the bottom layer: presentation (ioc.views, ioc.i18n: UI words, role names)
    and I/O sit on top of it."""
    for path in (REPO_ROOT / "ioc" / "domain").rglob("*.py"):
        bad = [m for m in _modules(path) if m.startswith(("ioc.adapters", "ioc.web", "ioc.ingest", "ioc.casework",
                                                          "ioc.views", "ioc.i18n", "layouts", "callbacks"))]
        assert bad == [], path


def test_views_take_plain_values_not_adapters_or_frameworks():
    """ioc/views turn plain values (ioc.domain) into what a page shows; the web layer and the
    callbacks read the stores and hand the values over."""
    for path in (REPO_ROOT / "ioc" / "views").rglob("*.py"):
        bad = [m for m in _modules(path) if m.startswith(("ioc.adapters", "ioc.web", "ioc.ingest", "ioc.casework"))
               or m.split(".")[0] in ("redis", "flask", "dash", "paho", "layouts", "callbacks")]
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


# --- one owner per Redis key family (ioc.adapters.redis_keys.FAMILIES) ---------------------------

SOURCE_DIRS = ("ioc", "layouts", "callbacks", "simulators", "bench", "scripts")

# Redis commands that change data, as redis-py methods; a call with `keys=` runs a script. Consumer
# group bookkeeping (xgroup_create, xack, xautoclaim, xreadgroup) is the consumer's (see FAMILIES).
WRITE_METHODS = frozenset({
    "set", "setex", "psetex", "setnx", "mset", "msetnx", "getset", "getdel", "getex", "setrange",
    "incr", "incrby", "incrbyfloat", "decr", "decrby",  # (APPEND left out: list.append is everywhere; IOC never uses it)
    "hset", "hsetnx", "hmset", "hdel", "hincrby", "hincrbyfloat",
    "xadd", "xdel", "xtrim",
    "zadd", "zrem", "zincrby", "zremrangebyscore", "zremrangebyrank", "zremrangebylex", "geoadd",
    "sadd", "srem", "spop", "smove", "lpush", "rpush", "lpop", "rpop", "lset", "ltrim", "lrem",
    "delete", "unlink", "rename", "renamenx", "copy", "restore", "expire", "pexpire", "expireat", "pexpireat", "persist",
    "eval", "evalsha", "fcall", "queue", "run_batch",
})


def _source_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (REPO_ROOT / d).rglob("*.py"))


@functools.cache
def _parsed(path: Path) -> ast.Module:
    """The syntax tree of a source file, parsed once for every test of this module (read only)."""
    return ast.parse(path.read_text(encoding="utf-8"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class _KeyRefs:
    """Which key families an expression of one module refers to: names and functions of
    `redis_keys` (directly, through another module's alias, a module-level constant, a local
    variable, or a function or method of the module that returns keys)."""

    def __init__(self, path: Path, families):
        import importlib

        self.import_module = importlib.import_module
        self.module = _module_name(path)
        self.tree = _parsed(path)
        self.families = families
        package = self.module if path.name == "__init__.py" else self.module.rpartition(".")[0]
        self.bound: dict[str, tuple[str, str | None]] = {}  # local name -> (module, attribute or None)
        self.globals: dict[str, list[ast.expr]] = {}
        self.functions: dict[str, list[ast.AST]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.bound[alias.asname or alias.name.split(".")[0]] = (alias.name if alias.asname else alias.name.split(".")[0], None)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                for alias in node.names:
                    self.bound[alias.asname or alias.name] = (base, alias.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(node)
        for node in self.tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            self.globals.setdefault(name.id, []).append(node.value)
        self.parents = {child: parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}
        self._seen: set = set()
        self._memo: dict = {}
        self._locals: dict = {}

    def _value(self, module: str, attribute: str | None):
        key = (module, attribute)
        if key not in _VALUES:
            _VALUES[key] = self._import(module, attribute)
        return _VALUES[key]

    def _import(self, module: str, attribute: str | None):
        try:
            if attribute is None:
                return self.import_module(module)
            value = getattr(self.import_module(module), attribute, _MISSING)
            return self.import_module(f"{module}.{attribute}") if value is _MISSING else value
        except ImportError:
            return None

    def _families_of_value(self, value) -> set[str]:
        if isinstance(value, (tuple, list, set, frozenset)):
            return set().union(*(self._families_of_value(v) for v in value)) if value else set()
        if isinstance(value, dict):
            return self._families_of_value(list(value)) | self._families_of_value(list(value.values()))
        found = set()
        for family in self.families:
            for key in family.keys:
                if callable(key) and value is key:
                    found.add(family.name)
                elif isinstance(key, str) and isinstance(value, str) and (value == key or value.startswith(key + ":")):
                    found.add(family.name)
        return found

    def _enclosing_function(self, node):
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return node
        return None

    def _local_values(self, function, name: str) -> list[ast.expr]:
        key = (function, name)
        if key not in self._locals:
            values = []
            for node in ast.walk(function):
                if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    if any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t)):
                        values.append(node.value)
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                        isinstance(node.func.value, ast.Name) and node.func.value.id == name and \
                        node.func.attr in ("append", "extend", "insert", "add", "update", "setdefault"):
                    values.extend(node.args)  # a list or dict of keys filled step by step
            self._locals[key] = values
        return self._locals[key]

    def _returns(self, name: str) -> list[ast.expr]:
        return [n.value for f in self.functions.get(name, []) for n in ast.walk(f) if isinstance(n, ast.Return) and n.value]

    def of(self, expr) -> set[str]:
        found: set[str] = set()
        for node in ast.walk(expr):
            found |= self._of_node(node)
        return found

    def _of_node(self, node) -> set[str]:
        """What `node` itself refers to (its children are walked by `of`); memoised, cycles cut."""
        if node in self._memo:
            return self._memo[node]
        if node in self._seen:
            return set()
        self._seen.add(node)
        found: set[str] = set()
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = node.value.id
            if owner in self.bound:
                base = self._value(*self.bound[owner])
                if base is not None and hasattr(base, "__file__"):  # a module: one of its names
                    found |= self._families_of_value(getattr(base, node.attr, None))
            elif owner in ("self", "cls"):
                found |= self._of_all(self._returns(node.attr))
        elif isinstance(node, ast.Name):
            if node.id in self.bound:
                found |= self._families_of_value(self._value(*self.bound[node.id]))
            function = self._enclosing_function(node)
            local = self._local_values(function, node.id) if function is not None else []
            if local:
                found |= self._of_all(local)
            elif node.id in self.globals:
                found |= self._of_all(self.globals[node.id])
            elif node.id in self.functions:
                found |= self._of_all(self._returns(node.id))
        self._seen.discard(node)
        self._memo[node] = found
        return found

    def _of_all(self, exprs) -> set[str]:
        return set().union(*(self.of(e) for e in exprs)) if exprs else set()


_MISSING = object()
_VALUES: dict = {}


def _writes() -> dict[str, dict[str, list[str]]]:
    """family -> module -> the write calls (`path:line: call`) of that module that touch the family."""
    from ioc.adapters.redis_keys import FAMILIES

    out: dict[str, dict[str, list[str]]] = {f.name: {} for f in FAMILIES}
    for path in _source_files():
        refs = _KeyRefs(path, FAMILIES)
        for node in ast.walk(refs.tree):
            if not isinstance(node, ast.Call):
                continue
            method = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if method not in WRITE_METHODS and not any(k.arg == "keys" for k in node.keywords):
                continue
            for family in refs.of(ast.Tuple(elts=[*node.args, *(k.value for k in node.keywords)], ctx=ast.Load())):
                where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)[:100]}"
                out[family].setdefault(refs.module, []).append(where)
    return out


@pytest.fixture(scope="module")
def writes():
    return _writes()


def _family_names():
    from ioc.adapters.redis_keys import FAMILIES

    return [f.name for f in FAMILIES]


@pytest.mark.parametrize("family", _family_names())
def test_only_the_owner_module_writes_a_key_family(family, writes):
    from ioc.adapters.redis_keys import FAMILIES

    allowed = next(f for f in FAMILIES if f.name == family).writers()
    assert {module: calls for module, calls in writes[family].items() if module not in allowed} == {}


@pytest.mark.parametrize("family", _family_names())
def test_the_scan_sees_the_owner_write_its_family(family, writes):
    """Keeps the scan honest: a scan that missed the owner's own writes would miss others' too."""
    from ioc.adapters.redis_keys import FAMILIES

    assert next(f for f in FAMILIES if f.name == family).owner in writes[family]


def test_every_key_name_belongs_to_a_family():
    from ioc.adapters import redis_keys
    from ioc.adapters.redis_keys import FAMILIES

    names = {name: v for name, v in vars(redis_keys).items() if not name.upper().startswith("LEGACY")}  # migration only
    named = {v for v in names.values() if isinstance(v, str) and v.startswith("ioc:")}
    named |= {v for v in names.values() if callable(v) and getattr(v, "__module__", "") == redis_keys.__name__
              and v.__doc__ and v not in (redis_keys.shard_of, redis_keys.Family)}
    in_families = {k for f in FAMILIES for k in f.keys}
    not_keys = {redis_keys.CORE, redis_keys.CASES, redis_keys.EVENTS, redis_keys.ROLLUP_TAG}  # prefixes and hash tags
    assert named - in_families - not_keys == set()


def test_key_names_are_spelled_only_in_redis_keys():
    """No `"ioc:…"` literal and no f-string around a redis_keys name outside redis_keys."""
    offenders = []
    for path in _source_files():
        if path == REPO_ROOT / "ioc" / "adapters" / "redis_keys.py":
            continue
        tree = _parsed(path)
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        keys_aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                        for a in n.names if a.name == "redis_keys"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and node.value.startswith("ioc:"):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.value[:60]!r}")
            if isinstance(node, ast.JoinedStr) and any(
                    isinstance(v, ast.FormattedValue) and any(isinstance(n, ast.Name) and n.id in keys_aliases for n in ast.walk(v))
                    for v in node.values):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert offenders == []


# --- Lua: one file per script, one registry ------------------------------------------------------

def test_every_lua_script_is_a_file_the_registry_names():
    from ioc.adapters import scripts

    assert sorted(p.stem for p in scripts.LUA_DIR.glob("*.lua")) == sorted(scripts.NAMES)
    for name in scripts.NAMES:
        assert "redis.call(" in scripts.source(name)


def test_no_lua_text_or_script_loading_outside_the_registry():
    registry = {REPO_ROOT / "ioc" / "adapters" / "scripts.py",
                REPO_ROOT / "ioc" / "adapters" / "redis_client.py"}  # the client's own script plumbing (DeferredRedis)
    offenders = []
    for path in _source_files():
        if path in registry:
            continue
        for node in ast.walk(_parsed(path)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "redis.call(" in node.value:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: Lua text")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("register_script", "script_load", "eval", "evalsha"):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert offenders == []


# --- China Standard Time, defined once (ioc.domain.clock) ----------------------------------------

def _is_const(node, *values) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value in values


def test_china_time_is_defined_only_in_the_clock_module():
    """No fixed offset, time zone or UTC+8 arithmetic outside ioc/domain/clock.py: import CHINA_TZ,
    UTC_OFFSET_MS or a helper (local_text, local_iso, local_midnight_ms, local_hour) from there."""
    clock = REPO_ROOT / "ioc" / "domain" / "clock.py"
    offenders = []
    for path in _source_files():
        if path == clock:
            continue
        for node in ast.walk(_parsed(path)):
            func = node.func if isinstance(node, ast.Call) else None
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            bad = (
                name in ("timezone", "ZoneInfo", "gettz")  # a time zone of its own
                or (name == "timedelta" and any(k.arg == "hours" and _is_const(k.value, 8) for k in node.keywords))
                or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)
                    and any(_is_const(a, 8) and _is_const(b, 3600, 3_600_000) for a, b in
                            ((node.left, node.right), (node.right, node.left))))
                or _is_const(node, 28_800, 28_800_000)
                or (isinstance(node, ast.Constant) and node.value == "Asia/Shanghai")
            )
            if bad:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert offenders == []


# --- the import graph ----------------------------------------------------------------------------

def _import_graph() -> dict[str, set[str]]:
    """module -> the modules of SOURCE_DIRS it imports. Every import statement counts, those inside
    functions too (a deferred import is still a dependency; only `if TYPE_CHECKING:` blocks are
    left out). Importing `a.b.c` also imports the packages `a` and `a.b`, unless the importer is
    inside them already."""
    files = {_module_name(p): p for p in _source_files()}

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = _parsed(path)
        skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for n in ast.walk(node)}
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(filter(None, (known(a.name) for a in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    target = known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in files else known(base)
                    if target:
                        targets.add(target)
        own_packages = {".".join(module.split(".")[:k]) for k in range(1, module.count(".") + 1)}
        for target in list(targets):
            parts = target.split(".")
            targets.update(p for p in (".".join(parts[:k]) for k in range(1, len(parts))) if p in files and p not in own_packages)
        targets.discard(module)
        graph[module] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def import_graph():
    return _import_graph()


def test_the_import_graph_has_no_cycle(import_graph):
    """Over ioc, layouts, callbacks, simulators, bench and scripts, imports inside functions included."""
    assert _cycles(import_graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# layer -> the layers it must not import (the arrows point down: web and workers -> views ->
# domain; adapters -> domain; tools -> product)
LAYERS = {
    "ioc.domain": ("ioc.adapters", "ioc.web", "ioc.ingest", "ioc.casework", "ioc.events", "ioc.views", "ioc.i18n", "layouts",
                   "callbacks"),
    "ioc.views": ("ioc.adapters", "ioc.web", "ioc.ingest", "ioc.casework", "ioc.events", "layouts", "callbacks"),
    "ioc.adapters": ("ioc.web", "ioc.views", "ioc.ingest", "ioc.casework", "ioc.events", "layouts", "callbacks"),
    "ioc.ingest": ("ioc.web", "ioc.casework", "ioc.events", "layouts", "callbacks"),
    "ioc.casework": ("ioc.web", "ioc.ingest", "layouts", "callbacks"),
    "ioc.events": ("ioc.web", "ioc.ingest", "layouts", "callbacks"),
    "layouts": ("ioc.adapters", "ioc.web", "callbacks"),
    "ioc": ("simulators", "bench", "scripts"),
}


def _in(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def test_imports_point_down_the_layers(import_graph):
    wrong = sorted(f"{module} -> {target}" for module, targets in import_graph.items() for target in targets
                   for layer, below in LAYERS.items() if _in(module, layer) and any(_in(target, b) for b in below))
    assert wrong == []
