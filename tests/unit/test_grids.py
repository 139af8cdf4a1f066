"""Every portal grid is made by one helper (layouts.grids.ag_grid) that gives it the page's
language: AG Grid's menus, overlays and paging in Chinese in the Chinese UI."""

from __future__ import annotations

from ioc.settings import REPO_ROOT
from layouts.grids import LOCALE_ZH, NUMBER, ag_grid, grid_options, locale_text

# texts an AG Grid of the portal shows: filter menus, overlays, the paging bar
SHOWN_KEYS = ("equals", "notEqual", "contains", "notContains", "startsWith", "endsWith", "blank", "notBlank", "lessThan",
              "greaterThan", "lessThanOrEqual", "greaterThanOrEqual", "inRange", "inRangeStart", "inRangeEnd", "andCondition",
              "orCondition", "filterOoo", "applyFilter", "resetFilter", "clearFilter", "cancelFilter", "noRowsToShow",
              "noMatchingRows", "loadingOoo", "page", "of", "to", "firstPage", "previousPage", "nextPage", "lastPage",
              "pageSizeSelectorLabel", "ariaPageSizeSelectorLabel", "more")


def test_every_grid_of_the_layouts_is_made_by_the_helper():
    offenders = [p.name for p in (REPO_ROOT / "layouts").glob("*.py") if p.name != "grids.py" and "AgGrid(" in p.read_text()]
    assert offenders == []


def test_the_chinese_locale_names_every_text_the_grids_show():
    assert [k for k in SHOWN_KEYS if k not in LOCALE_ZH] == []
    assert all(not any(c.isascii() and c.isalpha() for c in LOCALE_ZH[k]) for k in SHOWN_KEYS if k != "pageSizeSelectorLabel")


def test_english_keeps_ag_grids_own_texts_and_a_grid_may_name_its_empty_state():
    assert locale_text("en") == {}
    assert locale_text("en", "No cases") == {"noRowsToShow": "No cases"}
    assert locale_text("zh", "暂无案件")["noRowsToShow"] == "暂无案件" and locale_text("zh")["equals"] == "等于"


def test_a_grid_has_theme_locale_and_popups_on_the_page():
    options = grid_options("zh", "暂无", pagination=True)
    assert options["localeText"]["noMatchingRows"] == LOCALE_ZH["noMatchingRows"] and options["pagination"] is True
    assert options["popupParent"] == {"function": "pageBody()"} and "theme" in options
    grid = ag_grid("g", [{"field": "a", **NUMBER}], "zh", rowData=[{"a": 1}])
    assert grid.dashGridOptions["localeText"]["page"] == "页" and grid.rowData == [{"a": 1}]
    assert NUMBER["type"] == "rightAligned"
