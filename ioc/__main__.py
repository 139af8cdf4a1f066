"""`python -m ioc demo|web|ingest|cases|notify|recorder|db|restore|user|token|roster|receivers`: the IOC's processes and its user system."""

from __future__ import annotations

import argparse
import sys

from ioc.admin_cli import add_parsers
from ioc.admin_cli import run as run_admin
from ioc.logsetup import setup_logging
from ioc.roster_cli import add_parsers as add_roster_parsers
from ioc.roster_cli import is_roster_command
from ioc.roster_cli import run as run_roster
from ioc.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ioc", description="IOC: city intelligent operations center")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole city: embedded Redis and MQTT (unless REDIS_URL/MQTT_URL are set), ingest, simulators, web")
    demo.add_argument("--web-workers", type=int, default=None, help="gunicorn workers (default IOC_WEB_WORKERS)")
    demo.add_argument("--no-backfill", action="store_true",
                      help="do not fill the trends' past 24 hours at start (by default the simulators fill what the data lacks)")
    demo.add_argument("--no-history", action="store_true",
                      help="do not write seven days of history into an empty city at start (see simulators/history.py)")
    demo.add_argument("--history-days", type=float, default=7.0, metavar="DAYS",
                      help="days of history written into an empty city at start (default 7; 0 = --no-history)")
    demo.add_argument("simulator_args", nargs=argparse.REMAINDER, help="flags passed on to `python -m simulators` (after `--`)")
    sub.add_parser("web", help="the portal (Dash on gunicorn) with /healthz and /metrics")
    sub.add_parser("ingest", help="the ingest worker: MQTT -> validation -> Redis")
    sub.add_parser("cases", help="the case worker: report intake, department updates, dispatch publishing, alarm-raised cases, overdue detection")
    sub.add_parser("recorder", help="the recorder: Redis streams (cases, events, alarms, audit, users, devices, telemetry) -> the record (PostgreSQL in DATABASE_URL), exactly once")
    sub.add_parser("notify", help="the notifier: notification intents -> routes, grouping, quiet hours, silences -> WeCom, DingTalk, Feishu, email, SMS")
    db = sub.add_parser("db", help="the record (PostgreSQL in DATABASE_URL): schema migrations")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_up = db_actions.add_parser("upgrade", help="apply the schema migrations the database lacks (safe to repeat)")
    db_up.add_argument("--to", type=int, default=None, help="stop at this version (default: the newest)")
    db_actions.add_parser("version", help="print the database's schema version and the newest this IOC knows")
    restore = sub.add_parser("restore", help="rebuild Redis's cases, timelines, users, tokens, audit log and alarm states "
                                             "from the record (DATABASE_URL) after Redis was lost")
    restore.add_argument("--force", action="store_true", help="write over a Redis that already holds cases")
    restore.add_argument("--audit-days", type=int, default=None, metavar="N",
                         help="restore only the last N days of the audit log (default: all of it)")
    add_parsers(sub)
    add_roster_parsers(sub)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command in ("user", "token"):
        return run_admin(args, settings)
    if args.command == "db":
        from ioc.record.cli import run_db

        return run_db(args, settings)
    if args.command == "restore":
        from ioc.record.restore import run as run_restore

        return run_restore(args, settings)
    if is_roster_command(args.command):
        if args.command == "receivers":
            setup_logging(settings.log_level, args.command)
        return run_roster(args, settings)
    setup_logging(settings.log_level, args.command)
    if settings.plans_file and args.command in ("demo", "web", "cases"):
        from ioc.events.service import plans_file_problem

        problem = plans_file_problem(settings)
        if problem:  # every process would refuse it: say why once, before starting any
            print(f"IOC_PLANS_FILE: {problem}", file=sys.stderr)
            return 2
    if args.command == "demo":
        from ioc.demo import run_demo

        sim_args = [a for a in args.simulator_args if a != "--"]
        return run_demo(settings, sim_args, web_workers=args.web_workers, backfill=not args.no_backfill,
                        history_days=0.0 if args.no_history else max(0.0, args.history_days))
    if args.command == "web":
        from ioc.web.serve import main as web_main

        return web_main(settings)
    if args.command == "ingest":
        from ioc.ingest.worker import main as ingest_main

        return ingest_main(settings)
    if args.command == "cases":
        from ioc.casework.worker import main as cases_main

        return cases_main(settings)
    if args.command == "recorder":
        from ioc.record.recorder import main as recorder_main

        return recorder_main(settings)
    if args.command == "notify":
        from ioc.notify.worker import main as notify_main

        return notify_main(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
