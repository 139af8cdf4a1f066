"""The district page's case density map, as plain values: the grid layer's `hideout` (counts per
cell and the colour classes, styled in the browser by `iocMap.densityStyle`), the legend's
classes and the sentence under it. Pure: the callback reads the record and hands the tables over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from ioc.i18n import t
from ioc.reports.density import COLORS, class_labels, map_classes


@dataclass(frozen=True)
class DensityView:
    hideout: dict  # {"values": {cell: cases}, "breaks": [...], "colors": [...]}
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, "1–4") per class
    summary: str = ""


EMPTY_HIDEOUT = {"values": {}, "breaks": [1], "colors": [COLORS[-1]]}


def _number(value: float, lang: str) -> str:
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def density_view(cells: pd.DataFrame, district_row: dict, first: date, last: date, district_name: str,
                 lang: str = "zh") -> DensityView:
    """`cells` from `ioc.reports.density.by_cell` (one district's), `district_row` that district's
    row of `by_district` (cases, per_km2)."""
    values = {str(c): int(n) for c, n in zip(cells["cell"], cells["cases"]) if c and n > 0}
    breaks, colors = map_classes(values)
    cases = int(district_row.get("cases", 0))
    per = district_row.get("per_km2")
    per = 0.0 if per is None or per != per else float(per)
    summary = t("density_summary", lang).format(district=district_name, first=first.isoformat(), last=last.isoformat(),
                                                n=f"{cases:,}", per=_number(per, lang))
    if values:
        top_cell, top_n = max(values.items(), key=lambda kv: (kv[1], kv[0]))
        summary += t("density_top", lang).format(cell=top_cell, n=f"{top_n:,}")
    else:
        summary += t("density_none", lang)
    legend = list(zip(colors, class_labels(breaks))) if values else []
    return DensityView({"values": values, "breaks": breaks, "colors": colors}, legend, summary)
