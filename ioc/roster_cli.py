"""`python -m ioc roster …` (the duty roster and contacts from a shell) and `python -m ioc receivers`.

    roster show [--json] [--at ISO]   contacts, groups (keys and secrets hidden), shifts, who is on duty now
    roster export [FILE]              the whole roster as JSON (with keys and secrets: the import format)
    roster import FILE                replace the roster with FILE's (`-`: standard input), validated
    roster duty UNIT CONTACT --from ISO --to ISO [--role 值班员]   add one shift

Works on the Redis in REDIS_URL; changes are audited as `roster.update` by `cli:<os user>`.
Exit status 0 on success, 2 on any error (the message names the place and the reason).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time

from ioc.domain.roster import DEFAULT_ROLE, REDACTED, RosterError, Shift, on_duty, validate_roster
from ioc.settings import Settings


def add_parsers(sub) -> None:
    roster = sub.add_parser("roster", help="the duty roster and contacts: show, export, import, duty")
    actions = roster.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="contacts, groups, shifts and who is on duty now (keys and secrets hidden)")
    show.add_argument("--json", action="store_true", help="the roster as JSON, keys and secrets hidden")
    show.add_argument("--at", default=None, help="who is on duty at this ISO date-time (China time) instead of now")
    export = actions.add_parser("export", help="the roster as JSON, with keys and secrets (the import format)")
    export.add_argument("file", nargs="?", default=None, help="file to write (mode 600); default: standard output")
    imp = actions.add_parser("import", help="replace the roster with a JSON file's (validated; keys shown as "
                                            f"{REDACTED} keep the stored ones)")
    imp.add_argument("file", help="JSON file, `-` for standard input")
    duty = actions.add_parser("duty", help="add a shift: CONTACT is on duty for UNIT from … to …")
    duty.add_argument("unit", help="department id, `center` (operations center) or `dispatch` (dispatch desk)")
    duty.add_argument("contact", help="contact id")
    duty.add_argument("--from", dest="starts", required=True, help="start, ISO date-time (China time), e.g. 2026-12-06T20:00")
    duty.add_argument("--to", dest="ends", required=True, help="end, ISO date-time, e.g. 2026-12-07T08:00")
    duty.add_argument("--role", default=DEFAULT_ROLE, help=f"role on the shift (default {DEFAULT_ROLE}; 值班领导 for the leader)")

    receivers = sub.add_parser("receivers", help="local stand-ins of WeCom, DingTalk, Feishu, an SMS gateway and a mail "
                                                 "server (for the demo and tests): prints the IOC_NOTIFY_* URLs to use")
    receivers.add_argument("--host", default="127.0.0.1")
    receivers.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
    receivers.add_argument("--smtp-port", type=int, default=0, help="SMTP port (default: a free one)")
    receivers.add_argument("--no-limits", action="store_true", help="no provider rate limits (benchmarks)")


def run(args, settings: Settings) -> int:
    if args.command == "receivers":
        from ioc.notify.receivers import main as receivers_main

        return receivers_main(settings, args.host, args.port, args.smtp_port, limits=not args.no_limits)
    if not settings.redis_url:
        return _fail("REDIS_URL is not set: point it at the IOC's Redis (`python -m ioc demo` prints it)")
    from ioc.adapters.redis_client import REDIS_UNAVAILABLE
    from ioc.adapters.roster_store import RosterConflict

    try:
        store = _store(settings)
        if args.action == "show":
            return _show(store, args)
        if args.action == "export":
            return _export(store, args.file)
        if args.action == "import":
            return _import(store, args.file)
        if args.action == "duty":
            return _duty(store, args)
    except (RosterError, RosterConflict) as e:
        return _fail(str(e))
    except REDIS_UNAVAILABLE as e:
        return _fail(f"Redis at {settings.redis_url} is unavailable: {e}")
    return 2


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _store(settings: Settings):
    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis
    from ioc.adapters.roster_store import RosterStore
    from ioc.domain.departments import department_ids

    return RosterStore(connect_redis(settings.redis_url), department_ids(load_city_map(settings.geodata_dir)))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _show(store, args) -> int:
    roster, version = store.get_with_version()
    if args.json:
        print(json.dumps({**roster.to_dict(redact=True), "version": version}, ensure_ascii=False, indent=2))
        return 0
    from ioc.domain.roster import iso_ms

    at_ms = iso_ms(args.at) if args.at else int(time.time() * 1000)
    print(f"roster version {version}: {len(roster.contacts)} contacts, {len(roster.groups)} groups, {len(roster.shifts)} shifts")
    print("\ncontacts:")
    print(f"  {'id':<16} {'name':<10} {'unit':<22} {'phone':<14} {'email':<28} channels")
    for c in roster.contacts:
        print(f"  {c.id:<16} {c.name:<10} {c.department or 'center':<22} {c.phone or '-':<14} {c.email or '-':<28} {','.join(c.channels) or '-'}")
    print("\ngroups:")
    print(f"  {'id':<16} {'name':<16} {'unit':<22} {'channel':<9} signed")
    for g in roster.groups:
        print(f"  {g.id:<16} {g.name:<16} {g.unit:<22} {g.channel:<9} {'yes' if g.secret else 'no'}")
    print("\nshifts:")
    for s in sorted(roster.shifts, key=lambda s: (s.unit, s.starts_ms)):
        print(f"  {s.unit:<22} {s.role:<6} {s.contact_id:<16} {s.starts} – {s.ends}")
    units = sorted({s.unit for s in roster.shifts})
    print("\non duty now:" if not args.at else f"\non duty at {args.at}:")
    for unit in units:
        people = on_duty(roster, unit, at_ms)
        if people:
            print(f"  {unit:<22} " + "; ".join(f"{s.role} {c.name} {c.phone}" for s, c in people))
    return 0


def _export(store, path: str | None) -> int:
    roster, version = store.get_with_version()
    text = json.dumps({**roster.to_dict(), "version": version}, ensure_ascii=False, indent=2) + "\n"
    if not path or path == "-":
        sys.stdout.write(text)
        return 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds robot keys and secrets
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"exported roster version {version} to {path} (it holds robot keys and secrets: keep it private)", file=sys.stderr)
    return 0


def _import(store, path: str) -> int:
    try:
        raw = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as e:
        return _fail(f"{path}: {e.strerror}")
    try:
        data = json.loads(raw)
    except ValueError as e:
        return _fail(f"{path}: not JSON ({e})")
    roster = validate_roster(data, store.departments)
    current, version = store.get_with_version()
    roster = roster.with_secrets_of(current)
    new_version = store.put(roster, _actor(), ip="cli", expected_version=version, detail={"source": "import"})
    print(f"imported {len(roster.contacts)} contacts, {len(roster.groups)} groups, {len(roster.shifts)} shifts (version {new_version})")
    return 0


def _duty(store, args) -> int:
    current, version = store.get_with_version()
    shift = Shift(args.unit, args.contact, args.starts, args.ends, args.role)
    data = current.with_shift(shift).to_dict()
    roster = validate_roster(data, store.departments)
    new_version = store.put(roster, _actor(), ip="cli", expected_version=version, detail={"source": "duty"})
    contact = roster.contact(args.contact)
    print(f"{contact.name if contact else args.contact} on duty for {args.unit} ({args.role}) {args.starts} – {args.ends} (version {new_version})")
    return 0


def is_roster_command(command: str) -> bool:
    return command in ("roster", "receivers")


__all__ = ["add_parsers", "run", "is_roster_command"]
