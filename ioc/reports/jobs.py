"""Reports built in the background: the XLSX of a month, a period or a linked event.

Where a job runs: a thread of the web process that was asked (not the case worker). A report is
a few aggregate queries and one workbook (a month at a million cases: about a second; a year's
overdue list: a few), so it needs no queue of its own, and the web process already holds the
record's pool. What must be shared is the job's state, since the next request (status, download)
may reach any gunicorn worker on any host: the status lives in Redis (`redis_keys.report_job`,
a hash every worker reads; this module is its one writer) and the file under
`IOC_DATA_DIR/reports/<id>.xlsx` (a folder every worker of a host shares; several hosts share
it as a volume, or put the web behind sticky sessions for downloads). A worker that dies mid-job
stops its heartbeat: a job "running" without a heartbeat for `STALE_MS` reads as failed
("interrupted"), so a page never waits forever.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path

from redis import Redis

from ioc.adapters import redis_keys as keys

log = logging.getLogger(__name__)

TTL_S = 86_400
STALE_MS = 60_000
STATUSES = ("queued", "running", "ready", "failed")


def new_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(4)


def folder(data_dir) -> Path:
    path = Path(data_dir) / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_path(data_dir, job_id: str) -> Path:
    return folder(data_dir) / f"{job_id}.xlsx"


def _now() -> int:
    return int(time.time() * 1000)


def _set(client: Redis, job_id: str, **fields) -> None:
    key = keys.report_job(job_id)
    fields["heartbeat"] = _now()
    pipe = client.pipeline(transaction=True)
    pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
    pipe.expire(key, TTL_S)
    pipe.execute()


def status(client: Redis, job_id: str) -> dict | None:
    """The job's state as stored (None: no such job, or it expired)."""
    raw = client.hgetall(keys.report_job(job_id))
    if not raw:
        return None
    job = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()}
    job["progress"] = float(job.get("progress") or 0)
    if job.get("status") in ("queued", "running") and _now() - int(job.get("heartbeat") or 0) > STALE_MS:
        job["status"], job["error"] = "failed", "interrupted: the worker building it stopped"
    job["id"] = job_id
    return job


def start(client: Redis, data_dir, build, kind: str, what: str, owner: str, filename: str) -> str:
    """Start a job: `build(progress)` returns the file's bytes, calling `progress(fraction)` as it
    goes. Returns the job's id at once; the work runs in a daemon thread of this process."""
    job_id = new_id()
    _set(client, job_id, kind=kind, what=what, owner=owner, status="queued", progress=0, file=filename, error="",
         created=_now())
    thread = threading.Thread(target=_run, args=(client, data_dir, job_id, build), name=f"ioc-report-{job_id}", daemon=True)
    thread.start()
    return job_id


def _run(client: Redis, data_dir, job_id: str, build) -> None:
    last = [0.0]

    def progress(fraction: float) -> None:
        fraction = max(0.0, min(0.99, float(fraction)))
        if fraction - last[0] >= 0.05 or fraction == 0.0:
            last[0] = fraction
            _set(client, job_id, status="running", progress=round(fraction, 2))

    try:
        progress(0.0)
        data = build(progress)
        path = file_path(data_dir, job_id)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        _set(client, job_id, status="ready", progress=1, size=len(data), finished=_now())
    except Exception as e:  # noqa: BLE001 - the job says why it failed; the page shows it
        log.warning("report %s failed: %s", job_id, e)
        try:
            _set(client, job_id, status="failed", error=str(e)[:500])
        except Exception:  # noqa: BLE001 - Redis away too: the heartbeat goes stale and the job reads as failed
            pass


def wait(client: Redis, job_id: str, timeout_s: float = 30.0) -> dict | None:
    """Poll until the job is ready or failed (tests and the CLI)."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = status(client, job_id)
        if job is None or job["status"] in ("ready", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)
