"""Callback outputs serialized once and sent in many responses.

Dash turns a callback's return value into JSON with plotly's encoder, which walks every
component and dict in Python: for the big screen's alarm board, ticker and alarm layer that walk
is most of a request's time. A value made once per snapshot for every viewer (see
`CityCache.derived`) is therefore serialized once too, as an `orjson.Fragment`: the encoder
passes it through untouched and orjson writes its bytes as they are.
"""

from __future__ import annotations

import zlib

import orjson
import plotly.io.json as plotly_json


def use_orjson() -> None:
    """Make Dash's encoder (plotly's) use orjson, the engine that writes fragments. The product
    pins orjson; plotly would pick it by itself ("auto"), this makes it explicit."""
    plotly_json.config.default_engine = "orjson"


def serialized(value) -> orjson.Fragment:
    """`value` (components, dicts, lists) as the JSON Dash would send, made now, sent as is."""
    return orjson.Fragment(plotly_json.to_json_plotly(value, engine="orjson"))


def serialized_with_digest(value) -> tuple[orjson.Fragment, str]:
    """`serialized(value)` and a short digest of its JSON (the same in every process): a screen
    that holds the digest was sent this very value and need not be sent it again."""
    text = plotly_json.to_json_plotly(value, engine="orjson")
    data = text.encode() if isinstance(text, str) else text
    return orjson.Fragment(data), f"{zlib.crc32(data):08x}{len(data):x}"
