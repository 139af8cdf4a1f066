"""Connections to the record (PostgreSQL) with psycopg 3: one pool per process.

Plain SQL, no ORM: the record's writes are COPY batches and upserts, its reads a few
hand-tuned queries (rewind frames, indicators), and psycopg 3 gives COPY, server-side
binding and pipelines directly.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

_pools: dict[str, ConnectionPool] = {}
_lock = threading.Lock()

APPLICATION_NAME = "ioc"


def connect(url: str, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """One connection of its own (workers that hold one for long; the CLI)."""
    return psycopg.connect(url, autocommit=autocommit, application_name=kwargs.pop("application_name", APPLICATION_NAME),
                           **kwargs)


def pool(url: str, max_size: int = 4) -> ConnectionPool:
    """The process's pool for `url` (opened on first use; web processes share one per URL)."""
    with _lock:
        p = _pools.get(url)
        if p is None or p.closed:
            p = ConnectionPool(url, min_size=1, max_size=max_size, open=True, name="ioc-record",
                               kwargs={"application_name": APPLICATION_NAME}, timeout=10)
            _pools[url] = p
        return p


@contextmanager
def connection(url: str):
    """A pooled connection for one unit of work (committed at the end, rolled back on error)."""
    with pool(url).connection() as conn:
        yield conn


def close_pools() -> None:
    with _lock:
        for p in _pools.values():
            p.close()
        _pools.clear()
