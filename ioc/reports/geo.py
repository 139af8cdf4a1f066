"""The city's GIS layers and the record's exports for the city's GIS staff (geopandas, pyogrio).

Layers
------
`load_layers(dir)` reads the city's layers from geodata/ (`city`, `districts`, `grid`: the 1 km
unit grid) as GeoDataFrames in EPSG:4326; `write_layers(layers, target)` writes them back out:
one GeoPackage with a layer each (`target` ending in `.gpkg`), or a folder of GeoJSON files
(RFC 7946, 5 decimals as in geodata/) that `ioc.adapters.geodata_files` can read again (the
grid's `lattice` member is kept: in `GeoDataFrame.attrs`, in the GeoPackage's layer metadata).

Exports
-------
`export(what, fmt, url, from_ms, to_ms, city, path)` writes the cases, devices or alarms of a
period from the record as one layer (`cases`, `devices`, `alarms`) of a GeoPackage (`gpkg`) or
a GeoJSON file (`geojson`), points in EPSG:4326 (WGS84 lon/lat), read from the record in chunks
of `EXPORT_CHUNK` rows (a server-side cursor) and appended to the file, so a year of cases
never sits in memory at once.

- cases: created in the period (`created_at`), at the reported position;
- devices: registered before the period's end (`first_seen`), at their recorded position, with
  the number of alarms they raised in the period;
- alarms: raised in the period, at their device's recorded position (no geometry when the
  record does not know the device).

Every code has its people's words beside it, in Chinese and English (`class_zh`, `class_en`,
`district_zh`, `stage_zh`, …). Column names are ASCII (every GIS tool takes them); `COLUMNS`
gives each one's Chinese name and English meaning. A GeoPackage carries them in its
`gpkg_data_columns` table (GeoPackage schema extension): `name` is the Chinese name (QGIS and
GDAL show it as the field's alias), `description` the English meaning. Times: a GeoPackage
stores UTC (its standard's DATETIME format); GeoJSON carries China time (+08:00).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import orjson
import pandas as pd
import pyogrio
import shapely

from ioc.adapters.geodata_files import CITY_FILE, DEFAULT_GEODATA_DIR, DISTRICTS_FILE, GRID_FILE
from ioc.domain import case_catalog
from ioc.domain.cases import STAGE_NAMES
from ioc.domain.clock import CHINA_TZ
from ioc.domain.departments import all_departments
from ioc.domain.geo import CityMap
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES_BY_ID
from ioc.i18n import STRINGS

CRS = "EPSG:4326"
LAYER_FILES: dict[str, str] = {"city": CITY_FILE, "districts": DISTRICTS_FILE, "grid": GRID_FILE}
FOREIGN_MEMBERS = ("lattice", "note")  # top-level members of geodata/ files kept through a round trip
LIST_PROPERTIES = {"districts": ("seat",)}  # array properties: JSON text in a GeoPackage
EXPORTS = ("cases", "devices", "alarms")
FORMATS = {"gpkg": ("GPKG", "application/geopackage+sqlite3"), "geojson": ("GeoJSON", "application/geo+json")}
EXPORT_CHUNK = 20_000
MAX_DAYS = 1098  # the longest period of an export or a density map: three years and a leap day or two


# ---- the city's layers ------------------------------------------------------------------------

def load_layer(name: str, geodata_dir: Path | str = DEFAULT_GEODATA_DIR) -> gpd.GeoDataFrame:
    """One of the city's layers (`city`, `districts`, `grid`) from `geodata_dir`, in EPSG:4326.
    Also reads a GeoPackage written by `write_layers` when `geodata_dir` is a `.gpkg` file. The
    file's top-level members other than features (the grid's `lattice`) are in `.attrs`."""
    if name not in LAYER_FILES:
        raise ValueError(f"unknown layer {name!r}; layers are {', '.join(LAYER_FILES)}")
    source = Path(geodata_dir)
    if source.suffix == ".gpkg":
        frame = gpd.read_file(source, layer=name, engine="pyogrio")
        meta = pyogrio.read_info(source, layer=name).get("layer_metadata") or {}
        frame.attrs.update({k: json.loads(v) for k, v in meta.items() if k in FOREIGN_MEMBERS})
    else:
        path = source / LAYER_FILES[name]
        frame = gpd.read_file(path, engine="pyogrio")
        with path.open(encoding="utf-8") as fh:
            raw = json.load(fh)
        frame.attrs.update({k: raw[k] for k in FOREIGN_MEMBERS if k in raw})
    for column in LIST_PROPERTIES.get(name, ()):
        if column in frame.columns:
            frame[column] = [_as_list(v) for v in frame[column]]
    return frame.to_crs(CRS) if frame.crs is not None else frame.set_crs(CRS)


def _as_list(value) -> list | None:
    """A list property as read back: GeoJSON gives an array, a GeoPackage the JSON text written."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return [float(v) for v in value]


