"""The soak's figures: loss accounting, restarts, memory, health, log errors; `soak.md` and `soak.json`.

`analyse(soak)` turns a finished `scripts.soak.Soak` into one JSON-able dict; `write_reports`
writes it as `soak.json` and as the Markdown report `soak.md`; `print_summary` prints the
headline figures.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from ioc.settings import REPO_ROOT

from scripts.soak_model import CASE_REASONS, FAULT_KINDS, PAHO_MIN_DELAY, INGEST_FLUSH_MS, INGEST_ROLLUP_FLUSH_S, next_attempt

ERROR_RE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback \(most recent call last\)|\bFatal\b")
NEAR_FAULT_S = 45.0  # an error logged this soon after a fault (or its recovery) is attributed to it
MB = 2**20
WIRE_BYTES = 120  # about one telemetry PUBLISH on the wire (topic ~40 bytes, JSON payload ~75, header)


# ---- machine ---------------------------------------------------------------------------------------

def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) * 1024
    except (OSError, AttributeError):
        pass
    commit = _version(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    dirty = bool(subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True).stdout.strip())
    return {
        "host": platform.node(), "os": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
        "memory_gb": round(mem / 2**30, 1), "python": platform.python_version(),
        "redis": _version([shutil.which("redis-server") or "redis-server", "--version"]),
        "mosquitto": _version([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-h"]),
        "commit": commit + (" (uncommitted changes in the tree)" if dirty else ""),
    }


# ---- logs ------------------------------------------------------------------------------------------

def _seconds_of_day(hhmmss: str) -> int | None:
    try:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        return h * 3600 + m * 60 + s
    except ValueError:
        return None


def _line_time(line: str) -> int | None:
    """Second of the day a log line was written at: `HH:MM:SS` near its start (the product,
    gunicorn, Redis) or a leading epoch (`1764100000: …`, Mosquitto)."""
    m = re.search(r"\b(\d\d:\d\d:\d\d)\b", line[:40])
    if m:
        return _seconds_of_day(m.group(1))
    m = re.match(r"(\d{10}):", line)
    if m:
        return _seconds_of_day(datetime.fromtimestamp(int(m.group(1))).strftime("%H:%M:%S"))
    return None


def scan_logs(paths: dict[str, Path], events: list[dict]) -> dict:
    """ERROR / CRITICAL / Traceback lines of every log; each attributed to the fault (or
    recovery) logged at most NEAR_FAULT_S before it, when there is one."""
    marks = [(_seconds_of_day(e["wall"]), e) for e in events if e["kind"] in ("fault", "recovery", "restart", "unexpected_exit")]
    out = {}
    for name, path in paths.items():
        if not path.exists():
            continue
        lines = path.read_text(errors="replace").splitlines()
        hits = []
        for i, line in enumerate(lines):
            if not ERROR_RE.search(line):
                continue
            text = line.strip()
            if "Traceback" in line:  # the exception itself is the first unindented line after it
                for nxt in lines[i + 1:i + 200]:
                    if nxt and not nxt.startswith((" ", "\t")):
                        text = f"{text} … {nxt.strip()}"
                        break
            at = _line_time(line)
            near = None
            if at is not None:
                before = [(at - t, e) for t, e in marks if t is not None and 0 <= at - t <= NEAR_FAULT_S]
                if before:
                    dt, e = min(before, key=lambda x: x[0])
                    near = f"{dt}s after {e['kind']} {e['target']}"
            hits.append({"line": text[:400], "near": near})
        if hits:
            out[name] = {"count": len(hits), "near_faults": sum(1 for h in hits if h["near"]),
                         "first": hits[:5], "not_near_faults": [h for h in hits if not h["near"]][:5]}
    return out


# ---- analysis --------------------------------------------------------------------------------------

def _series_stats(values: list) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"start": None, "max": None, "end": None}
    return {"start": vals[0], "max": max(vals), "end": vals[-1]}


def publisher_backlog(sim_log: Path, series: list, births: int) -> list[tuple[int, int]]:
    """[(second of day, messages the simulators had published but the broker had not yet
    delivered)] at each of their progress lines: their `sent` (+ births) minus the reference
    subscriber's count at that second. Only the first simulator run (a restart resets `sent`)."""
    delivered = {_seconds_of_day(datetime.fromtimestamp(t).strftime("%H:%M:%S")): n for t, n in series}
    out, last = [], -1
    for line in sim_log.read_text(errors="replace").splitlines():
        m = re.match(r"(\d\d:\d\d:\d\d) simulator\s+INFO\s+sent (\d+) messages \(", line)
        if not m:
            continue
        t, n = _seconds_of_day(m.group(1)), int(m.group(2))
        if n < last:
            break
        last = n
        if t in delivered:
            out.append((t, n + births - delivered[t]))
    return out


