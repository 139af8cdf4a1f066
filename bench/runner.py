"""Runs the scenarios against the harness's own Redis and broker and writes the results."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import machine, plots, report
from bench.context import BenchContext
from bench.model import OPTIONAL, SCENARIOS, Measurement

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="IOC performance harness (issue 6).")
    p.add_argument("--quick", action="store_true", help="small sizes and short durations (a smoke test, 1-2 minutes)")
    p.add_argument("--only", default="", help=f"comma-separated scenarios to run, from: {', '.join(SCENARIOS)}")
    p.add_argument("--runs", type=int, default=0, help="runs of each throughput scenario (default 3, quick 1)")
    p.add_argument("--out", default=str(REPO / "docs"), help="where perf.json, perf.md and the plots go (default docs/)")
    p.add_argument("--memory-minutes", type=float, default=0, help="length of the memory run (default 30, quick 1)")
    p.add_argument("--devices", type=int, default=0, help="fleet size override (default 50,000, quick 5,000)")
    p.add_argument("--messages", type=int, default=0, help="messages per throughput run override")
    p.add_argument("--keep", action="store_true", help="keep the work dir (server logs, worker logs) after the run")
    p.add_argument("--merge", action="store_true",
                   help="keep, from the perf.json already in --out, the scenarios this run does not run (with --only)")
    args = p.parse_args(argv)
    names = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = names
    args.runs = args.runs or (1 if args.quick else 3)
    args.memory_minutes = args.memory_minutes or (1.0 if args.quick else 30.0)
    return args


class Clock:
    def __init__(self):
        self.t0 = time.time()

    def progress(self, line: str) -> None:
        elapsed = int(time.time() - self.t0)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {line}", flush=True)


def _load(name: str):
    """The scenario module, or None when an optional one does not exist (yet)."""
    if name in OPTIONAL and importlib.util.find_spec(f"bench.{name}") is None:
        return None
    return importlib.import_module(f"bench.{name}")


def _start_servers(work_dir: Path, progress):
    from ioc.adapters import embedded

    redis = embedded.redis_server(work_dir / "redis").start()
    broker = embedded.mqtt_broker(work_dir / "mqtt").start()
    versions = (machine.server_version(redis.name, redis.argv[0]), machine.server_version(broker.name, broker.argv[0]))
    progress(f"servers: {versions[0]} at {redis.url}, {versions[1]} at {broker.url} (work dir {work_dir})")
    return redis, broker, versions


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clock = Clock()
    out_dir = Path(args.out).resolve()
    work_dir = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    servers = []
    measurements: list[Measurement] = []
    series = []
    errors: list[str] = []
    seconds: dict[str, float] = {}

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    options = {"quick": args.quick, "runs": args.runs, "memory_minutes": args.memory_minutes,
               "scenarios": ",".join(args.scenarios)}
    if args.devices:
        options["devices"] = args.devices
    if args.messages:
        options["messages"] = args.messages
    try:
        redis, broker, versions = _start_servers(work_dir, clock.progress)
        servers += [redis, broker]
        info = machine.info(*versions)
        clock.progress(f"machine: {machine.one_line(info)}")
        ctx = BenchContext(
            redis_url=redis.url, mqtt_url=broker.url, work_dir=work_dir, quick=args.quick, runs=args.runs,
            progress=clock.progress, memory_minutes=args.memory_minutes, redis_server=versions[0],
            mqtt_broker=versions[1], server_pids={broker.name: broker.proc.pid, redis.name: redis.proc.pid},
            devices=args.devices, messages=args.messages,
        )
        for name in args.scenarios:
            start = time.time()
            try:
                module = _load(name)
            except Exception as e:  # noqa: BLE001 - a broken optional module must not stop the others
                errors.append(f"{name}: import failed: {type(e).__name__}: {e}")
                clock.progress(f"ERROR {errors[-1]}")
                continue
            if module is None:
                clock.progress(f"{name}: not present (bench/{name}.py), skipped")
                continue
            clock.progress(f"=== {name} ===")
            try:
                result = module.run(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - record and carry on with the next scenario
                errors.append(f"{name}: {type(e).__name__}: {e}")
                clock.progress(f"ERROR {errors[-1]}")
                traceback.print_exc()
                measurements.append(Measurement(name, "scenario failed", float("nan"), "", "runs", False,
                                                {"error": errors[-1]}))
                continue
            finally:
                seconds[name] = round(time.time() - start, 1)
            measurements += result.measurements
            series += result.series
            clock.progress(f"{name}: done in {seconds[name]:.0f} s")
    except KeyboardInterrupt:
        clock.progress("interrupted: stopping the servers; results so far are written")
        errors.append("interrupted")
    finally:
        for server in servers:
            server.stop()
    drawn = []
    try:
        if series:
            drawn = plots.draw(series, out_dir)
    except Exception as e:  # noqa: BLE001
        errors.append(f"plots: {type(e).__name__}: {e}")
    if "info" not in locals():
        print("the harness could not start its servers", file=sys.stderr)
        return 2
    if args.merge:
        measurements, series, seconds = report.merge_earlier(out_dir, args.scenarios, measurements, series, seconds, options)
        try:
            drawn = plots.draw(series, out_dir) if series else drawn
        except Exception as e:  # noqa: BLE001
            errors.append(f"plots: {type(e).__name__}: {e}")
    json_path, md_path = report.write(out_dir, measurements, series, info, errors, options, drawn, seconds)
    if not args.keep:
        shutil.rmtree(work_dir, ignore_errors=True)
    print()
    print(f"Machine: {machine.one_line(info)}")
    print(report.console_table(measurements))
    for e in errors:
        print(f"ERROR {e}")
    print(f"\nwritten: {json_path}, {md_path}" + (f", {len(drawn)} plots" if drawn else "")
          + (f"; work dir kept: {work_dir}" if args.keep else ""))
    return 1 if "interrupted" in errors else 0
