"""`python -m ioc user …` and `python -m ioc token …`: the user system from a shell.

Works on the Redis in REDIS_URL (the demo prints its URL). Every change is written to the
audit log as actor `cli:<os user>` with role `admin`. Exit status 0 on success, 1 when the
change is refused (the message says why), 2 on a usage error.
"""

from __future__ import annotations

import getpass
import json
import sys

from ioc.adapters.redis_client import REDIS_UNAVAILABLE, connect_redis
from ioc.adapters.user_store import AccountError, Actor, UserNotFound, UserStore
from ioc.domain.access import ROLES
from ioc.settings import Settings


def add_parsers(sub) -> None:
    user = sub.add_parser("user", help="users of the portal: add, list, disable, enable, reset-password, update")
    users = user.add_subparsers(dest="action", required=True)
    add = users.add_parser("add", help="add a user (prints a generated password unless --password/--password-stdin)")
    add.add_argument("name")
    _roles_args(add, required=True)
    add.add_argument("--display-name", default="", help="name shown in the portal, e.g. 值班员 王敏")
    _password_args(add)
    users.add_parser("list", help="list users").add_argument("--json", action="store_true", help="JSON lines instead of a table")
    users.add_parser("disable", help="disable a user; their sessions end at once").add_argument("name")
    users.add_parser("enable", help="enable a disabled user").add_argument("name")
    reset = users.add_parser("reset-password", help="set a new password (generated unless given); their sessions end")
    reset.add_argument("name")
    _password_args(reset)
    update = users.add_parser("update", help="change roles, department or display name")
    update.add_argument("name")
    _roles_args(update, required=False)
    update.add_argument("--display-name", default=None)

    token = sub.add_parser("token", help="API tokens for machine clients and kiosk links for walls")
    tokens = token.add_subparsers(dest="action", required=True)
    create = tokens.add_parser("create", help="create a token (printed once) or, with --kiosk, a kiosk link")
    create.add_argument("name", help="which system or wall uses it")
    _roles_args(create, required=False)
    create.add_argument("--kiosk", action="store_true", help="a kiosk link: a read-only operator session for a wall")
    tokens.add_parser("list", help="list tokens").add_argument("--json", action="store_true")
    tokens.add_parser("revoke", help="revoke a token or kiosk link at once").add_argument("id")


def _roles_args(parser, required: bool) -> None:
    parser.add_argument("--role", action="append", default=None, required=required,
                        help=f"role ({', '.join(ROLES)}); repeat or comma-separate for several")
    parser.add_argument("--department", default=None, help="department id (required for the handler role)")


def _password_args(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password", default=None, help="the password (visible in the shell history: prefer --password-stdin)")
    group.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input")


def _password(args) -> str | None:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    return getattr(args, "password", None)


def _store(settings: Settings) -> UserStore:
    from ioc.adapters.geodata_files import load_city_map
    from ioc.web.services import user_store

    return user_store(connect_redis(settings.redis_url), settings, load_city_map(settings.geodata_dir))


def run(args, settings: Settings) -> int:
    if not settings.redis_url:
        print("REDIS_URL is not set: point it at the IOC's Redis (`python -m ioc demo` prints it)", file=sys.stderr)
        return 2
    store = _store(settings)
    actor = Actor(f"cli:{getpass.getuser()}", "admin", "cli")
    try:
        if args.command == "user":
            return _user(args, store, actor)
        return _token(args, store, actor, settings)
    except (AccountError, UserNotFound) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except REDIS_UNAVAILABLE as e:
        print(f"error: Redis at {settings.redis_url} is unavailable: {e}", file=sys.stderr)
        return 1


def _user(args, store: UserStore, actor: Actor) -> int:
    if args.action == "add":
        given = _password(args)
        user, password = store.add(args.name, args.role, actor, password=given, display_name=args.display_name,
                                   department=args.department or "")
        print(f"added {user.name} ({', '.join(user.roles)}{', ' + user.department if user.department else ''})")
        if not given:
            print(f"password: {password}")
        return 0
    if args.action == "list":
        users = store.list()
        if args.json:
            for u in users:
                print(json.dumps(u.public(), ensure_ascii=False))
            return 0
        print(f"{'name':<28} {'roles':<22} {'department':<24} {'status':<9} display name")
        for u in users:
            print(f"{u.name:<28} {','.join(u.roles):<22} {u.department or '-':<24} {'disabled' if u.disabled else 'enabled':<9} {u.display_name}")
        return 0
    if args.action in ("disable", "enable"):
        user = store.set_disabled(args.name, args.action == "disable", actor)
        print(f"{user.name} {'disabled: its sessions have ended' if user.disabled else 'enabled'}")
        return 0
    if args.action == "reset-password":
        given = _password(args)
        user, password = store.reset_password(args.name, actor, password=given)
        print(f"new password for {user.name}: {password}" if not given else f"password of {user.name} changed")
        return 0
    if args.action == "update":
        user = store.update(args.name, actor, roles=args.role, department=args.department, display_name=args.display_name)
        print(f"updated {user.name} ({', '.join(user.roles)}{', ' + user.department if user.department else ''})")
        return 0
    return 2


def _token(args, store: UserStore, actor: Actor, settings: Settings) -> int:
    if args.action == "create":
        if not args.kiosk and not args.role:
            print("error: a token needs --role (or --kiosk for a wall)", file=sys.stderr)
            return 2
        token, secret = store.create_token(args.name, args.role or ["operator"], actor, department=args.department or "", kiosk=args.kiosk)
        print(f"token {token.id} ({'kiosk' if token.kiosk else ', '.join(token.roles)}) for {token.name}; shown once:")
        print(secret)
        if token.kiosk:
            print(f"kiosk link: http://{settings.host}:{settings.port}/kiosk/{secret}")
        else:
            print(f"use it as: Authorization: Bearer {secret}")
        return 0
    if args.action == "list":
        tokens = store.tokens()
        if args.json:
            for t in tokens:
                print(json.dumps(t.public(), ensure_ascii=False))
            return 0
        print(f"{'id':<10} {'name':<28} {'roles':<20} {'kiosk':<6} {'status':<8} created by")
        for t in tokens:
            print(f"{t.id:<10} {t.name:<28} {','.join(t.roles):<20} {'yes' if t.kiosk else 'no':<6} {'active' if t.active else 'revoked':<8} {t.created_by}")
        return 0
    if args.action == "revoke":
        token = store.revoke_token(args.id, actor)
        print(f"token {token.id} ({token.name}) revoked")
        return 0
    return 2


__all__ = ["add_parsers", "run"]
