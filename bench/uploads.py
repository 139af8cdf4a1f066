"""Scenario "uploads": photo evidence under load (issue 16): 50 phones upload a 3 MB photo each at
the same moment to `POST /api/v1/cases/<id>/media` while the ingest runs at 20,000 msg/s.

What runs: the seeded city (`bench.views.seeded`), the product's web process with the bench's
`Server-Timing` header (`bench.timed_web`: the same app and gunicorn options as `python -m ioc
web`, the product's two sync workers), the media store the product picks by default (the folder
store, `IOC_MEDIA_DIR` under the work dir; `IOC_MEDIA_URL` is cleared for the web process) and
the ingest fed 20,000 msg/s by the paced publisher (`bench.views.start_load`; quick: 1,000 msg/s,
2,000 devices).

The photos (`bench.photos`): made once per run, before anything is started, one per upload:
4032 × 3024 JPEGs of about 3 MB (quick: 1600 × 1200, about 0.5 MB) with a phone's EXIF (make,
model, time taken, GPS position at the case), every one with its own pixels so none is a
duplicate for the content-addressed store.

The run: a dispatcher's API token; `CONCURRENT` open cases (one per phone: no two uploads of a
burst change the same case); a few untimed warm-up uploads (each gunicorn worker's first call
imports and caches); then, with the ingest's accepted counter sampled every 0.25 s all along,
once the ingest runs at the offered rate again (the web's first reads leave it a backlog):
a window of `WINDOW_S` seconds without uploads, `ROUNDS` bursts of `CONCURRENT` uploads (every
upload of a burst sent at once from its own thread and connection, multipart `file` + `lat`/
`lon` as the report page sends them), one every `BURST_EVERY_S` seconds (or when the last answer
of the previous is in, if that is later: bursts never overlap), the window lasting at least
`ROUNDS` × `BURST_EVERY_S`, and another window without uploads. Each window's ingest rate is the least-squares slope
of the counter over it (the worker adds to the counter about once a second, so a difference of
two readings would carry up to a second's worth of noise).

The rows: upload time p50/p95/p99 (the loopback HTTP time: sending the body, waiting for a free
worker, the server's work, the answer), the longest server time (`Server-Timing`) against
gunicorn's worker timeout, its p50/p95 in the detail; uploads refused;
thumbnails made (attachments answered with `thumb: true`); the ingest's rate during the bursts
against the two windows without uploads of the same run; what the folder store wrote (bytes and
files added under its folder) against what the phones sent.

Alone: `python -m bench.uploads [--quick] [--redis-url … --mqtt-url …]`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench import events, views
from bench.context import BenchContext
from bench.cpuwindow import CpuWindow, ms_per
from bench.model import Measurement, ScenarioResult, Series, at_least, at_most
from bench.photos import Photo, make_photos
from bench.stats import percentile
from bench.timed_web import server_ms

SCENARIO = "uploads"
CONCURRENT, QUICK_CONCURRENT = 50, 6
ROUNDS, QUICK_ROUNDS = 3, 2
BURST_EVERY_S, QUICK_BURST_EVERY_S = 15.0, 5.0  # a burst starts this long after the previous one (or when its last answer is in)
WINDOW_S, QUICK_WINDOW_S = 30.0, 8.0  # each window without uploads (one before, one after the bursts)
WARM_UP = 4  # untimed uploads before the first window (two per gunicorn worker, likely)
# A burst of 50 at once on the product's 2 sync workers: the last upload waits for the 49 before it.
# Measured: about 230 ms of a web worker's CPU per 3 MB, 12 MP photo (decode, re-encode without
# metadata, thumbnail, hash, two files, the case's commit); with the ingest at 20,000 msg/s about
# one of the 2 cores is left to the web, so a burst takes about 50 × 0.23 s ≈ 12 s (docs/perf.md).
UPLOAD_P95_TARGET_S = 15.0
SERVER_LIMIT_S = 30.0  # gunicorn's worker timeout (`ioc.web.serve`): a request working longer is killed
INGEST_RATIO_TARGET = 0.95
STORE_RATIO_LIMIT = 1.1  # bytes the folder store wrote ≤ 1.1 × bytes the phones sent (copies + thumbnails)
SAMPLE_EVERY_S = 0.25
PATH = "/api/v1/cases/{case_id}/media"


# --- the uploads -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    case_id: str
    photo: Photo


@dataclass
class Answer(events.Answer):
    """An answer of the API (`bench.events.Answer`: status, body, times) to one upload."""
    sent_bytes: int = 0  # the request's body
    started: float = 0.0  # time.monotonic() when it was sent
    ended: float = 0.0

    @property
    def stored(self) -> bool:
        return self.status == 201 and isinstance(self.body, dict)

    @property
    def media(self) -> list[dict]:
        items = self.body.get("media") if self.stored else None
        return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []


def multipart(upload: Upload) -> tuple[bytes, str]:
    """The body and content type a phone sends: the photo as `file`, the phone's position."""
    from urllib3 import encode_multipart_formdata

    p = upload.photo
    return encode_multipart_formdata([
        ("file", (p.name, p.path.read_bytes(), "image/jpeg")),
        ("lat", f"{p.lat:.6f}"), ("lon", f"{p.lon:.6f}"),
    ])


