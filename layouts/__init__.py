"""Dash layouts: functions that build components, nothing else."""

from dash import html

from ioc.domain.geo import CityMap
from ioc.settings import Settings

from .account import account_page
from .admin import admin_page
from .audit import audit_page
from .bigscreen import bigscreen
from .cases import case_page, console_page, indicators_page, inspections_page, tasks_page
from .district import district_page, districts_page
from .shell import forbidden, nav_links, shell
from .status import status_page


def root(settings: Settings) -> html.Div:
    return shell(settings)


def page_for(path: str, city: CityMap, lang: str, tile_url: str, can_ack: bool = True):
    """The page for a URL path: `/` big screen, `/district/<id>`, `/districts`, `/cases`,
    `/case/<id>`, `/tasks`, `/inspections`, `/indicators`, `/status`, `/audit`, `/admin`, `/account`."""
    path = (path or "/").rstrip("/") or "/"
    if path.startswith("/district/"):
        return district_page(city, path.split("/", 2)[2], lang, tile_url)
    if path.startswith("/case/"):
        return case_page(city, path.split("/", 2)[2], lang, tile_url)
    if path == "/cases":
        return console_page(city, lang, tile_url)
    if path == "/tasks":
        return tasks_page(lang)
    if path == "/inspections":
        return inspections_page(lang)
    if path == "/indicators":
        return indicators_page(lang)
    if path == "/districts":
        return districts_page(lang)
    if path == "/status":
        return status_page(lang)
    if path == "/audit":
        return audit_page(lang)
    if path == "/admin":
        return admin_page(lang, city)
    if path == "/account":
        return account_page(lang)
    return bigscreen(city, lang, tile_url, can_ack)


def validation_layout(settings: Settings, city: CityMap) -> html.Div:
    """Every page at once, so Dash can check callbacks whose components are not on screen yet."""
    lang, tiles = settings.lang, settings.tile_url
    first = city.districts[0].id
    return html.Div([shell(settings), bigscreen(city, lang, tiles), district_page(city, first, lang, tiles),
                     districts_page(lang), status_page(lang), audit_page(lang), admin_page(lang, city), account_page(lang),
                     console_page(city, lang, tiles), case_page(city, "", lang, tiles), tasks_page(lang), inspections_page(lang),
                     indicators_page(lang)])


__all__ = ["root", "page_for", "validation_layout", "forbidden", "nav_links"]
