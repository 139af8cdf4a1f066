"""The page table (ioc.web.pages) is the one place pages are declared: routing, navigation, the
access checks, the validation layout and callback registration all follow from its rows."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from dash.development.base_component import Component

from ioc.domain.access import PERMISSIONS, ROLES, Principal, allowed
from ioc.settings import REPO_ROOT, Settings
from ioc.web import pages
from ioc.web.pages import PAGES, Page, PageContext

EVERYBODY = Principal("root", frozenset(ROLES))
PRINCIPALS = [None, EVERYBODY, Principal("kiosk:wall", frozenset({"operator"}), "wall", "", "kiosk", True)] + [
    Principal(f"a-{role}", frozenset({role})) for role in ROLES]


def example_path(page: Page, value: str = "x1") -> str:
    """The row's template with every parameter filled in."""
    return pages._PARAMETER.sub(value, page.path)


def page_id(page: Page) -> str:
    return page.path


def ids(component) -> set:
    return {getattr(c, "id", None) for c in component._traverse()} - {None}


@pytest.fixture(scope="module")
def context(city) -> PageContext:
    return PageContext(city, "zh", "", True)


# ---- the table itself ---------------------------------------------------------------------------

def test_every_row_names_a_known_permission_and_a_unique_template():
    assert all(page.permission in PERMISSIONS for page in PAGES)
    assert len({page.path for page in PAGES}) == len(PAGES)


def test_navigation_positions_are_distinct():
    positions = [page.nav for page in PAGES if page.nav is not None]
    assert len(positions) == len(set(positions))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_rows_callbacks_module_exists_in_the_callbacks_folder(page):
    module = importlib.import_module(f"callbacks.{page.callbacks}")
    assert (REPO_ROOT / "callbacks" / f"{page.callbacks}.py").is_file()
    assert callable(module.register)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_rows_layout_is_a_function_of_the_layouts_folder_and_builds_components(page, context, city):
    called = [getattr(pages, name) for name in page.layout.__code__.co_names if callable(getattr(pages, name, None))]
    assert [f.__module__.split(".")[0] for f in called] == ["layouts"]
    params = {name: page.sample(city) for name in page.parameters}
    assert isinstance(page.layout(PageContext(city, "en", "", True, params)), Component)


# ---- routing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=page_id)
@pytest.mark.parametrize("suffix", ["", "/", "//"])
def test_each_rows_path_routes_to_that_row_with_or_without_trailing_slashes(page, suffix):
    found = pages.match(example_path(page) + suffix)
    assert found is not None and found.page is page
    assert found.params == {name: "x1" for name in page.parameters}


@pytest.mark.parametrize("page", [p for p in PAGES if not p.parameters and p.path != "/"], ids=page_id)
def test_a_path_is_matched_whole_and_case_sensitively(page):
    assert pages.match(page.path + "x") is None
    assert pages.match(page.path + "/x") is None
    assert pages.match(page.path.upper()) is None


def test_a_district_id_may_hold_a_slash_a_case_id_may_not():
    assert pages.match("/district/a/b").params == {"district_id": "a/b"}
    assert pages.match("/case/a/b") is None
    assert pages.match("/case/") is None and pages.match("/district/") is None


def test_the_empty_path_is_the_big_screen():
    assert pages.view_for_path("") == pages.view_for_path(None) == "bigscreen"


def test_the_router_builds_the_rows_layout_with_its_parameter(context):
    assert "dmap" in ids(pages.layout_for("/district/yangshe/", context))  # the district's own map
    assert "dmap" not in ids(pages.layout_for("/district/nowhere", context))  # the not-found page
    assert pages.layout_for("/no-such-page", context) is None


# ---- navigation and access ----------------------------------------------------------------------

def test_the_navigation_is_the_rows_with_a_position_in_their_order():
    expected = [(p.view, p.path) for p in sorted((p for p in PAGES if p.nav is not None), key=lambda p: p.nav)]
    assert pages.visible_views(EVERYBODY) == expected


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.name if p else "anonymous")
def test_access_to_each_page_is_its_rows_permission(principal):
    for page in PAGES:
        assert pages.may_view_path(principal, example_path(page)) == allowed(principal, page.permission), page.path
    assert not pages.may_view_path(principal, "/no-such-page")


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.name if p else "anonymous")
def test_the_home_page_is_the_first_navigation_entry_the_principal_may_open(principal):
    entries = [p.path for p in pages.NAVIGATION if allowed(principal, p.permission)]
    assert pages.home_path(principal) == (entries[0] if entries else pages.FALLBACK_HOME)


# ---- the validation layout and callback registration --------------------------------------------

def test_the_validation_layout_holds_the_frame_and_every_pages_components(city):
    settings = Settings()
    everything = ids(pages.validation_layout(settings, city))
    assert {"url", "page", "nav"} <= everything
    for page in PAGES:
        sample = PageContext(city, settings.lang, settings.tile_url, True, {n: page.sample(city) for n in page.parameters})
        assert ids(page.layout(sample)) <= everything, page.path


def test_callbacks_are_registered_from_the_frame_and_each_module_the_table_names(monkeypatch):
    import callbacks

    registered = []
    monkeypatch.setattr(callbacks, "import_module", lambda name: SimpleNamespace(
        register=lambda app, services: registered.append(name)))
    callbacks.register(app=None, services=None)
    assert registered == ["callbacks.shell"] + [f"callbacks.{name}" for name in pages.callback_modules()]
    assert sorted(pages.callback_modules()) == sorted({page.callbacks for page in PAGES})  # each once