def publisher_reconnects(sim_log: Path, broker_faults: list[dict]) -> list[float | None]:
    """Per broker restart: seconds from the simulators' first `lost the broker` to their last
    `reconnected to broker` (log lines, 1 s resolution), None when not found."""
    lines = sim_log.read_text(errors="replace").splitlines()
    out = []
    for e in broker_faults:
        t0 = _seconds_of_day(e["wall"])
        lost = [_seconds_of_day(l[:8]) for l in lines if "gw-sim-" in l and "lost the broker" in l]
        back = [_seconds_of_day(l[:8]) for l in lines if "gw-sim-" in l and "reconnected to broker" in l]
        lost = [t for t in lost if t is not None and 0 <= t - t0 <= 10]
        back = [t for t in back if t is not None and lost and 0 <= t - min(lost) <= 60]
        out.append(float(max(back) - min(lost)) if lost and back else None)
    return out


def _count(pattern: str, path: Path) -> int:
    return len(re.findall(pattern, path.read_text(errors="replace"))) if path.exists() else 0


def analyse(soak) -> dict:
    o, final = soak.opts, soak.final
    m, tap = final["metrics"], final["tap"]
    run_s = soak.final_sample["t"] or 1.0
    faults = [e for e in soak.events if e["kind"] == "fault"]
    n = {k: sum(1 for e in faults if e["detail"].startswith(k)) for k in ("broker_restart", "redis_restart", "ingest_kill", "cases_kill")}
    workers = o.ingest_workers

    # --- what was published, what was taken ---
    # the simulators' `sent` counts the loop's messages; the device births published before the
    # loop and each gateway's birth on (re)connecting come on top
    sim_log = soak.children["simulators"].log_path
    births = sum(int(x) for x in re.findall(r"published (\d+) retained births", sim_log.read_text(errors="replace")))
    gateway_births = _count(r"gw-sim-\d+: (?:re)?connected to broker", sim_log)
    sim_sent = soak.sim_sent() + births + gateway_births
    tap_live = (tap.get("telemetry") or 0) + (tap.get("status") or 0)
    retained_topics = tap.get("retained_last") or 0
    # subscriptions made after the simulators' births, which therefore got the retained statuses:
    # restarts of an ingest worker and its reconnections after a broker restart
    ingest = {name: c for name, c in soak.children.items() if name.startswith("ingest")}
    restarts_ingest = sum(c.starts - 1 for c in ingest.values())
    reconnects = sum(_count(r"ingest: reconnected to broker", c.log_path) for c in ingest.values())
    subscribes = restarts_ingest + reconnects
    redelivered = retained_topics * subscribes
    accepted = m.get("messages:accepted", 0)
    rejected = m.get("messages:rejected", 0)
    by_reason = {k.split(":", 1)[1]: v for k, v in sorted(m.items()) if k.startswith("rejected:") and v}
    rejected_cases = sum(v for r, v in by_reason.items() if r in CASE_REASONS)
    rejected_ingest = rejected - rejected_cases
    dropped = m.get("messages:dropped", 0)
    lost_ingest = tap_live + redelivered - accepted - rejected_ingest - dropped
    lost_publish = sim_sent - tap_live
    lost_total = lost_publish + lost_ingest
    rate = tap_live / run_s

    backlog = publisher_backlog(sim_log, tap.get("series") or [], births)
    backlog_max = max((b for _t, b in backlog), default=0)
    reconnect = publisher_reconnects(sim_log, [e for e in faults if e["target"] == "broker"])

    # --- the bounds expected from the faults injected ---
    per_kill = rate / workers * (INGEST_ROLLUP_FLUSH_S + 2 * INGEST_FLUSH_MS / 1000 + 0.5)
    broker_outs = [x for x in soak.server_outages if x["kind"] == "broker_restart" and "up_at" in x]
    # per broker restart: what the publishers called publish() for while disconnected (their
    # logged reconnect time, 1 s resolution: + 1 s; the back-off's first retry when not logged) and
    # what sat queued in their clients at the disconnect (the largest backlog measured)
    pub_bound = 0.0
    for i, x in enumerate(broker_outs):
        down = reconnect[i] + 1 if i < len(reconnect) and reconnect[i] is not None else next_attempt(x["up_at"] - x["down_at"]) + 0.5
        x["publishers_reconnected_s"] = reconnect[i] if i < len(reconnect) else None
        pub_bound += rate * down + backlog_max
    # the ingest keeps its queue through a broker restart, but its first retry may miss the broker
    # while the publishers' hits it (or the reverse): it can be one back-off step behind them
    ingest_broker_bound = sum(rate * max(1.0, next_attempt(x["up_at"] - x["down_at"]) - PAHO_MIN_DELAY) for x in broker_outs)
    # per ingest kill: the share of the stream for the held counters etc. (per_kill) plus what the
    # worker measurably held at the kill: its queue (last heartbeat) and its socket buffers
    # (bytes / the mean size of a telemetry PUBLISH on the wire)
    held = getattr(soak, "kills_in_flight", [])
    kill_bound = 0.0
    for i in range(n["ingest_kill"]):
        h = held[i] if i < len(held) else {}
        kill_bound += per_kill + (h.get("queued") or 0) + (h.get("socket_bytes") or 0) / WIRE_BYTES
    ingest_bound = kill_bound + ingest_broker_bound
    loss = {
        "simulators_sent": sim_sent, "broker_delivered": tap_live,
        "broker_delivered_telemetry": tap.get("telemetry"), "broker_delivered_status": tap.get("status"),
        "retained_status_topics": retained_topics, "ingest_subscriptions": subscribes,
        "retained_redelivered_estimate": redelivered,
        "accepted": accepted, "rejected": rejected, "rejected_by_ingest": rejected_ingest,
        "rejected_by_case_worker": rejected_cases, "rejected_by_reason": by_reason, "dropped": dropped,
        "late": m.get("messages:late", 0),
        "lost_at_publishers_and_broker": lost_publish, "lost_at_ingest": lost_ingest, "lost_total": lost_total,
        "lost_total_pct": round(100 * lost_total / sim_sent, 4) if sim_sent else None,
        "measured_rate": round(rate, 1),
        "simulators_births": births + gateway_births,
        "publisher_backlog_max": backlog_max,
        "publisher_backlog_median": sorted(b for _t, b in backlog)[len(backlog) // 2] if backlog else None,
        "publisher_reconnect_s": reconnect,
        "bound_per_ingest_kill": round(per_kill), "bound_ingest_kills": round(kill_bound), "ingest_kills_in_flight": held, "bound_publishers_broker_restarts": round(pub_bound),
        "bound_ingest_broker_restarts": round(ingest_broker_bound), "bound_ingest": round(ingest_bound),
        "bound_total": round(pub_bound + ingest_bound),
        "within_bound": 0 <= lost_publish <= pub_bound and 0 <= lost_ingest <= ingest_bound,
    }

    # per fault: how much the ingest-side gap (reference − taken) grew until the next fault
    per_fault = []
    samples = [s for s in soak.samples if s.get("metrics") and s.get("tap_telemetry") is not None]

    def gap(s):
        mm = s["metrics"]
        rc = sum(v for k, v in mm.items() if k.startswith("rejected:") and k.split(":", 1)[1] in CASE_REASONS)
        return (s["tap_telemetry"] + s["tap_status"]) - mm.get("messages:accepted", 0) - (mm.get("messages:rejected", 0) - rc) \
            - mm.get("messages:dropped", 0) - (s.get("ingest_queued") or 0)

    fault_times = [e["t"] for e in faults] + [soak.final_sample["t"] + 1]
    ingest_restarts = [e["t"] for e in soak.events if e["kind"] == "restart" and e["target"].startswith("ingest")]
    for i, e in enumerate(faults):
        kind = e["detail"].split(":")[0]
        before = [s for s in samples if s["t"] <= e["t"]]
        after = [s for s in samples if e["t"] < s["t"] < fault_times[i + 1]]
        growth = None
        if before and after:
            # retained statuses the ingest took again in the window (they lower the gap)
            subs = sum(1 for t in ingest_restarts if e["t"] < t <= after[-1]["t"]) + (workers if kind == "broker_restart" else 0)
            growth = gap(after[-1]) - gap(before[-1]) + retained_topics * subs
        per_fault.append({"t": e["t"], "fault": kind, "target": e["target"], "gap_growth": growth})

    # --- restarts ---
    restarts = {name: {"starts": c.starts, "planned_restarts": c.planned_restarts,
                       "unexpected_exits": c.unexpected_exits} for name, c in soak.children.items()}
    planned = sum(c.planned_restarts for c in soak.children.values())
    unexpected = sum(len(c.unexpected_exits) for c in soak.children.values())

    # --- memory over time ---
    names = list(soak.children) + ["redis", "mosquitto"]
    memory = {"redis_used_memory": _series_stats([s["redis_used_memory"] for s in soak.samples])}
    for name in names:
        memory[f"rss:{name}"] = _series_stats([s["rss"].get(name) for s in soak.samples])

    # --- health ---
    codes: dict[str, int] = {}
    for s in soak.samples:
        codes[str(s["healthz"])] = codes.get(str(s["healthz"]), 0) + 1
    not_ok = [{"t": s["t"], "healthz": s["healthz"]} for s in soak.samples if s["healthz"] != 200]

    # --- logs ---
    paths = {name: c.log_path for name, c in soak.children.items()}
    paths["redis"], paths["mosquitto"], paths["tap"] = soak.redis.log_path, soak.broker.log_path, soak.tmp / "tap.log"
    logs = scan_logs(paths, soak.events)

    # --- cases ---
    start_cases = next((s["cases_total"] for s in soak.samples if s["cases_total"] is not None), 0)
    stages = final["case_stages"]
    cases = {"created": sum(stages.values()) - start_cases, "by_stage_at_end": stages,
             "closed": stages.get("closed", 0), "ended_other": sum(stages.get(k, 0) for k in ("rejected", "voided", "merged")),
             "counters": {k: v for k, v in sorted(m.items()) if k.startswith("cases:")},
             "deadletter_stream_len": final["deadletter_len"]}

    loads = [s["loadavg"][0] for s in soak.samples]
    result = {
        "generated": datetime.now().astimezone().isoformat(timespec="seconds"),
        "started": soak.wall_start.isoformat(timespec="seconds"),
        "interrupted": soak.stop_requested,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(o).items()},
        "command": "make soak ARGS=\"" + " ".join(_argv_of(o)) + "\"",
        "machine": machine(),
        "load_average_1min": {"start": loads[0] if loads else None, "max": max(loads) if loads else None,
                              "end": loads[-1] if loads else None},
        "run_seconds": run_s,
        "schedule": [{"t": t, "kind": k} for t, k in soak.schedule],
        "faults_injected": n,
        "server_outages": soak.server_outages,
        "events": soak.events,
        "loss": loss,
        "per_fault": per_fault,
        "restarts": restarts, "restarts_planned": planned, "unexpected_exits": unexpected,
        "stop": soak.stop_codes,
        "memory": memory,
        "healthz": {"by_status": codes, "not_200": not_ok},
        "logs": logs,
        "cases": cases,
        "pids": list(getattr(soak, "pids", [])),
        "samples": soak.samples,
    }
    result["findings"] = findings(result, soak.findings)
    return result