def send_upload(session, base: str, secret: str, upload: Upload, body: bytes, content_type: str) -> Answer:
    import requests

    headers = {"Authorization": f"Bearer {secret}", "Content-Type": content_type}
    url = base + PATH.format(case_id=upload.case_id)
    t0 = time.perf_counter()
    started = time.monotonic()
    try:
        r = session.post(url, data=body, headers=headers, timeout=120)
    except requests.RequestException as e:
        return Answer(0, {"error": "connection", "message": repr(e)}, (time.perf_counter() - t0) * 1000, None,
                      sent_bytes=len(body), started=started, ended=time.monotonic())
    ms = (time.perf_counter() - t0) * 1000
    try:
        answer = r.json()
    except ValueError:
        answer = r.text[:300]
    return Answer(r.status_code, answer, ms, server_ms(r.headers), len(r.content), sent_bytes=len(body), started=started,
                  ended=time.monotonic())


def burst(base: str, secret: str, uploads: list[Upload]) -> list[Answer]:
    """Every upload sent at the same moment, each from its own thread and connection (the bodies
    are encoded before: the phone has its photo ready)."""
    import requests

    prepared = [multipart(u) for u in uploads]
    sessions = [requests.Session() for _ in uploads]
    gate = threading.Barrier(len(uploads))

    def one(i: int) -> Answer:
        gate.wait()
        return send_upload(sessions[i], base, secret, uploads[i], *prepared[i])

    try:
        with ThreadPoolExecutor(max_workers=len(uploads), thread_name_prefix="bench-upload") as pool:
            return list(pool.map(one, range(len(uploads))))
    finally:
        for s in sessions:
            s.close()


# --- the ingest's rate -----------------------------------------------------------------------------

