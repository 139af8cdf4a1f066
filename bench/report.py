"""Writing the results: docs/perf.json (everything), the results block of docs/perf.md (the table),
the console table.

docs/perf.md is also the project's hand-written performance log (how the harness works, dated
results, what made it fast): the harness rewrites only the block between `BEGIN` and `END` and
keeps the rest of the page as it is. In a folder without such a page (`--out DIR`) it writes a
page holding the block alone."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.machine import one_line
from bench.model import SCENARIOS, Measurement, Series


def _fmt(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit in ("ratio",):
        return f"{value:.2f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def verdict(m: Measurement) -> str:
    return "" if m.passed is None else ("PASS" if m.passed else "FAIL")


def rows(measurements: list[Measurement]) -> list[list[str]]:
    return [[m.scenario, m.name, f"{_fmt(m.value, m.unit)} {m.unit}".strip(), m.target, verdict(m)] for m in measurements]


HEADER = ["scenario", "measurement", "value", "target", "result"]


def console_table(measurements: list[Measurement]) -> str:
    table = [HEADER] + rows(measurements)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = []
    for n, r in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


BEGIN = "<!-- results of `python -m bench`: written by the harness from here to the end marker; do not edit by hand -->"
END = "<!-- end of the results of `python -m bench` -->"
TITLE = "# Performance (`make bench`)"


def markdown(measurements: list[Measurement], machine: dict, errors: list[str], options: dict, plots: list[str]) -> str:
    """The results block: the machine, the run, the table of every figure against its target, the plots."""
    passed = sum(1 for m in measurements if m.passed is True)
    failed = sum(1 for m in measurements if m.passed is False)
    out = [
        "## Results of the last run",
        "",
        "Written by `python -m bench`; do not edit by hand (the harness rewrites this part of the page).",
        "",
        f"**Machine**: {one_line(machine)}",
        "",
        f"**Run**: {', '.join(f'{k}={v}' for k, v in options.items() if k != 'earlier')}. "
        f"Targets from issue 6: {passed} passed, {failed} failed.",
        "",
    ]
    earlier = options.get("earlier") or []
    for run in [earlier] if isinstance(earlier, dict) else earlier:
        settings = ", ".join(f"{k}={v}" for k, v in (run.get("options") or {}).items() if k != "earlier")
        out += [f"**Earlier run** (`--merge`): the scenarios {run['scenarios']} come from a run on "
                f"{run['machine']}; {settings}.", ""]
    out += [
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for r in rows(measurements):
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    if errors:
        out += ["", "### Errors", ""] + [f"- {e}" for e in errors]
    if plots:
        out += ["", "### Plots", ""] + [f"![{p}]({p})" for p in plots]
    out += ["", "Every figure with its runs, spread and CPU per process is in `perf.json`."]
    return "\n".join(out)


def page(existing: str | None, results: str) -> str:
    """perf.md with `results` between the markers: the hand-written rest of an existing page is kept;
    a missing page, or one without both markers, becomes a page of the results alone."""
    if existing is not None:
        start, end = existing.find(BEGIN), existing.find(END)
        if 0 <= start < end:
            return existing[:start] + BEGIN + "\n" + results + "\n" + existing[end:]
    return f"{TITLE}\n\n{BEGIN}\n{results}\n{END}\n"


def write(out_dir: Path, measurements: list[Measurement], series: list[Series], machine: dict, errors: list[str],
          options: dict, plots: list[str], scenario_seconds: dict) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "perf.json", out_dir / "perf.md"
    data = {
        "machine": machine,
        "options": options,
        "scenario_seconds": scenario_seconds,
        "errors": errors,
        "measurements": [m.as_dict() for m in measurements],
        "series": [s.as_dict() for s in series],
        "plots": plots,
    }
    json_path.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    existing = md_path.read_text(encoding="utf-8") if md_path.exists() else None
    md_path.write_text(page(existing, markdown(measurements, machine, errors, options, plots)), encoding="utf-8")
    return json_path, md_path


def merge_earlier(out_dir: Path, ran: list[str], measurements: list[Measurement], series: list[Series],
                  seconds: dict, options: dict) -> tuple[list[Measurement], list[Series], dict]:
    """This run's results plus, from the perf.json already in `out_dir`, the scenarios this run
    did not run; `options["earlier"]` says which scenarios came from which earlier run."""
    path = out_dir / "perf.json"
    if not path.exists():
        return measurements, series, seconds
    earlier = json.loads(path.read_text(encoding="utf-8"))
    kept = [Measurement(**m) for m in earlier.get("measurements", []) if m["scenario"] not in ran]
    if not kept:
        return measurements, series, seconds
    scenarios = sorted({m.scenario for m in kept})
    plots_ran = {s.plot for s in series}
    kept_series = [Series(**s) for s in earlier.get("series", []) if s["plot"] not in plots_ran]
    options["earlier"] = provenance(earlier, scenarios)
    old_seconds = {k: v for k, v in (earlier.get("scenario_seconds") or {}).items() if k in scenarios}
    order = {name: i for i, name in enumerate(earlier_order(kept, measurements))}
    merged = sorted(kept + measurements, key=lambda m: order[m.scenario])
    return merged, kept_series + series, {**old_seconds, **seconds}


def earlier_order(kept: list[Measurement], measurements: list[Measurement]) -> list[str]:
    """Scenario names in the order the harness runs them."""
    names = {m.scenario for m in kept + measurements}
    return [s for s in SCENARIOS if s in names] + sorted(names - set(SCENARIOS))


def provenance(earlier: dict, scenarios: list[str]) -> list[dict]:
    """Which earlier run each kept scenario comes from: [{scenarios, machine, options}], one entry
    per run. A scenario the earlier file had itself kept from a run before keeps that run."""
    before = (earlier.get("options") or {}).get("earlier") or []
    if isinstance(before, dict):  # written by an older harness: one run
        before = [before]
    runs: list[dict] = []
    own = [s for s in scenarios if not any(s in r["scenarios"].split(",") for r in before)]
    if own:
        run_options = {k: v for k, v in (earlier.get("options") or {}).items() if k != "earlier"}
        runs.append({"scenarios": ",".join(own), "machine": one_line(earlier.get("machine", {})), "options": run_options})
    for r in before:
        mine = [s for s in scenarios if s in r["scenarios"].split(",")]
        if mine:
            runs.append({**r, "scenarios": ",".join(mine)})
    return runs

