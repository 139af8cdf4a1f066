"""Every dash-ag-grid table of the portal is made by `ag_grid`: the portal's dark theme, AG Grid's
texts in the page language (`localeText`; English keeps AG Grid's own), popups (filter menus)
attached to the page so a short or empty grid never cuts them off, and numeric columns
right-aligned the AG Grid way. A page re-rendered on a language switch builds its grids again,
so their locale follows the language.

On a phone or a tablet (up to 900 px wide) every grid made here becomes a list of cards: the
class `ioc-grid` lets assets/mobile.js switch its columns to one auto-height card column (the
`IocCard` cell renderer: the first column as the card's title, every other shown column as a
labelled line, with its formatter, markdown link and cell classes); the row data stays the same,
and a wide screen gets the grid's own columns back."""

from __future__ import annotations

import dash_ag_grid as dag

from .shell import GRID_THEME

# AG Grid's texts a portal grid shows (filter menus, overlays, the paging bar, screen-reader
# labels), in Simplified Chinese. Keys are AG Grid's locale keys (v35).
LOCALE_ZH: dict[str, str] = {
    # overlays
    "loadingOoo": "加载中…", "loadingError": "错误", "noRowsToShow": "暂无数据", "noMatchingRows": "没有符合筛选条件的行",
    # filter menus
    "applyFilter": "应用", "clearFilter": "清除", "resetFilter": "重置", "cancelFilter": "取消",
    "textFilter": "文本筛选", "numberFilter": "数值筛选", "dateFilter": "日期筛选", "setFilter": "集合筛选",
    "filterOoo": "筛选…", "empty": "请选择", "equals": "等于", "notEqual": "不等于", "lessThan": "小于", "greaterThan": "大于",
    "inRange": "介于", "inRangeStart": "从", "inRangeEnd": "到", "lessThanOrEqual": "小于等于", "greaterThanOrEqual": "大于等于",
    "contains": "包含", "notContains": "不包含", "startsWith": "开头是", "endsWith": "结尾是", "blank": "为空", "notBlank": "不为空",
    "before": "早于", "after": "晚于", "andCondition": "且", "orCondition": "或", "dateFormatOoo": "yyyy-mm-dd", "blanks": "（空白）",
    "invalidDate": "日期无效", "invalidNumber": "数字无效",
    # paging: "1 至 55 / 55", "页 1 / 1"
    "page": "页", "of": "/", "to": "至", "more": "更多", "pageLastRowUnknown": "?",
    "firstPage": "首页", "previousPage": "上一页", "nextPage": "下一页", "lastPage": "末页",
    "pageSizeSelectorLabel": "每页行数：", "ariaPageSizeSelectorLabel": "每页行数",
    # screen readers
    "ariaFilterMenuOpen": "打开筛选菜单", "ariaLabelColumnFilter": "列筛选", "ariaLabelColumnMenu": "列菜单",
    "ariaFilterValue": "筛选值", "ariaFilterFromValue": "筛选起始值", "ariaFilterToValue": "筛选结束值",
    "ariaDateFilterInput": "日期筛选输入", "ariaSortableColumn": "按回车键排序", "ariaChecked": "已选中", "ariaUnchecked": "未选中",
    "ariaIndeterminate": "部分选中", "ariaRowSelectAll": "按空格键全选/取消全选", "ariaLabelTooltip": "提示",
}
LOCALES: dict[str, dict[str, str]] = {"zh": LOCALE_ZH, "en": {}}

GRID_CLASS = "ioc-grid"  # the grids assets/mobile.js shows as cards on a narrow screen

# a numeric column: right-aligned cells and header (AG Grid's own column type), a number filter
NUMBER = {"type": "rightAligned", "filter": "agNumberColumnFilter"}
# a whole number (an AQI is an integer wherever it is shown)
INTEGER_FORMAT = {"function": "params.value == null ? '—' : params.value.toFixed(0)"}


def locale_text(lang: str, no_rows: str = "") -> dict[str, str]:
    """AG Grid's `localeText` for the page language; `no_rows` is the grid's own empty text."""
    text = dict(LOCALES.get(lang, {}))
    if no_rows:
        text["noRowsToShow"] = no_rows
    return text


def grid_options(lang: str, no_rows: str = "", **options) -> dict:
    """`dashGridOptions` of a portal grid: theme, locale, popups on the page body, plus `options`."""
    return {"animateRows": False, "theme": GRID_THEME, "localeText": locale_text(lang, no_rows),
            "popupParent": {"function": "pageBody()"}, **options}


def ag_grid(grid_id: str, column_defs: list[dict], lang: str, no_rows: str = "", grid_options_extra: dict | None = None,
            **props) -> dag.AgGrid:
    """A portal grid (see the module's docstring); `props` go to `dag.AgGrid` as they are."""
    class_name = " ".join(c for c in (GRID_CLASS, props.pop("className", "")) if c)
    return dag.AgGrid(id=grid_id, columnDefs=column_defs, rowData=props.pop("rowData", []), className=class_name,
                      dashGridOptions=grid_options(lang, no_rows, **(grid_options_extra or {})), **props)


def screen_height(percent: float) -> str:
    """A grid's height as `percent` of the screen's height as the page sees it (the CSS `var(--vh)`
    of assets/ioc.css: the viewport's 1 %, half that inside a page zoomed on a 4K screen), so a
    grid keeps its 1080p share of the screen at any size."""
    return f"calc({percent:g} * var(--vh))"