class CounterSampler:
    """(time.monotonic(), `keep(read())` — by default a counter such as the ingest's
    `messages:accepted` as an int) every `every` seconds in a thread."""

    def __init__(self, read, every: float = SAMPLE_EVERY_S, keep=int):
        self.read, self.every, self.keep = read, every, keep
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.keep(self.read())))
            except Exception:  # noqa: BLE001 - a missed sample is a gap, not a failure
                pass
            self._stop.wait(self.every)

    def start(self) -> "CounterSampler":
        self._thread = threading.Thread(target=self._loop, name="bench-uploads-counter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def slope(samples: list[tuple[float, int]], t0: float, t1: float) -> float:
    """Least-squares rate (per second) of the samples taken in [t0, t1]; NaN with fewer than 3."""
    pts = [(t, c) for t, c in samples if t0 <= t <= t1]
    if len(pts) < 3:
        return float("nan")
    n = len(pts)
    mt, mc = sum(t for t, _ in pts) / n, sum(c for _, c in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (c - mc) for t, c in pts) / var if var else float("nan")


def rate_series(samples: list[tuple[float, int]], t_zero: float, step: float = 2.0) -> tuple[list[float], list[float]]:
    """The counter's rate every `step` seconds (for the plot): x seconds since `t_zero`."""
    xs, ys = [], []
    if not samples:
        return xs, ys
    t, end = samples[0][0], samples[-1][0]
    while t + step <= end:
        r = slope(samples, t, t + step)
        if r == r:
            xs.append(round(t + step / 2 - t_zero, 1))
            ys.append(round(r))
        t += step
    return xs, ys


# --- the store -------------------------------------------------------------------------------------

def folder_usage(folder: Path) -> tuple[int, int]:
    """(files, bytes) under `folder`; (0, 0) when it does not exist (yet)."""
    files = size = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                size += os.stat(os.path.join(root, name)).st_size
                files += 1
            except OSError:
                pass
    return files, size


# --- the rows --------------------------------------------------------------------------------------

@dataclass
class Windows:
    """The ingest's rate in each part of the run (msg/s) and the CPU of each process there (%)."""
    before: float = float("nan")
    during: float = float("nan")
    after: float = float("nan")
    seconds: dict = field(default_factory=dict)
    cpu: dict = field(default_factory=dict)  # window -> {process: %}

    @property
    def baseline(self) -> float:
        rates = [r for r in (self.before, self.after) if r == r]
        return sum(rates) / len(rates) if rates else float("nan")


def _round(value: float):
    return round(value) if value == value else None


def _row(name: str, value: float, unit: str, target: str = "", passed=None, **detail) -> Measurement:
    digits = 3 if unit in ("s", "ratio") else 1
    return Measurement(SCENARIO, name, round(value, digits) if value == value else value, unit, target, passed, detail)


@dataclass
class Timeline:
    """For the plot: the ingest's rate every 2 s and the bursts (start, end), seconds from the first window."""
    rate_x: list = field(default_factory=list)
    rate_y: list = field(default_factory=list)
    bursts: list = field(default_factory=list)


def results(answers: list[Answer], windows: Windows, store: dict, context: dict, photo_bytes: int = 0,
            timeline: Timeline | None = None) -> ScenarioResult:
    """Upload time p50/p95/p99, refusals, thumbnails, the ingest during the bursts against the
    windows without uploads, the folder store's bytes (against `photo_bytes`, the photos sent)."""
    out = ScenarioResult()
    n = len(answers)
    concurrent = context.get("concurrent", CONCURRENT)
    stored = [a for a in answers if a.stored]
    http_s = [a.http_ms / 1000 for a in stored]
    server = [a.server_ms / 1000 for a in stored if a.server_ms is not None]
    refusals = [f"{a.status} {a.body.get('error', '') if isinstance(a.body, dict) else ''}: "
                f"{str(a.body.get('message', '') if isinstance(a.body, dict) else a.body)[:160]}" for a in answers if not a.stored]
    mb = context.get("photo_mb", 0)
    label = f"{concurrent} at once, {mb:.1f} MB each"
    timing = {"samples": len(http_s), "server_p50_s": round(percentile(server, 50), 3), "server_p95_s": round(percentile(server, 95), 3),
              "server_max_s": round(max(server, default=float("nan")), 3), "http_max_s": round(max(http_s, default=float("nan")), 3),
              **context}
    p50, p95, p99 = (percentile(http_s, q) for q in (50, 95, 99))
    server_max = max(server, default=float("nan"))
    out.measurements += [
        _row(f"upload p50 ({label})", p50, "s", **timing),
        _row(f"upload p95 ({label})", p95, "s", f"≤ {UPLOAD_P95_TARGET_S:g} s",
             at_most(p95, UPLOAD_P95_TARGET_S) and bool(http_s) and not refusals, **timing),
        _row(f"upload p99 ({label})", p99, "s", **timing),
        _row("upload server time, longest", server_max, "s", f"≤ {SERVER_LIMIT_S:g} s (worker timeout)",
             at_most(server_max, SERVER_LIMIT_S) if server else False, **timing),
        _row("uploads refused or failed", len(refusals), "uploads", "0", len(refusals) == 0 and n > 0,
             uploads=n, refusals=refusals[:5]),
    ]
    thumbs = sum(1 for a in stored for m in a.media if m.get("thumb") is True)
    attachments = sum(len(a.media) for a in stored)
    out.measurements.append(_row("thumbnails made", thumbs, "thumbnails", f"= uploads stored ({len(stored)})",
                                 thumbs == len(stored) and bool(stored), attachments=attachments, uploads=n))
    ratio = windows.during / windows.baseline if windows.baseline == windows.baseline and windows.baseline else float("nan")
    offered = context.get("offered") or float("nan")
    load = {"offered": context.get("offered"), "during_ratio_to_offered": round(windows.during / offered, 3) if offered == offered else None,
            "before_msg_s": _round(windows.before), "during_msg_s": _round(windows.during),
            "after_msg_s": _round(windows.after), "seconds": windows.seconds, "cpu_percent": windows.cpu}
    out.measurements += [
        _row("ingest during the uploads, ratio to the windows without", ratio, "ratio", f"≥ {INGEST_RATIO_TARGET:.2f}",
             at_least(ratio, INGEST_RATIO_TARGET) if ratio == ratio else False, **load),
        _row("ingest during the uploads", windows.during, "msg/s", **load),
        _row("ingest without uploads (before and after)", windows.baseline, "msg/s", **load),
    ]
    sent = sum(a.sent_bytes for a in answers)
    photo_bytes = photo_bytes or sent
    written = store.get("bytes_added", 0)
    limit = STORE_RATIO_LIMIT * photo_bytes
    out.measurements.append(_row("folder store: bytes written", written / 1e6, "MB",
                                 f"≤ {STORE_RATIO_LIMIT:g} × the photos' bytes ({photo_bytes / 1e6:,.0f} MB)",
                                 at_most(written, limit) and written > 0, files_added=store.get("files_added", 0),
                                 photos_mb=round(photo_bytes / 1e6, 2), request_bodies_mb=round(sent / 1e6, 2),
                                 folder=store.get("folder", ""), per_upload_kb=round(written / 1024 / max(1, len(stored)), 1)))
    if timeline is not None and timeline.rate_x:
        out.series.append(Series("uploads", "ingest accepted (msg/s)", timeline.rate_x, timeline.rate_y, "seconds", "msg/s"))
        if timeline.bursts:
            top = max(timeline.rate_y)
            out.series.append(Series("uploads", f"bursts of {concurrent} uploads",
                                     [x for b in timeline.bursts for x in (b[0], b[0], b[1], b[1])],
                                     [y for _ in timeline.bursts for y in (0, top, top, 0)], "seconds", "msg/s"))
    return out


# --- the scenario ----------------------------------------------------------------------------------

def open_cases(base: str, secret: str, n: int, timeout: float = 120.0) -> list[dict]:
    """`n` open cases a dispatcher sees (the newest), through the API: the web process's first read
    of the cases may still be loading (503), so it is asked again until it answers."""
    import requests

    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        r = requests.get(base + "/api/v1/cases", params={"open": "1", "limit": str(max(n, 1))},
                         headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        if r.status_code == 200:
            items = r.json().get("items", [])
            if len(items) < n:
                raise RuntimeError(f"the city has {len(items)} open cases; the scenario needs {n}")
            return items[:n]
        last = f"{r.status_code} {r.text[:200]}"
        time.sleep(1.0)
    raise RuntimeError(f"the open cases could not be read within {timeout:.0f} s: {last}")


def dispatcher_token(ctx: BenchContext) -> str:
    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis
    from ioc.adapters.user_store import Actor
    from ioc.web.services import user_store

    settings = ctx.settings()
    users = user_store(connect_redis(ctx.redis_url), settings, load_city_map(settings.geodata_dir))
    return users.create_token(f"bench-uploads-{time.strftime('%H%M%S')}", ["dispatcher"], Actor("bench", "admin"))[1]


def case_places(ctx: BenchContext, n: int) -> list[tuple[float, float]]:
    """Where the photos are taken before the cases are known: the districts' seats, in turn (the
    uploads then send the case's own place as the phone's position)."""
    from ioc.adapters.geodata_files import load_city_map

    city = load_city_map(ctx.settings().geodata_dir)
    seats = [(d.seat[1], d.seat[0]) for d in city.districts]  # seat is (lon, lat)
    return [seats[i % len(seats)] for i in range(n)]


def at_case(photo: Photo, case: dict) -> Photo:
    """The photo as sent from the case's place (the phone stands at the case)."""
    lat, lon = case.get("lat"), case.get("lon")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        return dataclasses.replace(photo, lat=float(lat), lon=float(lon))
    return photo


def settle(sampler: CounterSampler, offered: float, limit_s: float, span_s: float = 5.0) -> float:
    """Wait until the ingest runs at the offered rate (its rate over the last `span_s` within 5 %
    of `offered`): the web's first reads (the case index of 100,000 cases) and the warm-up leave
    a backlog the ingest drains faster than `offered`, which would inflate the first window.
    Returns the seconds waited (`limit_s` at most)."""
    t0 = time.monotonic()
    time.sleep(span_s)
    while time.monotonic() - t0 < limit_s:
        now = time.monotonic()
        rate = slope(sampler.samples, now - span_s, now)
        if rate == rate and abs(rate - offered) <= 0.05 * offered:
            break
        time.sleep(1.0)
    return round(time.monotonic() - t0, 1)


def warm_up(base: str, secret: str, uploads: list[Upload]) -> None:
    """Untimed uploads two at a time (each gunicorn worker's first upload imports and caches)."""
    for i in range(0, len(uploads), 2):
        for a in burst(base, secret, uploads[i:i + 2]):
            if not a.stored:
                raise RuntimeError(f"the warm-up upload was refused: {a.status} {str(a.body)[:300]}")


def run(ctx: BenchContext) -> ScenarioResult:
    from bench.seed import Scale

    progress = ctx.progress
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    concurrent, rounds = ctx.scaled(CONCURRENT, QUICK_CONCURRENT), ctx.scaled(ROUNDS, QUICK_ROUNDS)
    window = WINDOW_S if not ctx.quick else QUICK_WINDOW_S
    every = BURST_EVERY_S if not ctx.quick else QUICK_BURST_EVERY_S
    context: dict = {"seed": views.seeded(ctx), "quick": ctx.quick, "concurrent": concurrent, "rounds": rounds,
                     "window_s": window, "burst_every_s": every, "timing": "loopback HTTP time of each upload; server time from bench.timed_web"}
    t = time.monotonic()
    photos = make_photos(ctx.work_dir / "photos", concurrent * rounds + WARM_UP, case_places(ctx, 8), quick=ctx.quick)
    sizes = [p.size for p in photos[WARM_UP:]]
    context.update(photo_mb=round(sum(sizes) / len(sizes) / 1e6, 2), photos_made_s=round(time.monotonic() - t, 1))
    progress(f"  uploads: {len(photos)} photos made in {context['photos_made_s']:.0f} s, "
             f"{min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} MB")
    media_dir = ctx.work_dir / "media-uploads"
    web_ctx = dataclasses.replace(ctx, env_overrides={**ctx.env_overrides, "IOC_MEDIA_URL": "", "IOC_MEDIA_DIR": str(media_dir)})
    secret = dispatcher_token(ctx)
    web, base, workers = views.start_web(web_ctx, ("-m", "bench.timed_web"))
    context["web_workers"] = workers
    load = views.Load()
    sampler = CounterSampler(lambda: views.accepted(ctx))
    try:
        load = views.start_load(ctx, Scale.of(ctx.quick).devices, views.QUICK_LOAD if ctx.quick else views.OFFERED_LOAD)
        context["offered"] = load.rate
        progress(f"  uploads: web on {base} ({workers} gunicorn workers, Server-Timing), folder store {media_dir}, "
                 f"load {load.rate:,.0f} msg/s offered; {rounds} bursts of {concurrent} uploads")
        cases = open_cases(base, secret, concurrent)
        warm_up(base, secret, [Upload(c["id"], at_case(p, c)) for c, p in zip(cases, photos[:WARM_UP])])
        files0, bytes0 = folder_usage(media_dir)
        sampler.start()
        context["settle_s"] = settle(sampler, load.rate, 20.0 if ctx.quick else 90.0)
        windows = Windows()

        def measured(name: str, work) -> tuple[float, float]:
            cpu, t0 = CpuWindow([web, *load.processes], ctx.server_pids).start(), time.monotonic()
            work()
            t1 = time.monotonic()
            windows.seconds[name], windows.cpu[name] = round(t1 - t0, 1), cpu.stop()
            return t0, t1

        zero = time.monotonic()
        b0, b1 = measured("before", lambda: time.sleep(window))
        answers: list[Answer] = []
        marks, per_round = [], []

        def bursts() -> None:
            start = time.monotonic()
            for r in range(rounds):
                chunk = photos[WARM_UP + r * concurrent:WARM_UP + (r + 1) * concurrent]
                time.sleep(max(0.0, start + r * every - time.monotonic()))
                t0 = time.monotonic()
                got = burst(base, secret, [Upload(c["id"], at_case(p, c)) for c, p in zip(cases, chunk)])
                marks.append((round(t0 - zero, 1), round(time.monotonic() - zero, 1)))
                answers.extend(got)
                ok = [a.http_ms / 1000 for a in got if a.stored]
                per_round.append(round(percentile(ok, 95), 2))
                progress(f"  uploads: burst {r + 1}/{rounds}: {len(ok)}/{len(got)} stored in {time.monotonic() - t0:.1f} s, "
                         f"p50 {percentile(ok, 50):.2f} s, p95 {percentile(ok, 95):.2f} s")
            time.sleep(max(0.0, start + rounds * every - time.monotonic()))  # the window holds every burst's period

        d0, d1 = measured("during", bursts)
        a0, a1 = measured("after", lambda: time.sleep(window))
        time.sleep(1.5)  # the counter's last flush of the window
        sampler.stop()
        windows.before, windows.during, windows.after = (slope(sampler.samples, *w) for w in ((b0, b1), (d0, d1), (a0, a1)))
        files1, bytes1 = folder_usage(media_dir)
        store = {"files_added": files1 - files0, "bytes_added": bytes1 - bytes0, "folder": str(media_dir)}
        context["per_round_p95_s"] = per_round
        context["cpu_ms_per_upload"] = ms_per(windows.cpu["during"], windows.seconds["during"], len(answers), ("web",))
        progress(f"  uploads: ingest {windows.before:,.0f} msg/s before, {windows.during:,.0f} during the bursts, "
                 f"{windows.after:,.0f} after (offered {load.rate:,.0f}); CPU % {windows.cpu}; "
                 f"CPU ms per upload {context['cpu_ms_per_upload']}")
        progress(f"  uploads: the folder store wrote {store['bytes_added'] / 1e6:,.1f} MB in {store['files_added']} files "
                 f"for {len(answers)} photos of {sum(sizes) / 1e6:,.1f} MB")
        return results(answers, windows, store, context, sum(sizes), Timeline(*rate_series(sampler.samples, zero), marks))
    finally:
        sampler.stop()
        load.stop()
        web.stop()


if __name__ == "__main__":
    raise SystemExit(views.standalone(sys.modules[__name__]))
