"""The city's layers read and written with geopandas, case density per cell and district (pure
functions over a DataFrame), the density map's view and the district page's density panel."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ioc.adapters.geodata_files import load_city_map
from ioc.reports import density, geo
from ioc.settings import REPO_ROOT
from ioc.views.density import density_view


@pytest.fixture(scope="module")
def city():
    return load_city_map(REPO_ROOT / "geodata")


@pytest.fixture(scope="module")
def layers():
    return geo.load_layers(REPO_ROOT / "geodata")


# ---- layers -------------------------------------------------------------------------------------

def test_the_citys_layers_load_as_geodataframes_in_wgs84(layers, city):
    assert {name: len(frame) for name, frame in layers.items()} == {"city": 1, "districts": len(city.districts),
                                                                    "grid": len(city.cell_ids)}
    assert all(frame.crs.to_epsg() == 4326 for frame in layers.values())
    assert layers["grid"].attrs["lattice"]["rows"] == city.lattice.rows


@pytest.mark.parametrize("target", ["layers.gpkg", "layers"])
def test_written_layers_read_back_with_the_same_shapes_and_properties(layers, tmp_path, target):
    back = geo.load_layers(geo.write_layers(layers, tmp_path / target))
    for name, frame in layers.items():
        assert back[name].geometry.geom_equals_exact(frame.geometry, 1e-9).all(), name
        assert back[name].drop(columns="geometry").astype(str).equals(frame.drop(columns="geometry").astype(str)), name
    assert back["grid"].attrs["lattice"] == layers["grid"].attrs["lattice"]


def test_a_written_geojson_folder_is_a_city_the_app_can_load(layers, tmp_path, city):
    again = load_city_map(geo.write_layers(layers, tmp_path / "geodata"))
    assert again.districts == city.districts and again.cell_ids == city.cell_ids
    assert again.cell_at(120.556, 31.872) == city.cell_at(120.556, 31.872) == "320582100001618"


def test_an_unknown_layer_is_refused():
    with pytest.raises(ValueError, match="unknown layer"):
        geo.load_layer("rivers")


# ---- density ------------------------------------------------------------------------------------

COUNTS = pd.DataFrame([("yangshe", "320582100001618", 5), ("yangshe", "320582100001719", 2), ("jinfeng", "320582103002922", 1),
                       ("yangshe", "", 3), ("", "", 1)], columns=["district", "cell", "cases"])


def test_cell_densities_sum_to_the_case_count(city):
    cells = density.by_cell(COUNTS, city)
    assert cells["cases"].sum() == COUNTS["cases"].sum() == 12
    assert len(cells) == len(city.cell_ids) + 1  # every cell, and the cases without one
    assert cells.loc[cells["cell"] == "", "cases"].item() == 4


def test_district_densities_sum_to_the_case_count(city):
    table = density.by_district(COUNTS, city)
    assert table["cases"].sum() == 12
    assert table.set_index("district").loc["yangshe", "cases"] == 10
    assert table.set_index("district").loc["", "district_zh"] == "未定位"


def test_one_case_per_row_counts_like_a_counted_frame(city):
    rows = COUNTS.loc[COUNTS.index.repeat(COUNTS["cases"])].drop(columns="cases")
    assert density.by_cell(rows, city)["cases"].tolist() == density.by_cell(COUNTS, city)["cases"].tolist()


def test_a_district_cell_table_covers_its_cells_and_still_sums_to_its_cases(city):
    mine = COUNTS[COUNTS["district"] == "yangshe"]
    cells = density.by_cell(mine, city, "yangshe")
    assert set(cells["cell"]) - {""} == {c for c in city.cell_ids if city.cell_district(c) == "yangshe"}
    assert cells["cases"].sum() == 10


def test_density_per_km2_divides_by_the_geodesic_area(city):
    cells = density.by_cell(COUNTS, city).set_index("cell")
    area = cells.loc["320582100001618", "area_km2"]
    assert 0.99 < area < 1.01  # a 1 km cell
    assert cells.loc["320582100001618", "per_km2"] == round(5 / area, 3)
    districts = density.by_district(COUNTS, city).set_index("district")
    assert districts.loc["yangshe", "per_km2"] == round(10 / city.district("yangshe").area_km2, 3)


def test_an_empty_period_has_every_cell_and_district_at_zero(city):
    empty = pd.DataFrame(columns=["district", "cell", "cases"])
    assert density.by_cell(empty, city)["cases"].sum() == 0 and len(density.by_cell(empty, city)) == len(city.cell_ids)
    assert density.by_district(empty, city)["cases"].tolist() == [0] * len(city.districts)


@pytest.mark.parametrize("top, breaks", [(1, [1]), (3, [1, 2]), (12, [1, 2, 5, 10]), (300, [1, 5, 20, 50, 200])])
def test_colour_classes_step_1_2_5_and_start_at_one_case(top, breaks):
    got, colors = density.map_classes({"a": top, "b": 1})
    assert got == breaks and len(colors) == len(breaks) and colors[-1] == density.COLORS[-1]


def test_class_labels_read_as_ranges():
    assert density.class_labels([1, 2, 5, 10]) == ["1", "2–4", "5–9", "10+"]


def test_a_density_table_as_geojson_has_a_polygon_and_the_figures_per_cell(city):
    collection = density.table_geojson(density.by_cell(COUNTS, city, "yangshe"), city, "cell")
    by_id = {f["id"]: f for f in collection["features"]}
    assert by_id["320582100001618"]["properties"]["cases"] == 5 and by_id["320582100001618"]["geometry"]["type"] == "Polygon"
    assert "" not in by_id  # cases without a cell have no shape
    districts = density.table_geojson(density.by_district(COUNTS, city), city, "district")
    assert len(districts["features"]) == len(city.districts)


# ---- the district page ----------------------------------------------------------------------------

def test_the_density_view_colours_the_cells_with_cases_and_words_the_period(city):
    cells = density.by_cell(COUNTS[COUNTS["district"] == "yangshe"], city, "yangshe")
    row = density.by_district(COUNTS, city).set_index("district").loc["yangshe"].to_dict()
    view = density_view(cells, row, date(2026, 11, 1), date(2026, 11, 30), "杨舍镇", "zh")
    assert view.hideout["values"] == {"320582100001618": 5, "320582100001719": 2}
    assert [label for _c, label in view.legend] == ["1", "2–4", "5+"]
    assert view.summary.startswith("杨舍镇 2026-11-01 至 2026-11-30：案件 10 件") and "320582100001618（5 件）" in view.summary
    english = density_view(cells, row, date(2026, 11, 1), date(2026, 11, 30), "Yangshe", "en")
    assert english.summary.startswith("Yangshe, 2026-11-01 to 2026-11-30: 10 cases") and "件" not in english.summary


def _find(component, component_id):
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None


def test_the_district_map_has_a_density_layer_of_its_own_cells_off_at_first(city):
    from layouts.district import district_page

    page = district_page(city, "yangshe", "zh", "", today=date(2026, 12, 6))
    layer = _find(page, "dmap-density")
    assert {f["properties"]["district"] for f in layer.data["features"]} == {"yangshe"}
    assert layer.hideout["values"] == {}
    overlay = next(o for o in _find(page, "dmap-layers").children if _find(o, "dmap-density") is not None)
    assert overlay.name == "案件密度" and overlay.checked is False
    picker = _find(page, "density-period")
    assert (picker.start_date, picker.end_date) == ("2026-11-07", "2026-12-06")


def test_the_export_links_name_the_district_and_the_period(city):
    from layouts.district import export_links

    hrefs = [a.href for group in export_links("yangshe", "2026-11-01", "2026-11-30", "zh")[1:] for a in group.children[2:]]
    assert hrefs[0] == "/api/v1/exports/cases.gpkg?from=2026-11-01&to=2026-11-30&district=yangshe"
    assert len(hrefs) == 6
