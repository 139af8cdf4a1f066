"""The district page's heading speaks one language: the page's."""

from __future__ import annotations

import pytest

from ioc.adapters.geodata_files import load_city_map
from ioc.settings import REPO_ROOT
from layouts.district import district_page


@pytest.fixture(scope="module")
def city():
    return load_city_map(REPO_ROOT / "geodata")


def find(component, component_id):
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = find(child, component_id)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("lang, expected, foreign", [("zh", "面积 ", "Yangshe"), ("en", "Area ", "杨舍")])
def test_the_district_heading_names_the_area_in_the_pages_language_only(city, lang, expected, foreign):
    meta = find(district_page(city, "yangshe", lang, ""), "district-meta").children
    assert meta.startswith(expected) and meta.endswith(" km²") and foreign not in meta
