"""Callback outputs serialized once (`ioc.web.prejson`) are sent exactly as Dash would send them."""

from __future__ import annotations

import plotly.io.json as plotly_json
from dash import html

from ioc.web.prejson import serialized, use_orjson


def test_a_serialized_output_is_the_json_dash_would_send():
    use_orjson()
    value = [html.Li([html.Span("07:30", className="t-time"), "杨舍镇"], className="ticker-row raised"), {"values": {"a": 1.5}}]
    assert plotly_json.to_json_plotly({"out": serialized(value)}) == plotly_json.to_json_plotly({"out": value})


def test_dash_encodes_with_orjson_once_the_app_asks_for_it():
    use_orjson()
    assert plotly_json.config.default_engine == "orjson"
