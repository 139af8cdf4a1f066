"""`python -m ioc db upgrade|version`: the record's schema from a shell.

Works on the PostgreSQL in DATABASE_URL. Exit status 0 on success, 1 when the database refuses
(unreachable, a migration changed after it was applied, a newer schema), 2 on a usage error.
"""

from __future__ import annotations

import sys

import psycopg

from ioc.record.migrate import MigrationError, current_version, migrations, upgrade
from ioc.settings import Settings


def run_db(args, settings: Settings) -> int:
    if not settings.database_url:
        print("DATABASE_URL is not set: point it at the record's PostgreSQL (the demo prints its URL)", file=sys.stderr)
        return 2
    try:
        if args.action == "upgrade":
            done = upgrade(settings.database_url, target=args.to, log=print)
            version = current_version(settings.database_url)
            print(f"schema at version {version}" + ("" if done else " (nothing to apply)"))
            return 0
        if args.action == "version":
            print(f"database: {current_version(settings.database_url)}, newest known: {migrations()[-1].version}")
            return 0
    except MigrationError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as e:
        print(f"cannot reach the record's PostgreSQL: {str(e).strip()}", file=sys.stderr)
        return 1
    return 2