def load_layers(geodata_dir: Path | str = DEFAULT_GEODATA_DIR) -> dict[str, gpd.GeoDataFrame]:
    """The city's layers: {"city", "districts", "grid"} -> GeoDataFrame (see `load_layer`)."""
    return {name: load_layer(name, geodata_dir) for name in LAYER_FILES}


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], target: Path | str) -> Path:
    """Write layers out: `target` ending in `.gpkg` gives one GeoPackage with a layer per name;
    anything else is a folder with `<file>.geojson` per layer (the geodata/ file names for the
    city's layers). Returns `target`."""
    target = Path(target)
    if target.suffix == ".gpkg":
        if target.exists():
            target.unlink()
        for name, frame in layers.items():
            meta = {k: json.dumps(v, ensure_ascii=False) for k, v in frame.attrs.items() if k in FOREIGN_MEMBERS}
            _listless(frame, name).to_crs(CRS).to_file(target, layer=name, driver="GPKG", engine="pyogrio",
                                                       layer_metadata=meta or None)
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name, frame in layers.items():
        path = target / LAYER_FILES.get(name, f"{name}.geojson")
        if path.exists():
            path.unlink()
        # the rings keep their winding as read (RFC7946=YES would rewind them); 5 decimals as geodata/
        _listless(frame, name).to_crs(CRS).to_file(path, driver="GeoJSON", engine="pyogrio", layer=name,
                                                   layer_options={"COORDINATE_PRECISION": "5", "WRITE_NAME": "NO"})
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
        for feature in data["features"]:
            props = feature["properties"]
            for column in LIST_PROPERTIES.get(name, ()):
                if isinstance(props.get(column), str):
                    props[column] = json.loads(props[column])
        extra = {k: v for k, v in frame.attrs.items() if k in FOREIGN_MEMBERS}
        data = {"type": data["type"], **extra, **{k: v for k, v in data.items() if k not in ("type", "crs")}}
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return target


def _listless(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """The frame with its list properties as JSON text (GDAL writes no arrays of numbers from pandas)."""
    columns = [c for c in LIST_PROPERTIES.get(name, ()) if c in frame.columns]
    if not columns:
        return frame
    out = frame.copy()
    for column in columns:
        out[column] = [None if v is None else json.dumps([float(x) for x in v]) for v in out[column]]
    return out


# ---- periods ------------------------------------------------------------------------------------

def days_ms(first: date, last: date) -> tuple[int, int]:
    """The days `first` to `last` (both included) in China time as [start, end) epoch ms."""
    lo = datetime(first.year, first.month, first.day, tzinfo=CHINA_TZ)
    hi = datetime(last.year, last.month, last.day, tzinfo=CHINA_TZ) + timedelta(days=1)
    return int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)


# ---- the exports' columns ---------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str  # ASCII column name in the file
    zh: str  # its Chinese name (a GeoPackage's field alias)
    en: str  # what it holds, in English


def _cols(*rows: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*row) for row in rows)


_DISTRICT = (("district", "区镇代码", "District id (geodata/districts.geojson)"),
             ("district_zh", "区镇", "District name, Chinese"), ("district_en", "区镇（英文）", "District name, English"),
             ("cell", "单元网格", "Unit-grid cell code (15 digits, geodata/README.md)"))

