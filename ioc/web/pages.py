"""The portal's pages: ONE table, from which routing, navigation, the validation layout, callback
registration and the access checks of the request guard are all derived.

A row is a path template, the view it shows, the permission it needs, its place in the
navigation (None: opened from another page, never a navigation entry), a layout builder and the
name of its callbacks module in `callbacks/`. Adding a page is one row here plus
`layouts/<page>.py` and `callbacks/<page>.py`.

Path templates: `<name>` matches one path segment (no `/`), `<path:name>` the rest of the path
(slashes included). A path is matched without its trailing slashes (`/status/` is `/status`, an
empty path is `/`), case-sensitively; a path that matches no row is no page (the guard sends a
browser to its home page, the router shows the forbidden page).

The layout builder receives one `PageContext`: the city, the language, the basemap URL, whether
the principal may acknowledge alarms, the template's parameters, and whether the principal may
command linked events.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from dash import html

from ioc.domain.access import Principal, allowed
from ioc.domain.geo import CityMap
from ioc.settings import Settings
from layouts.account import account_page
from layouts.admin import admin_page
from layouts.audit import audit_page
from layouts.bigscreen import bigscreen
from layouts.cases import case_page, console_page
from layouts.device import device_page
from layouts.cockpit import cockpit_page
from layouts.district import district_page, districts_page
from layouts.events import event_page, events_page, indicators_with_events
from layouts.field import inspections_page, tasks_page
from layouts.notify import duty_page, notify_page
from layouts.report import report_link_page
from layouts.reports import reports_page
from layouts.shell import shell
from layouts.status import status_page

# where a principal that may open no navigation entry lands (every signed-in principal may open it)
FALLBACK_HOME = "/account"
# a template's parameter: `<name>` (one segment) or `<path:name>` (slashes included)
_PARAMETER = re.compile(r"<(?:(path):)?([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class PageContext:
    """What a layout builder may use: fixed per process (city, basemap), per request (language,
    alarm acknowledgement), per path (the template's parameters, e.g. `{"case_id": …}`)."""

    city: CityMap
    lang: str
    tile_url: str = ""
    can_ack: bool = True
    params: Mapping[str, str] = field(default_factory=dict)
    can_command: bool = False  # may start and command linked events (the wall's "start an event")
    can_rewind: bool = False  # sees the time control (回溯): holds view:rewind and the process has a record
    can_read_cases: bool = False  # a click on a map's case marker opens the case (holds case:read)


@dataclass(frozen=True)
class Page:
    path: str  # template: "/cases", "/case/<case_id>", "/district/<path:district_id>"
    view: str  # the view's name: navigation label `nav_<view>`, link id `nav-<view>`
    permission: str
    nav: float | None  # position in the navigation (a sort key); None: no navigation entry
    layout: Callable[[PageContext], Any]
    callbacks: str  # the module `callbacks.<name>` that registers this page's callbacks
    # a parameter value for the validation layout, which must show a page with all its components
    sample: Callable[[CityMap], str] = lambda _city: ""
    # served by Flask outside Dash (ioc.web.field): its navigation entry is a plain link (a full page
    # load); the layout is only what Dash's router shows if it is ever asked for the path
    full_page: bool = False

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(name for _converter, name in _PARAMETER.findall(self.path))


PAGES: tuple[Page, ...] = (
    Page("/", "bigscreen", "view:bigscreen", 1,
         lambda c: bigscreen(c.city, c.lang, c.tile_url, c.can_ack, c.can_command, c.can_rewind, c.can_read_cases), "bigscreen"),
    # one device's readings around an alarm (设备回溯), opened from the alarm boards' 回溯 links
    Page("/device/<device_id>", "device", "view:rewind", None,
         lambda c: device_page(c.params["device_id"], c.lang, c.can_rewind), "device",
         sample=lambda _city: "gauge-1"),
    Page("/cockpit", "cockpit", "view:cockpit", 1.5, lambda c: cockpit_page(c.lang), "cockpit"),
    Page("/districts", "districts", "view:districts", 2,
         lambda c: districts_page(c.lang, c.can_rewind), "district"),
    Page("/district/<path:district_id>", "districts", "view:districts", None,
         lambda c: district_page(c.city, c.params["district_id"], c.lang, c.tile_url, can_rewind=c.can_rewind,
                                 can_open_cases=c.can_read_cases), "district",
         sample=lambda city: city.districts[0].id),
    Page("/cases", "console", "view:console", 3,
         lambda c: console_page(c.city, c.lang, c.tile_url, c.can_command), "cases"),
    Page("/case/<case_id>", "case", "case:read", None,
         lambda c: case_page(c.city, c.params["case_id"], c.lang, c.tile_url, c.can_command, c.can_rewind), "cases"),
    Page("/tasks", "tasks", "view:tasks", 4, lambda c: tasks_page(c.lang, c.tile_url), "field"),
    Page("/events", "events", "view:events", 5, lambda c: events_page(c.city, c.lang, c.tile_url), "events"),
    Page("/event/<event_id>", "event", "view:events", None,
         lambda c: event_page(c.city, c.params["event_id"], c.lang, c.tile_url), "events",
         sample=lambda _city: "EV-20260101-001"),
    Page("/inspections", "inspections", "view:inspections", 6, lambda c: inspections_page(c.lang, c.tile_url), "field"),
    Page("/indicators", "indicators", "view:indicators", 8, lambda c: indicators_with_events(c.lang), "cases"),
    Page("/reports", "reports", "view:reports", None, lambda c: reports_page(c.lang, int(time.time() * 1000)), "reports"),
    Page("/status", "status", "view:status", 7, lambda c: status_page(c.lang), "status"),
    Page("/audit", "audit", "view:audit", 9, lambda c: audit_page(c.lang), "audit"),
    # the inspector's 巡查上报, after the inspection queues in the navigation (a Flask page: ioc.web.field)
    Page("/report", "report", "view:report", 6.5, lambda c: report_link_page(c.lang), "report", full_page=True),
    Page("/admin", "admin", "view:admin", 10, lambda c: admin_page(c.lang, c.city), "admin"),
    Page("/account", "account", "view:account", 99, lambda c: account_page(c.lang), "account"),  # always the last entry
    Page("/duty", "duty", "view:duty", 14, lambda c: duty_page(c.lang, c.city), "notify"),
    Page("/notify", "notify", "view:notify", 15, lambda c: notify_page(c.lang, c.city), "notify"),
)

# ---- derived from the table -----------------------------------------------------------------------


def _pattern(template: str) -> re.Pattern:
    """`/case/<case_id>` -> `/case/(?P<case_id>[^/]+)`; `<path:x>` may span slashes."""
    out, last = [], 0
    for m in _PARAMETER.finditer(template):
        out.append(re.escape(template[last:m.start()]))
        out.append(f"(?P<{m.group(2)}>{'.+' if m.group(1) else '[^/]+'})")
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out), re.DOTALL)


