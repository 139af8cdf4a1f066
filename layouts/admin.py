"""The users and API tokens page (/admin, admins only). (Being written.)"""

from __future__ import annotations

from dash import html

from ioc.domain.geo import CityMap


def admin_page(lang: str, city: CityMap) -> html.Div:
    return html.Div([], className="admin-page", id="admin-page")