COLUMNS: dict[str, tuple[Column, ...]] = {
    "cases": _cols(
        ("id", "案件编号", "Case number"),
        ("class_code", "小类代码", "Minor class code (GB/T 30428 style, 5 digits)"),
        ("class_zh", "小类", "Minor class, Chinese"), ("class_en", "小类（英文）", "Minor class, English"),
        ("major_zh", "大类", "Major class, Chinese"), ("major_en", "大类（英文）", "Major class, English"),
        ("kind_zh", "部件/事件", "Component (部件) or event (事件), Chinese"), ("kind_en", "部件/事件（英文）", "Component or event, English"),
        ("stage", "阶段代码", "Workflow stage code"),
        ("stage_zh", "阶段", "Workflow stage, Chinese"), ("stage_en", "阶段（英文）", "Workflow stage, English"),
        *_DISTRICT,
        ("department", "部门代码", "Department the case is (or was last) dispatched to, id"),
        ("department_zh", "处置部门", "Department, Chinese"), ("department_en", "处置部门（英文）", "Department, English"),
        ("source", "来源代码", "Source code"),
        ("source_zh", "来源", "Source, Chinese"), ("source_en", "来源（英文）", "Source, English"),
        ("urgent", "紧急", "Urgent class (time limits in calendar hours)"),
        ("description", "描述", "Description as reported"), ("address", "地址", "Address as reported"),
        ("created_at", "上报时间", "Reported at"), ("due_at", "应结时间", "Due to close at (moves with approved deferrals)"),
        ("closed_at", "办结时间", "Closed at (empty while open or when ended otherwise)"),
        ("open", "未结", "Still open when exported"),
    ),
    "devices": _cols(
        ("id", "设备编号", "Device id"),
        ("kind", "设备类型代码", "Device kind id"),
        ("kind_zh", "设备类型", "Device kind, Chinese"), ("kind_en", "设备类型（英文）", "Device kind, English"),
        ("name", "设备名称", "Device name"),
        *_DISTRICT,
        ("online", "在线", "Online as last recorded"),
        ("state_zh", "状态", "State, Chinese (在线/离线)"), ("state_en", "状态（英文）", "State, English"),
        ("first_seen", "首次上线", "First seen (birth)"), ("updated_at", "最后更新", "Last registry change"),
        ("alarms", "告警次数", "Alarms the device raised in the period"),
    ),
    "alarms": _cols(
        ("alarm_id", "告警编号", "Alarm id (device|rule)"),
        ("rule", "规则代码", "Rule id"),
        ("rule_zh", "告警名称", "What was breached, Chinese"), ("rule_en", "告警名称（英文）", "What was breached, English"),
        ("severity", "级别代码", "Severity code"),
        ("severity_zh", "级别", "Severity, Chinese"), ("severity_en", "级别（英文）", "Severity, English"),
        ("kind", "设备类型代码", "Device kind id"),
        ("kind_zh", "设备类型", "Device kind, Chinese"), ("kind_en", "设备类型（英文）", "Device kind, English"),
        ("device_id", "设备编号", "Device id"), ("device_name", "设备名称", "Device name"),
        *_DISTRICT,
        ("value", "触发值", "Reading that raised it"), ("threshold", "阈值", "Threshold of the rule"),
        ("raised_at", "告警时间", "Raised at"), ("acknowledged_at", "确认时间", "Acknowledged at"),
        ("acknowledged_by", "确认人", "Acknowledged by (user name)"), ("cleared_at", "解除时间", "Cleared at"),
        ("minutes", "持续分钟", "Minutes from raised to cleared (empty while active)"),
    ),
}
NON_TEXT = {"urgent": bool, "open": bool, "online": bool, "alarms": "int64", "minutes": "float64"}
TIME_COLUMNS = {"created_at", "due_at", "closed_at", "first_seen", "updated_at", "raised_at", "acknowledged_at", "cleared_at"}


