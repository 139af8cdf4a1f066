"""The report page's pure pieces: the short list of common classes (ioc.domain.case_catalog) and
what the page's script is handed (ioc.views.report)."""

from __future__ import annotations

import json

from ioc.domain import case_catalog
from ioc.i18n import STRINGS
from ioc.views.report import MAX_PHOTOS, catalog_entries, page_texts, report_page_data


def test_the_common_classes_are_known_minor_classes_each_once():
    assert len(set(case_catalog.COMMON_CLASSES)) == len(case_catalog.COMMON_CLASSES)
    assert set(case_catalog.COMMON_CLASSES) <= set(case_catalog.MINOR_CLASSES)
    assert [c.code for c in case_catalog.common_classes()] == list(case_catalog.COMMON_CLASSES)


def test_the_short_list_fits_a_phone_screen():
    assert 6 <= len(case_catalog.COMMON_CLASSES) <= 12


def test_every_class_is_searchable_by_code_names_and_major_class():
    entries = {e["code"]: e for e in catalog_entries()}
    assert set(entries) == set(case_catalog.MINOR_CLASSES)
    assert entries["20101"] == {"code": "20101", "zh": "暴露垃圾", "en": "Exposed garbage", "major_zh": "市容环境",
                                "major_en": "City appearance and environment", "urgent": False}


def test_the_page_gets_every_report_word_in_both_languages():
    texts = page_texts()
    keys = {k for k in STRINGS if k.startswith("report_")}
    assert keys <= set(texts["zh"]) and keys <= set(texts["en"])
    assert texts["zh"]["report_waiting"] == "{n} 条上报等待网络…"
    assert all(texts["en"][k] for k in keys)


def test_the_page_data_is_json_with_leaflet_bounds():
    data = report_page_data("en", (120.3, 31.7, 120.9, 32.0), "", "/api/v1/map/districts", "abc")
    assert json.loads(json.dumps(data)) == data
    assert data["bounds"] == [[31.7, 120.3], [32.0, 120.9]]
    assert data["common"] == list(case_catalog.COMMON_CLASSES) and data["max_photos"] == MAX_PHOTOS
    assert data["lang"] == "en" and data["version"] == "abc"


def test_month_of_counts_back_across_the_year_in_china_time():
    from ioc.reports.monthly import month_of

    new_year_china = 1767196800_000  # 2026-01-01 00:00 China time = 2025-12-31 16:00 UTC
    assert month_of(new_year_china) == "2026-01"
    assert month_of(new_year_china, 1) == "2025-12"
    assert month_of(new_year_china - 1) == "2025-12"
    assert month_of(new_year_china, 13) == "2024-12"