def _argv_of(o) -> list[str]:
    out = [f"--minutes {o.minutes:g}", f"--seed {o.seed}"]
    defaults = {"rate": 5000.0, "devices": 5000, "faults_every": 90.0, "broker_down": 1.0, "redis_down": 3.0,
                "restart_delay": 3.0, "ingest_workers": 2, "web_workers": 1, "sim_speed": 60.0, "reports_per_hour": 600.0,
                "sample_every": 10.0}
    for k, d in defaults.items():
        v = getattr(o, k)
        if v != d:
            out.append(f"--{k.replace('_', '-')} {v:g}")
    if getattr(o, "sim_start", "09:00") != "09:00":
        out.append(f"--sim-start {o.sim_start}")
    if o.faults != ",".join(FAULT_KINDS):
        out.append(f"--faults {o.faults}")
    if o.sim_args:
        out.append(f"--sim-args '{o.sim_args}'")
    return out


def findings(r: dict, harness: list[str]) -> list[str]:
    out = list(harness)
    loss = r["loss"]
    if r["unexpected_exits"]:
        who = ", ".join(f"{n} ×{len(v['unexpected_exits'])}" for n, v in r["restarts"].items() if v["unexpected_exits"])
        out.append(f"product processes exited by themselves: {who}")
    if loss["lost_at_ingest"] > loss["bound_ingest"]:
        out.append(f"ingest-side loss {loss['lost_at_ingest']} is above the bound expected from the faults ({loss['bound_ingest']})")
    if loss["lost_at_ingest"] < 0:
        out.append(f"the ingest counted {-loss['lost_at_ingest']} more messages than the broker delivered "
                   "(+ retained re-deliveries): messages counted twice?")
    if loss["lost_at_publishers_and_broker"] > loss["bound_publishers_broker_restarts"]:
        out.append(f"publisher/broker-side loss {loss['lost_at_publishers_and_broker']} is above the bound expected "
                   f"from the broker restarts ({loss['bound_publishers_broker_restarts']})")
    if loss["dropped"]:
        out.append(f"{loss['dropped']} messages dropped by the ingest (buffer full or refused by Redis)")
    for name, s in r["stop"].items():
        if not s["in_time"]:
            out.append(f"{name} did not stop within the timeout after SIGTERM (killed)")
        elif s["code"] not in (0, None):
            out.append(f"{name} exited with code {s['code']} on SIGTERM")
    for name, l in r["logs"].items():
        stray = l["count"] - l["near_faults"]
        if stray:
            out.append(f"{name}: {stray} ERROR/Traceback line(s) not near any injected fault, e.g. {l['not_near_faults'][0]['line'][:200]}")
    outs = r["server_outages"]
    stray_health = [x for x in r["healthz"]["not_200"] if not any(o["down_at"] - 1 <= x["t"] <= o.get("up_at", 1e9) + 15 for o in outs)]
    if stray_health:
        out.append(f"/healthz was not 200 outside the server outages at {len(stray_health)} sample(s): "
                   + ", ".join(f"t+{x['t']:.0f}s {x['healthz']}" for x in stray_health[:5]))
    for key, s in r["memory"].items():
        if s["start"] and s["end"] and key != "rss:simulators" and s["end"] > 2 * s["start"] and s["end"] - s["start"] > 100 * MB:
            out.append(f"{key} grew from {s['start'] / MB:.0f} MB to {s['end'] / MB:.0f} MB")
    if r["cases"]["created"] <= 0:
        out.append("no case was created during the run")
    return out