# ---- the record's rows, in people's words -----------------------------------------------------

QUERIES: dict[str, str] = {
    "cases": """
        SELECT id, class_code, stage, district, cell, department, source, urgent, lon, lat,
               coalesce(data->>'description', '') AS description, coalesce(data->>'address', '') AS address,
               created_at, due_at, closed_at
        FROM cases WHERE created_at >= %(start)s AND created_at < %(end)s AND (%(district)s = '' OR district = %(district)s)
        ORDER BY created_at, id""",
    "devices": """
        SELECT d.id, d.kind, d.name, d.district, d.cell, d.lon, d.lat, d.online, d.first_seen, d.updated_at,
               coalesce(a.n, 0) AS alarms
        FROM devices d
        LEFT JOIN (SELECT device_id, count(*) AS n FROM alarms
                   WHERE raised_at >= %(start)s AND raised_at < %(end)s GROUP BY device_id) a ON a.device_id = d.id
        WHERE d.first_seen < %(end)s AND (%(district)s = '' OR d.district = %(district)s) ORDER BY d.id""",
    "alarms": """
        SELECT a.alarm_id, coalesce(nullif(a.rule, ''), a.data->>'rule_id', '') AS rule, a.severity, a.kind,
               a.device_id, coalesce(d.name, '') AS device_name, a.district, coalesce(d.cell, '') AS cell,
               d.lon, d.lat, a.data->>'name_zh' AS name_zh, a.data->>'name_en' AS name_en,
               a.data->>'value' AS value, a.data->>'threshold' AS threshold,
               a.raised_at, a.acknowledged_at, a.acknowledged_by, a.cleared_at
        FROM alarms a LEFT JOIN devices d ON d.id = a.device_id
        WHERE a.raised_at >= %(start)s AND a.raised_at < %(end)s AND (%(district)s = '' OR a.district = %(district)s)
        ORDER BY a.raised_at, a.alarm_id""",
}


def _word(key: str, lang: str, fallback: str) -> str:
    entry = STRINGS.get(key)
    return (entry.get(lang) or entry["zh"]) if entry else fallback


class Words:
    """The people's words for the codes of the record, in Chinese and English."""

    def __init__(self, city: CityMap):
        self.districts = {d.id: (d.name_zh, d.name_en) for d in city.districts}
        self.departments = {d.id: (d.name_zh, d.name_en) for d in all_departments(city)}

    def district(self, code: str) -> tuple[str, str]:
        return self.districts.get(code, (code, code))

    def department(self, code: str) -> tuple[str, str]:
        return self.departments.get(code, (code, code)) if code else ("", "")

    @staticmethod
    def minor(code: str) -> tuple[str, str, str, str, str, str]:
        """(class zh, en, major zh, en, kind zh, en)."""
        m = case_catalog.MINOR_CLASSES.get(code)
        if m is None:
            return (code, code, "", "", "", "")
        major = case_catalog.major_of(m)
        kind = case_catalog.KIND_NAMES.get(m.kind, {"zh": m.kind, "en": m.kind})
        return (m.name_zh, m.name_en, major.name_zh, major.name_en, kind["zh"], kind["en"])

    @staticmethod
    def stage(code: str) -> tuple[str, str]:
        names = STAGE_NAMES.get(code)
        return (names["zh"], names["en"]) if names else (code, code)

    @staticmethod
    def source(code: str) -> tuple[str, str]:
        return (_word(f"case_source_{code}", "zh", code), _word(f"case_source_{code}", "en", code)) if code else ("", "")

    @staticmethod
    def kind(code: str) -> tuple[str, str]:
        k = KINDS.get(code)
        return (k.name_zh, k.name_en) if k else (code, code)

    @staticmethod
    def severity(code: str) -> tuple[str, str]:
        return (_word(f"severity_{code}", "zh", code), _word(f"severity_{code}", "en", code)) if code else ("", "")

    @staticmethod
    def rule(code: str, zh: str | None, en: str | None) -> tuple[str, str]:
        r = RULES_BY_ID.get(code)
        return (zh or (r.name_zh if r else code), en or (r.name_en if r else code))


