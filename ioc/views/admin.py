"""Pure view model of the users and API tokens page (/admin): records in, table rows and
dropdown options out, plus the small rules the page applies before asking the user store.

No I/O here: the callbacks read the store and call these functions; tests call them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ioc.domain.access import ROLES
from ioc.domain.accounts import ApiToken, User
from ioc.domain.clock import local_text
from ioc.domain.departments import Department
from ioc.i18n import ROLE_NAMES, STRINGS, t



def fmt_time(at_ms: int) -> str:
    """Milliseconds since the epoch as China Standard Time `YYYY-MM-DD HH:MM` ('' for none)."""
    if not at_ms:
        return ""
    return local_text(at_ms, "%Y-%m-%d %H:%M")


def role_label(roles: Iterable[str], lang: str) -> str:
    """Role names in the page language, in ROLES order, e.g. `调度员、领导`."""
    held = set(roles)
    known = [ROLE_NAMES[r].get(lang) or ROLE_NAMES[r]["zh"] for r in ROLES if r in held]
    return "、".join(known + sorted(r for r in held if r not in ROLE_NAMES))


def department_label(department_id: str, departments: Mapping[str, Department], lang: str) -> str:
    if not department_id:
        return ""
    department = departments.get(department_id)
    return department.name(lang) if department else department_id


def role_options(lang: str) -> list[dict]:
    return [{"label": ROLE_NAMES[r].get(lang) or ROLE_NAMES[r]["zh"], "value": r} for r in ROLES]


def department_options(departments: Iterable[Department], lang: str) -> list[dict]:
    return [{"label": d.name(lang), "value": d.id} for d in departments]


def user_rows(users: Iterable[User], departments: Mapping[str, Department], lang: str) -> list[dict]:
    """Users as rows of the users table; `role_ids` and `department_id` fill the edit form."""
    return [
        {
            "name": u.name,
            "display_name": u.display_name,
            "roles": role_label(u.roles, lang),
            "department": department_label(u.department, departments, lang),
            "status": t("admin_disabled" if u.disabled else "admin_enabled", lang),
            "created": fmt_time(u.created_at),
            "updated": fmt_time(u.updated_at),
            "role_ids": list(u.roles),
            "department_id": u.department,
            "disabled": u.disabled,
        }
        for u in users
    ]


def token_rows(tokens: Iterable[ApiToken], departments: Mapping[str, Department], lang: str) -> list[dict]:
    """API tokens and kiosk links as rows of the tokens table (newest first, as the store lists them)."""
    return [
        {
            "id": tok.id,
            "name": tok.name,
            "roles": role_label(tok.roles, lang),
            "department": department_label(tok.department, departments, lang),
            "kiosk": t("admin_yes" if tok.kiosk else "admin_no", lang),
            "created_by": tok.created_by,
            "created": fmt_time(tok.created_at),
            "status": t("admin_active", lang) if tok.active else f"{t('admin_revoked', lang)} {fmt_time(tok.revoked_at)}",
            "active": tok.active,
        }
        for tok in tokens
    ]


def department_for(roles: Iterable[str] | None, department: str | None) -> str:
    """The department to store: the chosen one for a handler, none for any other role
    (the form keeps a department chosen earlier; it only counts with the handler role)."""
    return (department or "") if "handler" in set(roles or ()) else ""


def selected(rows: list[dict] | None, key: str) -> str:
    """The key (`name`, `id`) of the selected row of a single-selection grid, or ''."""
    return str(rows[0].get(key) or "") if rows else ""


def self_lockout(actor_name: str, target: str, action: str, roles: Iterable[str] | None = None) -> bool:
    """Whether a change would lock the acting admin out: disabling oneself or dropping one's own admin role."""
    if actor_name != target:
        return False
    if action == "disable":
        return True
    return action == "save" and "admin" not in set(roles or ())


def kiosk_link(host_url: str, secret: str) -> str:
    """The link that opens a read-only wall session, e.g. `https://ioc.example/kiosk/ioc_…`."""
    return f"{host_url.rstrip('/')}/kiosk/{secret}"


def account_error_text(error: Exception, lang: str) -> str:
    """A refused user, token or password change in the page language, by the error's `code`
    (`ioc.domain.accounts.AccountError`); a cause without words of its own says it was refused."""
    key = f"account_err_{getattr(error, 'code', 'other')}"
    if key not in STRINGS:
        key = "account_err_other"
    return t(key, lang).format(**getattr(error, "params", {}))
