"""The generated tables of the reference pages (docs/reference/*.md), made from the code.

    .venv/bin/python -m scripts.reference_tables              # print them
    .venv/bin/python -m scripts.reference_tables --write      # update them in docs/reference/

Each table is found in its page by its header row and replaced whole. tests/unit/test_readme.py
fails when a page does not hold the table the code makes, so the reference cannot drift.
"""

from __future__ import annotations

import re

from pathlib import Path

from ioc.adapters.audit_log import ACTIONS
from ioc.domain.access import PERMISSION_NOTES, PERMISSIONS, ROLES, Principal, allowed
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES
from ioc.domain.telemetry import REASONS
from ioc.i18n import ROLE_NAMES, t
from ioc.settings import REPO_ROOT, SETTINGS

REFERENCE = REPO_ROOT / "docs" / "reference"


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
        threshold = r.threshold if not isinstance(r.threshold, bool) else str(r.threshold).lower()
        raise_when = f"`{r.attribute} {r.op} {threshold}` for {r.for_samples} samples"
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


def portal_pages() -> list[tuple[str, str, str, str]]:
    """(path template, permission, 中文, English) of every portal page, from the page table
    (`ioc.web.pages.PAGES`), in navigation order; a page opened from another (one district, one
    case) follows the navigation entry it comes after in the table."""
    from ioc.web.pages import NAVIGATION, PAGES

    opened_from = {"districts": ("区镇详情", "District page"), "case": ("案件详情", "Case page"), "event": ("事件详情", "Event page"),
                   "device": ("设备回溯", "Device rewind"), "reports": ("月度考评报告", "Monthly assessment report")}
    pages = []
    for entry in NAVIGATION:
        pages.append((_template(entry.path), entry.permission, t(f"nav_{entry.view}", "zh"), t(f"nav_{entry.view}", "en")))
        for page in PAGES[PAGES.index(entry) + 1:]:
            if page.nav is not None:
                break
            zh, en = opened_from[page.view]
            pages.append((_template(page.path), page.permission, zh, en))
    return pages


def _template(path: str) -> str:
    """A page's path template as people read it: `/district/<path:district_id>` -> `/district/<district_id>`."""
    return re.sub(r"<path:", "<", path)


KIOSK = Principal("kiosk", frozenset({"operator"}), kind="kiosk", read_only=True)


def pages_table() -> str:
    roles = " | ".join(f"{r} {ROLE_NAMES[r]['zh']}" for r in ROLES)
    rows = [f"| path | page | permission | {roles} | kiosk |", "|---|---|---|" + "---|" * (len(ROLES) + 1)]
    for path, permission, zh, en in portal_pages():
        marks = ["✔" if allowed(Principal(role, frozenset({role})), permission) else "" for role in ROLES]
        marks.append("✔" if allowed(KIOSK, permission) else "")
        rows.append(f"| `{path}` | {zh} / {en} | `{permission}` | {' | '.join(marks)} |")
    return "\n".join(rows)


# (title, table, the page that holds it)
TABLES = (("settings", settings_table, REFERENCE / "settings.md"),
          ("kinds", kinds_table, REFERENCE / "mqtt.md"),
          ("reasons", reasons_table, REFERENCE / "mqtt.md"),
          ("rules", rules_table, REFERENCE / "alarms.md"),
          ("permissions", permissions_table, REFERENCE / "access.md"),
          ("audit actions", audit_actions_table, REFERENCE / "access.md"),
          ("portal pages", pages_table, REFERENCE / "http.md"))


def replace_table(text: str, table: str) -> str | None:
    """`text` with the table that has `table`'s first two header cells replaced by `table`
    (even with new columns); None when the text has no such table."""
    header = "|".join(table.splitlines()[0].split("|")[:3]) + "|"
    start = text.find(header)
    if start < 0:
        return None
    end = text.find("\n\n", start)
    end = len(text.rstrip("\n")) if end < 0 else end
    return text[:start] + table + text[end:]


def write(tables=TABLES) -> list[str]:
    """Replace each generated table in its page with the one the code makes now; the titles changed."""
    changed = []
    for title, make, path in tables:
        text = Path(path).read_text(encoding="utf-8")
        new = replace_table(text, make())
        if new is None:
            raise SystemExit(f"{path} has no {title} table")
        if new != text:
            Path(path).write_text(new, encoding="utf-8")
            changed.append(title)
    return changed


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        print("updated:", ", ".join(write()) or "nothing")
    else:
        for title, make, path in TABLES:
            print(f"<!-- {title}: {Path(path).relative_to(REPO_ROOT)} -->\n{make()}\n")