# ---- output ----------------------------------------------------------------------------------------

def _mb(v) -> str:
    return "–" if v is None else f"{v / MB:.0f}"


def _n(v) -> str:
    return "–" if v is None else f"{v:,}"


def markdown(r: dict) -> str:
    o, loss, mach = r["options"], r["loss"], r["machine"]
    L = []
    add = L.append
    add("# Soak test report")
    add("")
    add(f"Generated by `make soak` (`python -m scripts.soak`) on {r['generated']}; run started {r['started']}"
        + (f" — **interrupted** ({r['interrupted']})" if r["interrupted"] else "") + ".")
    add(f"Reproduce: `{r['command']}`.")
    add("")
    add("## Headline")
    add("")
    add("| figure | value |")
    add("|---|---|")
    add(f"| run | {r['run_seconds'] / 60:.1f} min of load at {o['rate']:g} msg/s asked, {loss['measured_rate']:,.0f} msg/s delivered by the broker |")
    add("| faults injected | " + ", ".join(f"{k} ×{v}" for k, v in r["faults_injected"].items()) + " |")
    add(f"| messages published (simulators' count) | {_n(loss['simulators_sent'])} |")
    add(f"| delivered by the broker (reference subscriber) | {_n(loss['broker_delivered'])} |")
    add(f"| accepted | {_n(loss['accepted'])} |")
    add(f"| rejected | {_n(loss['rejected'])} (" + (", ".join(f"{k} {v:,}" for k, v in loss["rejected_by_reason"].items()) or "none") + ") |")
    add(f"| dropped (ingest buffer) | {_n(loss['dropped'])} |")
    add(f"| lost | {_n(loss['lost_total'])} ({loss['lost_total_pct']} %): {_n(loss['lost_at_publishers_and_broker'])} at the publishers/broker, "
        f"{_n(loss['lost_at_ingest'])} at the ingest; bound from the faults {_n(loss['bound_total'])} |")
    add(f"| process restarts | {r['restarts_planned']} planned (after a kill), {r['unexpected_exits']} unexpected exits |")
    redis_mem = r["memory"]["redis_used_memory"]
    add(f"| Redis used_memory | {_mb(redis_mem['start'])} → max {_mb(redis_mem['max'])} → end {_mb(redis_mem['end'])} MB |")
    add(f"| ERROR/Traceback lines in logs | {sum(v['count'] for v in r['logs'].values())} "
        f"({sum(v['count'] - v['near_faults'] for v in r['logs'].values())} not near an injected fault) |")
    add(f"| cases | {r['cases']['created']} created, {r['cases']['closed']} closed, {r['cases']['ended_other']} rejected/voided/merged |")
    add("| /healthz samples | " + ", ".join(f"{k}: {v}" for k, v in sorted(r["healthz"]["by_status"].items())) + " |")
    add("")
    add("## Findings")
    add("")
    if r["findings"]:
        for f in r["findings"]:
            add(f"- {f}")
    else:
        add("- none: every figure within what the injected faults explain.")
    add("")
    add("## Machine and options")
    add("")
    add(f"- {mach['cpu']}, {mach['cpus']} CPUs, {mach['memory_gb']} GB RAM; {mach['os']}; Python {mach['python']}")
    add(f"- {mach['redis']}; {mach['mosquitto']}")
    add(f"- commit {mach['commit']}")
    la = r["load_average_1min"]
    add(f"- 1-minute load average: {la['start']:.2f} at the start, {la['max']:.2f} at most, {la['end']:.2f} at the end "
        "(the machine may have been running other work)")
    add("- options: " + ", ".join(f"`{k}={v}`" for k, v in o.items() if k not in ("out", "keep")))
    add("- processes: " + ", ".join(f"`{n}`" for n in r["restarts"]) + " (real subprocesses), Redis and Mosquitto on free "
        "loopback ports, data in a temporary folder")
    add("")
    add("## Fault timeline")
    add("")
    add("| t (s) | time | event | target | detail |")
    add("|---:|---|---|---|---|")
    for e in r["events"]:
        add(f"| {e['t']:.0f} | {e['wall']} | {e['kind']} | {e['target']} | {e['detail']} |")
    add("")
    add("## Messages: published, accepted, rejected, lost")
    add("")
    add("Two references of what was published:")
    add("")
    add("- **the simulators' own count** (their progress lines and final line, `sent N messages`, plus the device "
        "births they log before the loop and each gateway's birth on (re)connecting): every `publish()` call, telemetry "
        "(QoS 0) and status (QoS 1). It includes QoS 0 readings paho refused while the connection was down (a broker "
        "restart) and those still queued in the client when the connection dropped: those never reached the broker;")
    add("- **what the broker delivered** to a bare paho subscriber (`scripts/soak_tap.py`, clean session, subscribed to "
        "`ioc/v1/+/+/telemetry` and `ioc/v1/+/+/status` like the ingest, reconnecting within 0.25–1 s): live messages only "
        "(RETAIN flag 0). This is the reference for the ingest side.")
    add("")
    add("Mosquitto also sends the retained status of every device to each new subscription, shared subscriptions "
        "included, and the ingest counts them as accepted: each time an ingest worker (re)subscribes (start, restart after "
        "a kill, reconnection after a broker restart) it takes the retained births again. The report estimates them as "
        "retained status topics × the ingest subscriptions made after the simulators' births (restarts of a worker, "
        "and reconnections after a broker restart, from the ingest logs).")
    add("")
    add("| | count |")
    add("|---|---:|")
    add(f"| simulators' publish calls | {_n(loss['simulators_sent'])} |")
    add(f"| delivered by the broker, live (telemetry + status) | {_n(loss['broker_delivered'])} "
        f"({_n(loss['broker_delivered_telemetry'])} + {_n(loss['broker_delivered_status'])}) |")
    add(f"| retained statuses re-delivered to ingest subscriptions (estimate) | {_n(loss['retained_redelivered_estimate'])} "
        f"({loss['retained_status_topics']} topics × {loss['ingest_subscriptions']} subscriptions) |")
    add(f"| accepted (`messages:accepted`) | {_n(loss['accepted'])} (of which late: {_n(loss['late'])}) |")
    add(f"| rejected by the ingest | {_n(loss['rejected_by_ingest'])} |")
    add(f"| rejected by the case worker (reports/updates, not in the telemetry equation) | {_n(loss['rejected_by_case_worker'])} |")
    add(f"| dropped (`messages:dropped`) | {_n(loss['dropped'])} |")
    add(f"| **lost at the publishers/broker** = publish calls − delivered | **{_n(loss['lost_at_publishers_and_broker'])}** "
        f"(bound {_n(loss['bound_publishers_broker_restarts'])}) |")
    add(f"| **lost at the ingest** = delivered + re-delivered − accepted − rejected − dropped | **{_n(loss['lost_at_ingest'])}** "
        f"(bound {_n(loss['bound_ingest'])}) |")
    add(f"| **lost in all** | **{_n(loss['lost_total'])}** ({loss['lost_total_pct']} % of published; bound {_n(loss['bound_total'])}) |")
    add("")
    add("Rejections by reason: " + (", ".join(f"`{k}` {v:,}" for k, v in loss["rejected_by_reason"].items()) or "none") + ".")
    add("")
    add("### The loss expected from the faults (QoS 0 telemetry)")
    add("")
    add(f"- **ingest kill -9** (×{r['faults_injected']['ingest_kill']}): the killed worker's share of the stream "
        f"(rate / {o['ingest_workers']} workers) for the counters it held in memory (written about once a second, "
        f"`IOC_COUNTER_FLUSH_MS` = {INGEST_ROLLUP_FLUSH_S * 1000:g} ms: the readings are stored but no longer counted), the queue and "
        f"batch in hand (`IOC_INGEST_FLUSH_MS` = {INGEST_FLUSH_MS} ms) and what sat in its socket buffers, ~0.5 s: "
        f"≈ rate/{o['ingest_workers']} × 1.52 s = {_n(loss['bound_per_ingest_kill'])} per kill; plus what the worker "
        "measurably held when it was killed: its queue (its last heartbeat in `ioc:workers`, up to 5 s old) and the bytes "
        "in the TCP buffers between it and the broker (`/proc/net/tcp`, ~120 bytes a message): "
        + "; ".join(f"{h.get('queued')} queued, {h.get('socket_bytes')} bytes" for h in loss.get("ingest_kills_in_flight", []))
        + f". Bound for the kills of this run: **{_n(loss.get('bound_ingest_kills'))}**. Not measurable from outside, "
        "and so not in the bound: the messages Mosquitto had already assigned to the worker on the shared subscription "
        "and still held in its own memory (it queues for a slow client). Telemetry is QoS 0 "
        "on a clean session, so the broker does not keep it for the dead worker; the other worker on the shared "
        "subscription takes the whole stream from the moment the broker sees the socket close.")
    recon = ", ".join("?" if x is None else f"{x:g} s" for x in loss.get("publisher_reconnect_s", []))
    add(f"- **broker restart** (×{r['faults_injected']['broker_restart']}): while a publisher is disconnected, paho "
        "refuses QoS 0 publishes (`MQTT_ERR_NO_CONN`), and the QoS 0 messages still queued in the client when the "
        "connection drops are discarded: both are lost at the source. The product's clients retry after 1 s, then 2, 4, "
        "8, 10 s (first tries 1, 3, 7, 15 s after the loss); here the simulators logged their reconnection "
        f"{recon} after losing the broker (1 s log resolution). Their client-side queue (published but not yet "
        "delivered, measured at each progress line as the simulators' count minus the reference subscriber's) was "
        f"{_n(loss.get('publisher_backlog_median'))} messages typically, {_n(loss.get('publisher_backlog_max'))} at most. "
        "Bound per restart: rate × (reconnection time + 1 s) + the largest queue measured: "
        f"**{_n(loss['bound_publishers_broker_restarts'])}** for the restarts of this run. On the ingest side the workers "
        "keep their queue (nothing held is lost) but each retry of theirs may miss the broker while a publisher's hits "
        "it, so they may resubscribe one back-off step after the publishers are back (no subscriber of the shared group: "
        "the broker drops the readings): rate × max(1 s, first retry after the outage − 1 s) per restart = "
        f"**{_n(loss['bound_ingest_broker_restarts'])}**.")
    add(f"- **Redis restart** (×{r['faults_injected']['redis_restart']}): no loss expected: the ingest keeps the batch "
        "and queues up to `IOC_INGEST_BUFFER_MAX` messages, retrying with back-off; beyond that it drops and counts "
        "(`messages:dropped`). Redis killed with SIGKILL keeps what it had written to its AOF (the OS has it; `everysec` "
        "only delays the fsync), so committed counters survive a process crash. A batch whose reply was lost in the "
        "kill is written again: its readings come back as `rejected:duplicate`.")
    add(f"- **case worker kill -9** (×{r['faults_injected']['cases_kill']}): reports and department updates are QoS 1 "
        "on a persistent session, acknowledged after the transition is stored: the broker redelivers them; not part of "
        "the telemetry equation.")
    add("")
    if r["per_fault"]:
        add("Ingest-side gap (delivered − accepted − rejected − dropped) growth from the sample before each fault to "
            "the last sample before the next one, corrected for the retained statuses the ingest took again in that window "
            "and for the ingest workers' queues (their heartbeats, up to 5 s old). Indicative only: counters are written "
            "about once a second and heartbeats every 5 s, so each figure carries ± several seconds of traffic in transit "
            "when the ingest runs behind; the totals above, taken after everything settled, are exact.")
        add("")
        add("| t (s) | fault | target | gap growth |")
        add("|---:|---|---|---:|")
        for f in r["per_fault"]:
            add(f"| {f['t']:.0f} | {f['fault']} | {f['target']} | {_n(f['gap_growth'])} |")
        add("")
    add("## Process restarts")
    add("")
    add("| process | starts | planned restarts (after a kill) | unexpected exits |")
    add("|---|---:|---:|---:|")
    for name, v in r["restarts"].items():
        add(f"| {name} | {v['starts']} | {v['planned_restarts']} | {len(v['unexpected_exits'])} |")
    add("")
    for name, v in r["restarts"].items():
        for x in v["unexpected_exits"]:
            add(f"- {name} exited by itself at t+{x['t']:.0f}s with code {x['code']}; last output:")
            add("")
            add("```")
            add(x["log_tail"][-1200:].rstrip())
            add("```")
            add("")
    add("Stop at the end (SIGTERM): " + ", ".join(
        f"{n} {'code ' + str(s['code']) if s['in_time'] else 'KILLED after the timeout'}" for n, s in r["stop"].items()) + ".")
    add("")
    add("## Memory over time")
    add("")
    add("RSS includes each process's children (gunicorn workers, simulator worker processes). A restarted process "
        "starts again from its fresh size.")
    add("")
    add("| what | start MB | max MB | end MB |")
    add("|---|---:|---:|---:|")
    for key, s in r["memory"].items():
        add(f"| {key} | {_mb(s['start'])} | {_mb(s['max'])} | {_mb(s['end'])} |")
    add("")
    add("Samples (every ~{:g} s):".format(o["sample_every"]))
    add("")
    names = [k.split(":", 1)[1] for k in r["memory"] if k.startswith("rss:")]
    add("| t (s) | published | accepted | ingest queue | Redis MB | " + " | ".join(f"{n} MB" for n in names) + " | healthz | load |")
    add("|---:|---:|---:|---:|---:|" + "---:|" * len(names) + "---|---:|")
    samples = r["samples"]
    step = max(1, len(samples) // 40)
    for s in samples[::step] + ([samples[-1]] if samples and (len(samples) - 1) % step else []):
        pub = (s["tap_telemetry"] or 0) + (s["tap_status"] or 0) if s["tap_telemetry"] is not None else None
        acc = s["metrics"].get("messages:accepted") if s["metrics"] else None
        add(f"| {s['t']:.0f} | {_n(pub)} | {_n(acc)} | {_n(s.get('ingest_queued'))} | {_mb(s['redis_used_memory'])} | "
            + " | ".join(_mb(s["rss"].get(n)) for n in names) + f" | {s['healthz']} | {s['loadavg'][0]:.1f} |")
    add("")
    add("## Health")
    add("")
    nok = r["healthz"]["not_200"]
    add(f"`/healthz` sampled {sum(r['healthz']['by_status'].values())} times: "
        + ", ".join(f"{k} ×{v}" for k, v in sorted(r["healthz"]["by_status"].items())) + "."
        + (" Not 200 at: " + ", ".join(f"t+{x['t']:.0f}s ({x['healthz']})" for x in nok) + "." if nok else ""))
    add("")
    add("## Errors in the logs")
    add("")
    if not r["logs"]:
        add("No ERROR, CRITICAL or Traceback line in any log.")
    for name, v in r["logs"].items():
        add(f"- **{name}**: {v['count']} line(s), {v['near_faults']} within {NEAR_FAULT_S:g} s after an injected fault or "
            "its recovery. First ones:")
        for h in v["first"]:
            add(f"  - `{h['line'][:300]}`" + (f" ({h['near']})" if h["near"] else " (**not near a fault**)"))
        for h in v["not_near_faults"]:
            if h not in v["first"]:
                add(f"  - `{h['line'][:300]}` (**not near a fault**)")
    add("")
    add("## Cases")
    add("")
    c = r["cases"]
    add(f"{c['created']} cases created during the run ({c['closed']} closed, {c['ended_other']} rejected/voided/merged); "
        "stages at the end: " + ", ".join(f"{k} {v}" for k, v in sorted(c["by_stage_at_end"].items())) + ".")
    add("Counters: " + ", ".join(f"`{k}` {v}" for k, v in c["counters"].items()) + f"; dead-letter stream length {c['deadletter_stream_len']}.")
    add("")
    return "\n".join(L)


def write_reports(r: dict, out: Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(r, indent=1, ensure_ascii=False, default=str) + "\n")
    (out / "soak.md").write_text(markdown(r))


def print_summary(r: dict, out: Path) -> None:
    loss = r["loss"]
    print("\n=== soak summary ===", flush=True)
    print(f"  {r['run_seconds'] / 60:.1f} min, faults: " + ", ".join(f"{k} ×{v}" for k, v in r["faults_injected"].items()))
    print(f"  published {loss['simulators_sent']:,} (broker delivered {loss['broker_delivered']:,}, {loss['measured_rate']:,.0f} msg/s), "
          f"accepted {loss['accepted']:,}, rejected {loss['rejected']:,}, dropped {loss['dropped']:,}")
    print(f"  lost {loss['lost_total']:,} ({loss['lost_total_pct']} %): publishers/broker {loss['lost_at_publishers_and_broker']:,} "
          f"(bound {loss['bound_publishers_broker_restarts']:,}), ingest {loss['lost_at_ingest']:,} (bound {loss['bound_ingest']:,})")
    print(f"  restarts: {r['restarts_planned']} planned, {r['unexpected_exits']} unexpected exits")
    rm = r["memory"]["redis_used_memory"]
    print(f"  Redis used_memory {_mb(rm['start'])} → max {_mb(rm['max'])} → end {_mb(rm['end'])} MB")
    print(f"  log errors: {sum(v['count'] for v in r['logs'].values())}; cases created {r['cases']['created']}, closed {r['cases']['closed']}")
    for f in r["findings"]:
        print(f"  FINDING: {f}")
    print(f"  report: {Path(out) / 'soak.md'}, {Path(out) / 'soak.json'}", flush=True)
