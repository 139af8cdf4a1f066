"""Print the README's reference tables (settings, kinds, rules, reject reasons) from the code.

    .venv/bin/python -m scripts.reference_tables              # print them
    .venv/bin/python -m scripts.reference_tables --write      # update them in README.md

tests/unit/test_readme.py fails when the README misses an entry these tables list.
"""

from __future__ import annotations

from ioc.adapters.audit_log import ACTIONS
from ioc.domain.access import PERMISSION_NOTES, PERMISSIONS, ROLES
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES
from ioc.domain.telemetry import REASONS
from ioc.i18n import ROLE_NAMES
from ioc.settings import SETTINGS


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.env}` | `{s.default}` | {s.help} |" if s.default else f"| `{s.env}` | (unset) | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)


def kinds_table() -> str:
    rows = ["| kind | 中文 | data model | attributes (unit, range) |", "|---|---|---|---|"]
    for k in KINDS.values():
        attrs = []
        for a in k.attributes:
            if a.type == "enum":
                attrs.append(f"`{a.name}` ({' / '.join(a.choices)})")
            elif a.type == "boolean":
                attrs.append(f"`{a.name}` (true / false)")
            else:
                unit = f"{a.unit}, " if a.unit else ""
                lo = int(a.minimum) if float(a.minimum).is_integer() else a.minimum
                hi = int(a.maximum) if float(a.maximum).is_integer() else a.maximum
                attrs.append(f"`{a.name}` ({unit}{lo}–{hi}{', integer' if a.type == 'integer' else ''})")
        rows.append(f"| `{k.id}` | {k.name_zh} | {k.data_model or '(own, see here)'} | {'; '.join(attrs) or 'status only'} |")
    return "\n".join(rows)


def rules_table() -> str:
    rows = ["| rule | kind | raises when | clears when | severity | 中文 |", "|---|---|---|---|---|---|"]
    for r in RULES:
        t = r.threshold if not isinstance(r.threshold, bool) else str(r.threshold).lower()
        raise_when = f"`{r.attribute} {r.op} {t}` for {r.for_samples} samples"
        if r.clear is None:
            clear_when = "back to normal"
        else:
            clear_when = f"`{r.attribute} {'<' if r.op in ('>', '>=') else '>'} {r.clear}`"
        rows.append(f"| `{r.id}` | `{r.kind}` | {raise_when} | {clear_when} | {r.severity} | {r.name_zh} |")
    return "\n".join(rows)


def reasons_table() -> str:
    rows = ["| reason | meaning |", "|---|---|"]
    rows += [f"| `{k}` | {v} |" for k, v in REASONS.items()]
    return "\n".join(rows)


def permissions_table() -> str:
    head = " | ".join(f"{r} {ROLE_NAMES[r]['zh']}" for r in ROLES)
    rows = [f"| permission | {head} | what it allows |", "|---|" + "---|" * len(ROLES) + "---|"]
    for permission, holders in PERMISSIONS.items():
        marks = " | ".join("✔" if r in holders else "" for r in ROLES)
        rows.append(f"| `{permission}` | {marks} | {PERMISSION_NOTES[permission]} |")
    return "\n".join(rows)


def audit_actions_table() -> str:
    rows = ["| action | recorded when |", "|---|---|"]
    rows += [f"| `{k}` | {v} |" for k, v in ACTIONS.items()]
    return "\n".join(rows)


TABLES = (("settings", settings_table), ("kinds", kinds_table), ("rules", rules_table), ("reasons", reasons_table),
          ("permissions", permissions_table), ("audit actions", audit_actions_table))

def write_into(readme_path) -> list[str]:
    """Replace each generated table in the README (found by its header line) with the current one."""
    from pathlib import Path

    path = Path(readme_path)
    text = path.read_text(encoding="utf-8")
    changed = []
    for title, make in TABLES:
        table = make()
        header = "|".join(table.splitlines()[0].split("|")[:3]) + "|"  # the first two cells find it, even with new columns
        start = text.find(header)
        if start < 0:
            raise SystemExit(f"README has no {title} table (header {header!r})")
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end
        if text[start:end] != table:
            text = text[:start] + table + text[end:]
            changed.append(title)
    path.write_text(text, encoding="utf-8")
    return changed


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        print("updated:", ", ".join(write_into(sys.argv[2] if len(sys.argv) > 2 else "README.md")) or "nothing")
    else:
        for title, make in TABLES:
            print(f"<!-- {title} -->\n{make()}\n")
