"""`python -m simulators`: feed the demo city over MQTT (see simulators/README.md)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from ioc.domain.clock import CHINA_TZ

from .run import Options, run
from .scenarios import SCENARIOS, ScenarioSpec


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _scenario(text: str) -> ScenarioSpec:
    try:
        return ScenarioSpec.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _start(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=CHINA_TZ)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Feed the Zhangjiagang demo city (sensors, platform systems) over MQTT.",
    )
    p.add_argument("--mqtt-url", help="broker URL, mqtt://user:pass@host:port (default: $MQTT_URL)")
    p.add_argument("--devices", type=_positive_int, default=2000, help="field devices (default 2000; the 48 platform systems come on top)")
    p.add_argument("--seed", type=int, default=20260101, help="seed of the fleet, values and faults (default 20260101)")
    p.add_argument("--rate", type=_positive_float, help="target total telemetry msg/s (default: each kind's natural interval, ~115 msg/s for 2000 devices)")
    p.add_argument("--connections", type=_positive_int, default=4, help="MQTT connections, each one a gateway device (default 4)")
    p.add_argument("--workers", type=_positive_int, help="publishing processes (default: one per connection above 3000 msg/s, else 1)")
    p.add_argument("--duration", type=_positive_float, help="stop after this many seconds (default: until Ctrl-C / SIGTERM)")
    p.add_argument("--speed", type=_positive_float, default=1.0, help="simulated-time multiplier for daily patterns and scenarios (default 1)")
    p.add_argument("--start", type=_start, help="simulated start time, ISO 8601 (default now; no offset means +08:00)")
    p.add_argument(
        "--scenario", type=_scenario, action="append", default=[], metavar="NAME[@MINUTES]",
        help=f"run a scenario ({', '.join(SCENARIOS)}) MINUTES simulated minutes after start (default 1); repeatable",
    )
    p.add_argument("--fault-rate", type=_non_negative_float, default=20.0, help="faults per hour per 1000 devices (default 20; 0 disables)")
    p.add_argument("--reports-per-hour", type=_non_negative_float, default=120.0, metavar="N",
                   help="case reports per hour on ioc/v1/reports/{hotline,inspector,camera}, daily mean (default 120; 0 disables)")
    p.add_argument("--no-casework", action="store_true",
                   help="no case reports, no department systems answering dispatches, no duty desk")
    p.add_argument("--api-url", help="the IOC's JSON API for the simulated duty desk (default $IOC_SIM_API_URL, else "
                                     "http://127.0.0.1:$PORT); its token comes from $IOC_SIM_API_TOKEN")
    p.add_argument("--backfill-start", type=_start, metavar="TIME",
                   help="first fill the past from TIME (ISO 8601) to --backfill-end: the daily patterns fast-forward, "
                        "one reading per air-quality, crowd and water-level device every 5 minutes, published with "
                        "their past timestamps beside the live telemetry (see simulators/README.md)")
    p.add_argument("--backfill-end", type=_start, metavar="TIME", help="end of the backfill (default: now)")
    p.add_argument("--no-birth", action="store_true", help="do not publish device births at start (gateway births are always sent)")
    p.add_argument("--geodata", type=Path, help="folder with the city GeoJSON (default $IOC_GEODATA_DIR or the repository's geodata/)")
    p.add_argument("--log-level", default=None, help="log level (default $IOC_LOG_LEVEL or INFO)")
    return p


def main(argv: list[str] | None = None) -> int:
    from ioc.settings import Settings

    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    url = args.mqtt_url or settings.mqtt_url
    if not url:
        parser.error("no MQTT broker: pass --mqtt-url mqtt://host:port or set MQTT_URL")
    from ioc.logsetup import setup_logging

    setup_logging(args.log_level or settings.log_level, "simulator")
    opts = Options(
        mqtt_url=url,
        devices=args.devices,
        seed=args.seed,
        rate=args.rate,
        connections=args.connections,
        workers=args.workers,
        duration=args.duration,
        speed=args.speed,
        scenarios=args.scenario,
        fault_rate=args.fault_rate,
        birth=not args.no_birth,
        start=args.start,
        geodata_dir=args.geodata or settings.geodata_dir,
        casework=not args.no_casework,
        reports_per_hour=args.reports_per_hour,
        api_url=args.api_url or os.environ.get("IOC_SIM_API_URL") or f"http://127.0.0.1:{settings.port}",
        api_token=os.environ.get("IOC_SIM_API_TOKEN", "").strip(),
        backfill_start=args.backfill_start,
        backfill_end=args.backfill_end,
        ingest_max_age_s=settings.ingest_max_age_s,
        device_max_rate=settings.device_max_rate,
    )
    try:
        return run(opts)
    except (TimeoutError, ValueError) as e:
        print(f"simulators: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