def _points(lon: pd.Series, lat: pd.Series) -> gpd.GeoSeries:
    x, y = pd.to_numeric(lon, errors="coerce").to_numpy(float), pd.to_numeric(lat, errors="coerce").to_numpy(float)
    geoms = shapely.points(x, y)
    geoms[pd.isna(x) | pd.isna(y)] = None
    return gpd.GeoSeries(geoms, crs=CRS)


def _pairs(values: pd.Series, fn) -> tuple[list, list]:
    """`fn(code) -> (zh, en)` over the distinct values of a column, spread back to the rows."""
    table = {v: fn(v) for v in values.unique()}
    return [table[v][0] for v in values], [table[v][1] for v in values]


def _times(frame: pd.DataFrame, tz) -> None:
    for name in TIME_COLUMNS & set(frame.columns):
        frame[name] = pd.to_datetime(frame[name], utc=True).dt.tz_convert(tz).dt.as_unit("ms")


def _text(frame: pd.DataFrame, *names: str) -> None:
    for name in names:
        frame[name] = frame[name].fillna("").astype(str)


def _district_words(frame: pd.DataFrame, words: Words) -> None:
    frame["district_zh"], frame["district_en"] = _pairs(frame["district"], words.district)


def case_frame(rows: pd.DataFrame, city: CityMap, tz=CHINA_TZ) -> gpd.GeoDataFrame:
    """The cases rows of the record (QUERIES["cases"]) as the export's layer."""
    words = Words(city)
    f = rows.copy()
    _text(f, "id", "class_code", "stage", "district", "cell", "department", "source", "description", "address")
    minor = {c: words.minor(c) for c in f["class_code"].unique()}
    for i, name in enumerate(("class_zh", "class_en", "major_zh", "major_en", "kind_zh", "kind_en")):
        f[name] = [minor[c][i] for c in f["class_code"]]
    f["stage_zh"], f["stage_en"] = _pairs(f["stage"], words.stage)
    _district_words(f, words)
    f["department_zh"], f["department_en"] = _pairs(f["department"], words.department)
    f["source_zh"], f["source_en"] = _pairs(f["source"], words.source)
    f["urgent"] = f["urgent"].fillna(False).astype(bool)
    f["open"] = f["closed_at"].isna() & ~f["stage"].isin(("closed", "rejected", "voided", "merged"))
    _times(f, tz)
    return _layer(f, "cases")


def device_frame(rows: pd.DataFrame, city: CityMap, tz=CHINA_TZ) -> gpd.GeoDataFrame:
    """The devices rows of the record (QUERIES["devices"]) as the export's layer."""
    words = Words(city)
    f = rows.copy()
    _text(f, "id", "kind", "name", "district", "cell")
    f["kind_zh"], f["kind_en"] = _pairs(f["kind"], words.kind)
    _district_words(f, words)
    f["online"] = f["online"].fillna(False).astype(bool)
    f["state_zh"] = f["online"].map({True: "在线", False: "离线"}).astype(str)
    f["state_en"] = f["online"].map({True: "Online", False: "Offline"}).astype(str)
    f["alarms"] = f["alarms"].fillna(0).astype("int64")
    _times(f, tz)
    return _layer(f, "devices")


def alarm_frame(rows: pd.DataFrame, city: CityMap, tz=CHINA_TZ) -> gpd.GeoDataFrame:
    """The alarms rows of the record (QUERIES["alarms"]) as the export's layer."""
    words = Words(city)
    f = rows.copy()
    _text(f, "alarm_id", "rule", "severity", "kind", "device_id", "device_name", "district", "cell", "value", "threshold",
          "acknowledged_by")
    names = [words.rule(r, zh, en) for r, zh, en in zip(f["rule"], f["name_zh"], f["name_en"])]
    f["rule_zh"], f["rule_en"] = [n[0] for n in names], [n[1] for n in names]
    f["severity_zh"], f["severity_en"] = _pairs(f["severity"], words.severity)
    f["kind_zh"], f["kind_en"] = _pairs(f["kind"], words.kind)
    _district_words(f, words)
    raised, cleared = pd.to_datetime(f["raised_at"], utc=True), pd.to_datetime(f["cleared_at"], utc=True)
    f["minutes"] = ((cleared - raised).dt.total_seconds() / 60).round(1).astype("float64")
    _times(f, tz)
    return _layer(f, "alarms")


