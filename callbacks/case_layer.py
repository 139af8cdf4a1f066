"""The maps' open-case layer (在办案件) on the wall and the district pages: a small callback of its
own gives the layer the address of what it should show, and the browser fetches it from there
(`GET /api/v1/map/cases`, ioc.web.map_data) only when the address changed. Live, the address
carries the layer's version, which moves at most every 15 s (when the open cases changed, or
one turned overdue); replayed, the moment (while playing, every few seconds)."""

from __future__ import annotations

import time

from dash import Input, Output, State, no_update

from ioc.views.case_map import cases_url, replay_moment
from ioc.web.dash_guard import secured_callback
from ioc.web.map_data import case_layers, live_cases
from ioc.web.services import current_services

from callbacks.rewind import may_replay


def layer_url(_n, at, play, district, shown):
    """The layer's address for the page's moment (`at`: None live) and district ("" the city);
    no update when it is the one the map has (`shown`)."""
    services = current_services()
    district = district or ""
    if at is not None and may_replay(services):
        url = cases_url(district, at=replay_moment(int(at), play))
    else:
        url = cases_url(district, version=case_layers(services).version(live_cases(services), int(time.time() * 1000)))
    return no_update if url == shown else url


def wall_layer_url(n, at, play, shown):
    return layer_url(n, at, play, "", shown)


def register(app, map_id: str, prefix: str, permission: str) -> None:
    """The layer of the map `map_id` on a page whose time control's ids start with `prefix`
    (the district page: its district from the `district-id` store)."""
    inputs = [Input("tick", "n_intervals"), Input(f"{prefix}rewind-at", "data"), State(f"{prefix}rewind-play", "data")]
    if prefix:
        secured_callback(app, permission, Output(f"{map_id}-cases", "url"), *inputs, Input("district-id", "data"),
                         State(f"{map_id}-cases", "url"))(layer_url)
    else:
        secured_callback(app, permission, Output(f"{map_id}-cases", "url"), *inputs,
                         State(f"{map_id}-cases", "url"))(wall_layer_url)
