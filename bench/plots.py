"""docs/perf-<plot>.png: one figure per `Series.plot` name (matplotlib, headless Agg backend)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from bench.model import Series


def draw(series: list[Series], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    groups: "OrderedDict[str, list[Series]]" = OrderedDict()
    for s in series:
        groups.setdefault(s.plot, []).append(s)
    written = []
    for plot, items in groups.items():
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        bars = [s for s in items if s.kind == "bar"]
        lines = [s for s in items if s.kind != "bar"]
        if bars and len(bars) > 1 and all(list(s.x) == list(bars[0].x) for s in bars):
            # several figures of the same things (p50, p95 …): grouped bars, one colour per series
            width = 0.8 / len(bars)
            for k, s in enumerate(bars):
                xs = [i + (k - (len(bars) - 1) / 2) * width for i in range(len(s.x))]
                ax.bar(xs, s.y, width, label=s.label, color=f"C{k % 10}")
                for x, v in zip(xs, s.y):
                    if isinstance(v, (int, float)) and v == v:
                        ax.annotate(f"{v:,.0f}" if v >= 10 else f"{v:.1f}", (x, v), ha="center", va="bottom", fontsize=6)
            ax.set_xticks(range(len(bars[0].x)), [str(x) for x in bars[0].x], rotation=30, ha="right", fontsize=8)
            fig.set_size_inches(max(8, 0.6 * len(bars[0].x) + 2), 5)
        elif bars:
            labels = [str(x) for s in bars for x in s.x]
            values = [y for s in bars for y in s.y]
            ax.bar(range(len(values)), values, color=[f"C{i % 10}" for i in range(len(values))])
            ax.set_xticks(range(len(values)), labels, rotation=20, ha="right")
            for i, v in enumerate(values):
                ax.annotate(f"{v:,.0f}" if v >= 100 else f"{v:.1f}", (i, v), ha="center", va="bottom", fontsize=8)
        for s in lines:
            ax.plot(s.x, s.y, marker="o" if len(s.x) < 30 else None, label=s.label)
        ys = [y for s in lines for y in s.y if isinstance(y, (int, float)) and y == y]
        if ys and min(ys) > 0 and max(ys) / min(ys) > 50:
            ax.set_yscale("log")  # latencies below and above saturation differ by orders of magnitude
        first = items[0]
        ax.set_xlabel(first.xlabel)
        ax.set_ylabel(first.ylabel)
        ax.set_title(plot)
        ax.grid(True, alpha=0.3)
        if lines and len(lines) + len(bars) > 1 or (lines and lines[0].label) or len(bars) > 1:
            ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"perf-{plot}.png"
        fig.savefig(Path(out_dir) / name)
        plt.close(fig)
        written.append(name)
    return written