FRAMES = {"cases": case_frame, "devices": device_frame, "alarms": alarm_frame}


def _layer(f: pd.DataFrame, what: str) -> gpd.GeoDataFrame:
    names = [c.name for c in COLUMNS[what]]
    if f.empty:  # typed, so an empty export still has its columns (a GeoPackage keeps them; GeoJSON cannot)
        f = f.reindex(columns=[*names, "lon", "lat"])
        for name in names:
            if name not in TIME_COLUMNS:
                f[name] = f[name].astype(NON_TEXT.get(name, str))
    return gpd.GeoDataFrame(f[names].reset_index(drop=True), geometry=_points(f["lon"], f["lat"]).values, crs=CRS)


# ---- reading the record and writing the file ---------------------------------------------------

def record_chunks(conn, what: str, start, end, chunk: int = EXPORT_CHUNK, district: str = "") -> Iterator[pd.DataFrame]:
    """The record's rows of `what` for [start, end) (aware datetimes), of one district or all
    (""), in DataFrames of at most `chunk` rows, read through a server-side cursor (nothing more
    than a chunk in memory)."""
    with conn.cursor(name=f"ioc_export_{what}") as cur:
        cur.itersize = chunk
        cur.execute(QUERIES[what], {"start": start, "end": end, "district": district or ""})
        columns = None
        while True:
            rows = cur.fetchmany(chunk)
            if columns is None:
                columns = [d.name for d in cur.description]
            if not rows:
                break
            yield pd.DataFrame(rows, columns=columns)
            if len(rows) < chunk:
                break


def export(what: str, fmt: str, url: str, from_ms: int, to_ms: int, city: CityMap, path: Path | str,
           chunk: int = EXPORT_CHUNK, district: str = "") -> int:
    """Write the record's `what` (cases, devices, alarms) for [from_ms, to_ms), of one district or
    all (""), to `path` as `fmt` (gpkg, geojson), one layer named `what`. Returns the number of
    features written."""
    from datetime import timezone

    from ioc.record.db import connection

    if what not in EXPORTS or fmt not in FORMATS:
        raise ValueError(f"exports are {EXPORTS} as {tuple(FORMATS)}")
    start = datetime.fromtimestamp(from_ms / 1000, timezone.utc)
    end = datetime.fromtimestamp(to_ms / 1000, timezone.utc)
    with connection(url) as conn:
        return write_export(what, fmt, record_chunks(conn, what, start, end, chunk, district), city, path)


def write_export(what: str, fmt: str, chunks, city: CityMap, path: Path | str) -> int:
    """Write the rows of `chunks` (DataFrames of the record's query) to `path` as one layer (a
    file already there is replaced)."""
    path = Path(path)
    if path.exists():
        path.unlink()
    if fmt == "geojson":
        return _write_geojson(what, chunks, city, path)
    written, first = 0, True
    for rows in chunks:  # appended chunk by chunk: GDAL's GeoPackage appends in place
        frame = FRAMES[what](rows, city, "UTC")
        frame.to_file(path, layer=what, driver="GPKG", engine="pyogrio", geometry_type="Point", mode="w" if first else "a")
        written, first = written + len(frame), False
    if first:  # nothing in the period: the layer with its columns and no feature
        empty = FRAMES[what](pd.DataFrame(columns=_query_columns(what)), city, "UTC")
        empty.to_file(path, layer=what, driver="GPKG", engine="pyogrio", geometry_type="Point")
    describe_columns(path, what)
    return written