_PATTERNS = tuple((_pattern(page.path), page) for page in PAGES)
NAVIGATION: tuple[Page, ...] = tuple(sorted((p for p in PAGES if p.nav is not None), key=lambda p: p.nav))
FULL_PAGE_PATHS: frozenset[str] = frozenset(p.path for p in PAGES if p.full_page)  # navigation: plain links


@dataclass(frozen=True)
class Match:
    page: Page
    params: dict[str, str]


def match(path: str | None) -> Match | None:
    """The page a portal URL path shows, with its parameters; None for a path that is no page."""
    path = (path or "/").rstrip("/") or "/"
    for pattern, page in _PATTERNS:
        found = pattern.fullmatch(path)
        if found is not None:
            return Match(page, found.groupdict())
    return None


def view_for_path(path: str | None) -> str | None:
    """The view a portal URL path shows; None for a path that is no view."""
    found = match(path)
    return found.page.view if found else None


def may_view_path(principal: Principal | None, path: str | None) -> bool:
    found = match(path)
    return found is not None and allowed(principal, found.page.permission)


def visible_views(principal: Principal | None) -> list[tuple[str, str]]:
    """(view, path) of the navigation entries the principal may open, in navigation order."""
    return [(page.view, page.path) for page in NAVIGATION if allowed(principal, page.permission)]


def home_path(principal: Principal | None) -> str:
    """Where a principal lands after signing in: its first navigation entry."""
    views = visible_views(principal)
    return views[0][1] if views else FALLBACK_HOME


def layout_for(path: str | None, context: PageContext):
    """The layout of the page at `path` (None when the path is no page)."""
    found = match(path)
    return found.page.layout(replace(context, params=found.params)) if found else None


def validation_layout(settings: Settings, city: CityMap) -> html.Div:
    """The frame and every page at once, so Dash can check callbacks whose components are not on screen yet."""
    def sample(page: Page) -> PageContext:
        return PageContext(city, settings.lang, settings.tile_url, True, {name: page.sample(city) for name in page.parameters})

    return html.Div([shell(settings)] + [page.layout(sample(page)) for page in PAGES])


def callback_modules() -> tuple[str, ...]:
    """The names of the pages' callbacks modules in `callbacks/`, each once, in table order."""
    return tuple(dict.fromkeys(page.callbacks for page in PAGES))
