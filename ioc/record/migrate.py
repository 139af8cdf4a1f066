"""Versioned schema migrations: `python -m ioc db upgrade`.

Each file `migrations/NNNN_name.sql` is one version, applied once, in order, in its own
transaction, and remembered in `schema_migrations` with its checksum. A file changed after it
was applied is refused (write a new migration instead). Several processes upgrading at once
are serialized by an advisory lock, so the demo, the recorder and the web may all call it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x10C0_4EC0  # pg_advisory_xact_lock key of the upgrade
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    out = []
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"migration file {path.name} must be named NNNN_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in out]
    if versions != list(range(1, len(out) + 1)):
        raise ValueError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return out


class MigrationError(RuntimeError):
    pass


def applied(conn: psycopg.Connection) -> dict[int, str]:
    """version -> checksum of what the database has applied ({} for an empty database)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return {}
    return dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def upgrade(url: str, target: int | None = None, folder: Path = MIGRATIONS_DIR, log=None) -> list[int]:
    """Apply every migration newer than the database's (up to `target`); returns the versions applied."""
    todo = [m for m in migrations(folder) if target is None or m.version <= target]
    done: list[int] = []
    with psycopg.connect(url, autocommit=False, application_name="ioc-migrate") as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())""")
            have = applied(conn)
            for m in todo:
                if m.version in have:
                    if have[m.version] != m.checksum:
                        raise MigrationError(f"migration {m.version:04d}_{m.name} was changed after it was applied; "
                                             "add a new migration instead")
                    continue
                conn.execute(m.sql)
                conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                             (m.version, m.name, m.checksum))
                done.append(m.version)
                if log:
                    log(f"applied {m.version:04d}_{m.name}")
            newer = [v for v in have if v > (todo[-1].version if todo else 0)]
            if newer and target is None:
                raise MigrationError(f"the database has migrations this version does not know ({sorted(newer)}): "
                                     "run a newer IOC")
    return done


def current_version(url: str) -> int:
    with psycopg.connect(url, application_name="ioc-migrate") as conn:
        have = applied(conn)
    return max(have, default=0)