def _write_geojson(what: str, chunks, city: CityMap, path: Path) -> int:
    """GeoJSON (RFC 7946) written feature by feature as the chunks come (GDAL's GeoJSON driver
    rewrites the file on every append: minutes for a year of cases)."""
    written = 0
    with path.open("wb") as out:
        out.write(b'{"type":"FeatureCollection","name":' + orjson.dumps(what) + b',"features":[\n')
        for rows in chunks:
            frame = FRAMES[what](rows, city, CHINA_TZ)
            for feature in _features(frame):
                out.write((b",\n" if written else b"") + orjson.dumps(feature))
                written += 1
        out.write(b"\n]}\n")
    return written


def _features(frame: gpd.GeoDataFrame) -> Iterator[dict]:
    columns = [c for c in frame.columns if c != "geometry"]
    values = {}
    for name in columns:
        series = frame[name]
        if name in TIME_COLUMNS:
            values[name] = [None if pd.isna(v) else v.isoformat() for v in series]
        elif pd.api.types.is_bool_dtype(series):
            values[name] = [bool(v) for v in series]
        elif pd.api.types.is_integer_dtype(series):
            values[name] = [int(v) for v in series]
        elif pd.api.types.is_float_dtype(series):
            values[name] = [None if pd.isna(v) else float(v) for v in series]
        else:
            values[name] = [None if v is None or (isinstance(v, float) and v != v) else v for v in series.tolist()]
    xs, ys = shapely.get_x(frame.geometry.values), shapely.get_y(frame.geometry.values)
    missing = frame.geometry.isna().to_numpy()
    for i in range(len(frame)):
        geometry = None if missing[i] else {"type": "Point", "coordinates": [float(xs[i]), float(ys[i])]}
        yield {"type": "Feature", "properties": {name: values[name][i] for name in columns}, "geometry": geometry}


def _query_columns(what: str) -> list[str]:
    base = {"cases": ["id", "class_code", "stage", "district", "cell", "department", "source", "urgent", "lon", "lat",
                      "description", "address", "created_at", "due_at", "closed_at"],
            "devices": ["id", "kind", "name", "district", "cell", "lon", "lat", "online", "first_seen", "updated_at", "alarms"],
            "alarms": ["alarm_id", "rule", "severity", "kind", "device_id", "device_name", "district", "cell", "lon", "lat",
                       "name_zh", "name_en", "value", "threshold", "raised_at", "acknowledged_at", "acknowledged_by",
                       "cleared_at"]}
    return base[what]


def describe_columns(path: Path, table: str) -> None:
    """Record each column's Chinese name and English meaning in the GeoPackage's
    `gpkg_data_columns` (the schema extension): GDAL and QGIS read `name` as the field alias."""
    with sqlite3.connect(path) as db:
        db.execute("""CREATE TABLE IF NOT EXISTS gpkg_extensions (
            table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL,
            CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""")
        db.execute("""CREATE TABLE IF NOT EXISTS gpkg_data_columns (
            table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT,
            mime_type TEXT, constraint_name TEXT,
            CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE (table_name, name))""")
        db.execute("""CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
            constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN,
            max NUMERIC, max_is_inclusive BOOLEAN, description TEXT,
            CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))""")
        for ext_table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            db.execute("DELETE FROM gpkg_extensions WHERE table_name = ? AND extension_name = 'gpkg_schema'", (ext_table,))
            db.execute("INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
                       "VALUES (?, NULL, 'gpkg_schema', 'http://www.geopackage.org/spec/#extension_schema', 'read-write')",
                       (ext_table,))
        db.execute("DELETE FROM gpkg_data_columns WHERE table_name = ?", (table,))
        db.executemany("INSERT INTO gpkg_data_columns (table_name, column_name, name, title, description) VALUES (?, ?, ?, ?, ?)",
                       [(table, c.name, c.zh, f"{c.zh} {c.en}", c.en) for c in COLUMNS[table]])


def column_aliases(path: Path | str, table: str) -> dict[str, str]:
    """{column: Chinese name} as a GeoPackage export documents them (for tests and tools)."""
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT column_name, name FROM gpkg_data_columns WHERE table_name = ?", (table,)).fetchall())
