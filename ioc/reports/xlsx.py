"""A `Report` (ioc.reports.monthly) as an XLSX workbook with XlsxWriter.

One sheet per section, named with the section's title; the first row holds the column headers
(the report's language, Chinese by default), frozen; numbers stay numbers with an Excel number
format by kind (counts `#,##0`, rates as fractions in `0.0%`, hours `0.0`, scores `0.00`), so a
reader can compute with them and the values equal the API's JSON. Sections with a `chart` get a
native Excel chart next to the table (column or bar), drawn from the sheet's own cells.
"""

from __future__ import annotations

import io

import xlsxwriter

from .monthly import Report

FORMATS = {"count": "#,##0", "rate": "0.0%", "hours": "0.0", "score": "0.00"}
INVALID = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_name(title: str, used: set[str]) -> str:
    name = title.translate(INVALID)[:31] or "Sheet"
    base, n = name, 2
    while name in used:
        name = f"{base[:28]}({n})"
        n += 1
    used.add(name)
    return name


def workbook_bytes(report: Report) -> bytes:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "nan_inf_to_errors": True})
    wb.set_properties({"title": report.title, "author": "IOC"})
    head = wb.add_format({"bold": True, "bg_color": "#1F4E79", "font_color": "#FFFFFF", "border": 1, "text_wrap": True,
                          "valign": "vcenter"})
    fmts = {k: wb.add_format({"num_format": v}) for k, v in FORMATS.items()}
    used: set[str] = set()
    for section in report.sections:
        name = sheet_name(section.title, used)
        ws = wb.add_worksheet(name)
        frame = section.frame
        for col, header in enumerate(frame.columns):
            ws.write_string(0, col, str(header), head)
            ws.set_column(col, col, max(10, min(36, len(str(header)) * 2 + 2)))
        ws.freeze_panes(1, 0)
        for r, row in enumerate(frame.astype(object).itertuples(index=False, name=None), start=1):
            for c, value in enumerate(row):
                kind = section.kinds[c] if c < len(section.kinds) else "text"
                if kind == "mixed":
                    kind = section.row_kinds[r - 1] if r - 1 < len(section.row_kinds) else "count"
                if value is None or (isinstance(value, float) and value != value):
                    ws.write_blank(r, c, None)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    ws.write_number(r, c, value, fmts.get(kind))
                else:
                    ws.write_string(r, c, str(value))
        _chart(wb, ws, name, section, len(frame))
    wb.close()
    return out.getvalue()


def _chart(wb, ws, name: str, section, nrows: int) -> None:
    spec = section.chart
    if not spec or nrows == 0:
        return
    chart = wb.add_chart({"type": spec.get("kind", "column")})
    rows = spec.get("rows")
    cat = spec["category"]
    for col in spec["values"]:
        if rows:  # a chart of some rows only (the summary's rates): one series per value column over those rows
            first, last = min(rows) + 1, max(rows) + 1
        else:
            first, last = 1, nrows
        chart.add_series({"name": [name, 0, col], "categories": [name, first, cat, last, cat],
                          "values": [name, first, col, last, col]})
    chart.set_title({"name": section.title})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 720, "height": 360})
    ws.insert_chart(1, len(section.frame.columns) + 1, chart)
