"""Hostile requests to `POST /api/v1/cases` and `POST /open311/v2/requests.json` (the real web app
through Flask's test client, private Redis): a refused request gets a 4xx JSON error naming the
field and stores nothing; script, SQL and template text is stored as the text sent and comes back
JSON-escaped (application/json, nosniff), never as live markup in an HTML page."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ioc.adapters.embedded import mqtt_broker, redis_server
from ioc.adapters.user_store import Actor
from ioc.settings import Settings
from ioc.web.app import create_app
from tests.resilience.fuzz_corpus import SCRIPT_TEXTS

pytestmark = [pytest.mark.integration]

YANGSHE = {"lat": 31.872, "lon": 120.556}
ADMIN = Actor("test", "admin")
API, OPEN311 = "/api/v1/cases", "/open311/v2/requests.json"


class Web:
    def __init__(self, app):
        self.app = app
        self.client = app.server.test_client()
        users = app.server.extensions["ioc_users"]
        self.keys = {}
        for name, roles in (("dispatcher", ["dispatcher"]), ("hotline", ["reporter"]), ("leader", ["leader"]),
                            ("operator", ["operator"])):
            _token, secret = users.create_token(f"fz-{name}", roles, ADMIN)
            self.keys[name] = secret

    def headers(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def count(self) -> int:
        return len(self.app.server.extensions["ioc_cases"].store.all())


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-web")
    redis, broker = redis_server(tmp / "redis").start(), mqtt_broker(tmp / "mqtt").start()
    app = create_app(Settings.from_env(env={}, redis_url=redis.url, mqtt_url=broker.url, data_dir=tmp,
                                       secret_key="fuzz-web-secret-key-0123456789"))
    yield Web(app)
    broker.stop()
    redis.stop()


def api_error(response, statuses=(400,)) -> dict:
    text = response.get_data(as_text=True)
    assert response.status_code in statuses, (response.status_code, text[:300])
    assert response.mimetype == "application/json" and "Traceback" not in text
    return response.get_json()


def open311_error(response, statuses=(400,)) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code in statuses, (response.status_code, text[:300])
    assert response.mimetype == "application/json" and "Traceback" not in text
    (error,) = response.get_json()
    assert error["code"] == response.status_code and error["description"]
    return error["description"]


# ---- POST /api/v1/cases --------------------------------------------------------------------------

API_BAD = [
    ("no category", {**YANGSHE}, "category"),
    ("no lat", {"category": "10101", "lon": 120.556}, "lat"),
    ("category unknown", {"category": "99999", **YANGSHE}, "category"),
    ("category object", {"category": {"$ne": None}, **YANGSHE}, "category"),
    ("category sql", {"category": "10101' OR 1=1 --", **YANGSHE}, "category"),
    ("lat string", {"category": "10101", "lat": "31.872", "lon": 120.556}, "lat"),
    ("lat boolean", {"category": "10101", "lat": True, "lon": 120.556}, "lat"),
    ("lat null", {"category": "10101", "lat": None, "lon": 120.556}, "lat"),
    ("lat list", {"category": "10101", "lat": [31.872], "lon": 120.556}, "lat"),
    ("lat 2**70", {"category": "10101", "lat": 2**70, "lon": 120.556}, "lat"),
    ("lat 10**400", {"category": "10101", "lat": 10**400, "lon": 120.556}, "lat"),
    ("lon out of range", {"category": "10101", "lat": 31.872, "lon": 181}, "lon"),
    ("outside the city", {"category": "10101", "lat": 39.9, "lon": 116.4}, "lat"),
    ("null island", {"category": "10101", "lat": 0, "lon": 0}, "lat"),
    ("description 4,001", {"category": "10101", **YANGSHE, "description": "x" * 4001}, "description"),
    ("description 100,000", {"category": "10101", **YANGSHE, "description": "井" * 100_000}, "description"),
    ("description number", {"category": "10101", **YANGSHE, "description": 42}, "description"),
    ("description list", {"category": "10101", **YANGSHE, "description": ["a"]}, "description"),
    ("address object", {"category": "10101", **YANGSHE, "address": {"a": 1}}, "address"),
    ("report_id boolean", {"category": "10101", **YANGSHE, "report_id": True}, "report_id"),
    ("report_id object", {"category": "10101", **YANGSHE, "report_id": {"id": 7}}, "report_id"),
    ("report_id 129", {"category": "10101", **YANGSHE, "report_id": "r" * 129}, "report_id"),
    ("report_id 10**130", {"category": "10101", **YANGSHE, "report_id": 10**130}, "report_id"),
    ("report_id control character", {"category": "10101", **YANGSHE, "report_id": "a\u0000b"}, "report_id"),
    ("reporter 101", {"category": "10101", **YANGSHE, "reporter": "王" * 101}, "reporter"),
    ("address 201", {"category": "10101", **YANGSHE, "address": "路" * 201}, "address"),
    ("media relative", {"category": "10101", **YANGSHE, "media": ["/x"]}, "media"),
    ("media scheme-relative", {"category": "10101", **YANGSHE, "media": ["//evil.example/x"]}, "media"),
    ("media without a host", {"category": "10101", **YANGSHE, "media": ["https:///x"]}, "media"),
    ("media ftp", {"category": "10101", **YANGSHE, "media": ["ftp://files.example/x.jpg"]}, "media"),
    ("media with a space", {"category": "10101", **YANGSHE, "media": ["https://img.example/a b.jpg"]}, "media"),
    ("media 501 characters", {"category": "10101", **YANGSHE, "media": ["https://img.example/" + "a" * 481]}, "media"),
    ("media number", {"category": "10101", **YANGSHE, "media": 5}, "media"),
    ("media boolean", {"category": "10101", **YANGSHE, "media": True}, "media"),
    ("media string", {"category": "10101", **YANGSHE, "media": "https://x/1.jpg"}, "media"),
    ("media objects", {"category": "10101", **YANGSHE, "media": [{"url": "https://x"}]}, "media"),
    ("media javascript", {"category": "10101", **YANGSHE, "media": ["javascript:alert(1)"]}, "media"),
    ("media 11", {"category": "10101", **YANGSHE, "media": ["https://x/"] * 11}, "media"),
    ("source with slash", {"category": "10101", **YANGSHE, "source": "../../admin"}, "source"),
    ("source object", {"category": "10101", **YANGSHE, "source": {"x": 1}}, "source"),
]


@pytest.mark.parametrize("name", [n for n, _b, _f in API_BAD])
def test_a_bad_api_report_is_a_400_naming_the_field_and_nothing_is_stored(web, name):
    body, field = next((b, f) for n, b, f in API_BAD if n == name)
    before = web.count()
    error = api_error(web.client.post(API, data=json.dumps(body), content_type="application/json", headers=web.headers("dispatcher")))
    assert error["error"] == "bad_request" and error["field"] == field
    assert web.count() == before


@pytest.mark.parametrize("raw, content_type", [
    (b"", "application/json"), (b"not json", "application/json"), (b"[1, 2]", "application/json"), (b'"x"', "application/json"),
    (b"null", "application/json"), (b"\xff\xfe", "application/json"), (b"category=10101&lat=31.8&lon=120.5", "application/x-www-form-urlencoded"),
    (b'{"category": "10101", "lat": NaN, "lon": 120.556}', "application/json"),
    (b'{"category": "10101", "lat": Infinity, "lon": 120.556}', "application/json"),
    (b'{"category": "10101", "lat": 1e400, "lon": 120.556}', "application/json"),
    (b'{"category": "10101", "lat": ' + b"[" * 100_000 + b"]" * 100_000 + b', "lon": 120.556}', "application/json"),
    (b"[" * 300_000, "application/json"),
])
def test_a_body_that_is_not_a_json_object_or_has_no_finite_coordinates_is_refused(web, raw, content_type):
    before = web.count()
    error = api_error(web.client.post(API, data=raw, content_type=content_type, headers=web.headers("dispatcher")))
    assert error["error"] == "bad_request" and error.get("field", "body") in ("body", "lat") or "nested" in error["message"]
    assert web.count() == before


def test_a_utf8_bom_before_a_json_body_is_tolerated_over_http(web):
    """Werkzeug's JSON reader skips a UTF-8 byte order mark (RFC 8259 §8.1 allows it); the MQTT
    edge is stricter and dead-letters it as not_json."""
    raw = b'\xef\xbb\xbf{"category": "10101", "lat": 31.872, "lon": 120.556, "report_id": "fz-bom"}'
    response = web.client.post(API, data=raw, content_type="application/json", headers=web.headers("dispatcher"))
    assert response.status_code == 201 and response.get_json()["report_id"] == "fz-bom"


def test_a_report_of_exactly_4000_characters_is_taken(web):
    response = web.client.post(API, json={"category": "10105", **YANGSHE, "description": "灯" * 4000}, headers=web.headers("dispatcher"))
    assert response.status_code == 201 and len(response.get_json()["description"]) == 4000


def test_without_a_key_or_with_a_role_that_may_not_report_nothing_is_stored(web):
    before = web.count()
    body = {"category": "10101", **YANGSHE}
    assert api_error(web.client.post(API, json=body), (401,))["error"] == "unauthorized"
    assert api_error(web.client.post(API, json=body, headers=web.headers("operator")), (403,))["error"] == "forbidden"
    assert api_error(web.client.post(API, json=body, headers={"Authorization": "Bearer ' OR 1=1 --"}), (401,))
    assert web.count() == before


@pytest.mark.parametrize("text", SCRIPT_TEXTS)
def test_script_and_sql_text_is_stored_verbatim_and_comes_back_json_escaped(web, text):
    made = web.client.post(API, json={"category": "10105", **YANGSHE, "description": text, "address": text, "reporter": text},
                           headers=web.headers("dispatcher"))
    assert made.status_code == 201, made.get_data(as_text=True)[:300]
    case_id = made.get_json()["id"]
    for response in (made, web.client.get(f"{API}/{case_id}", headers=web.headers("leader")),
                     web.client.get(f"/open311/v2/requests/{case_id}.json", headers=web.headers("leader"))):
        assert response.mimetype == "application/json"
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
        body = response.get_json()
        one = body[0] if isinstance(body, list) else body
        assert one["description"] == text.strip() and one.get("address", text) == text  # text, not evaluated ({{7*7}} stays)
        assert "49" not in json.dumps(one["description"]) or "49" in text


def test_the_portal_never_renders_submitted_text_as_markup(web):
    """The sign-in page echoes the name typed in: escaped, so `<script>` never comes back live."""
    for text in SCRIPT_TEXTS:
        page = web.client.post("/login", data={"name": text, "password": "wrong-password-1"})
        html = page.get_data(as_text=True)
        assert page.status_code in (400, 401) and page.mimetype == "text/html"
        assert "<script>alert" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
        shown = re.sub(r'name="csrf" value="[^"]*"', "", html)  # not the form's random CSRF token (it may hold "49")
        assert "{{7*7}}" not in text or "49" not in re.sub(r"\d{3,}", "", shown)
    nxt = web.client.get("/login?next=/%22%3E%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)" not in nxt


# ---- POST /open311/v2/requests.json --------------------------------------------------------------------

OPEN311_BAD = [
    ("no service_code", {"lat": "31.872", "long": "120.556"}, "service_code"),
    ("no lat", {"service_code": "10105", "long": "120.556"}, "lat"),
    ("service_code unknown", {"service_code": "99999", "lat": "31.872", "long": "120.556"}, "service_code"),
    ("service_code sql", {"service_code": "10105' OR 1=1 --", "lat": "31.872", "long": "120.556"}, "service_code"),
    ("lat words", {"service_code": "10105", "lat": "north", "long": "120.556"}, "lat"),
    ("lat nan", {"service_code": "10105", "lat": "nan", "long": "120.556"}, "lat"),
    ("lat inf", {"service_code": "10105", "lat": "inf", "long": "120.556"}, "lat"),
    ("lat 1e400", {"service_code": "10105", "lat": "1e400", "long": "120.556"}, "lat"),
    ("long -inf", {"service_code": "10105", "lat": "31.872", "long": "-Infinity"}, "long"),
    ("outside the city", {"service_code": "10105", "lat": "39.9", "long": "116.4"}, "outside"),
    ("description 4,001", {"service_code": "10105", "lat": "31.872", "long": "120.556", "description": "x" * 4001}, "description"),
    ("media_url javascript", {"service_code": "10105", "lat": "31.872", "long": "120.556", "media_url": "javascript:alert(1)"}, "media"),
]
OPEN311_BAD_JSON = [
    ("lat 10**400", {"service_code": "10105", "lat": 10**400, "long": 120.556}, "lat"),
    ("lat list", {"service_code": "10105", "lat": [31.872], "long": 120.556}, "lat"),
    ("lat boolean", {"service_code": "10105", "lat": True, "long": 120.556}, "lat"),
    ("service_code object", {"service_code": {"$ne": 1}, "lat": 31.872, "long": 120.556}, "service_code"),
    ("description list", {"service_code": "10105", "lat": 31.872, "long": 120.556, "description": ["<b>x</b>"]}, "description"),
    ("first_name object", {"service_code": "10105", "lat": 31.872, "long": 120.556, "first_name": {"a": 1}}, "first_name"),
    ("media_url list", {"service_code": "10105", "lat": 31.872, "long": 120.556, "media_url": ["https://x"]}, "media_url"),
]


@pytest.mark.parametrize("name", [n for n, _b, _w in OPEN311_BAD])
def test_a_bad_open311_form_is_a_400_naming_the_field_and_nothing_is_stored(web, name):
    form, words = next((b, w) for n, b, w in OPEN311_BAD if n == name)
    before = web.count()
    description = open311_error(web.client.post(OPEN311, data={"api_key": web.keys["hotline"], **form}))
    assert words in description
    assert web.count() == before


@pytest.mark.parametrize("name", [n for n, _b, _w in OPEN311_BAD_JSON])
def test_a_bad_open311_json_body_is_a_400_naming_the_field_and_nothing_is_stored(web, name):
    body, words = next((b, w) for n, b, w in OPEN311_BAD_JSON if n == name)
    before = web.count()
    description = open311_error(web.client.post(OPEN311, data=json.dumps({"api_key": web.keys["hotline"], **body}),
                                                content_type="application/json"))
    assert words in description
    assert web.count() == before


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b"not json", b"[" * 300_000, b'{"api_key": ' + b"[" * 100_000])
def test_an_open311_body_that_is_not_an_object_is_refused_in_the_standard_error_list(web, raw):
    before = web.count()
    open311_error(web.client.post(OPEN311, data=raw, content_type="application/json", headers=web.headers("hotline")), (400,))
    assert web.count() == before


# ---- hypothesis over both doors --------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=12), st.sampled_from(["10101", "10105", "31.872", "120.556", "https://x/1.jpg", "<script>", ""]))
values = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)),
                      max_leaves=6)
api_bodies = st.fixed_dictionaries(
    {}, optional={"category": st.one_of(st.sampled_from(["10101", "10105", "99999"]), values),
                  "lat": st.one_of(st.floats(31.7, 32.1), values), "lon": st.one_of(st.floats(120.4, 120.9), values),
                  "description": values, "report_id": values, "address": values, "reporter": values, "media": values,
                  "source": values, "junk": values})
open311_bodies = st.fixed_dictionaries(
    {}, optional={"service_code": st.one_of(st.sampled_from(["10101", "10105", "99999"]), values),
                  "lat": st.one_of(st.floats(31.7, 32.1), values), "long": st.one_of(st.floats(120.4, 120.9), values),
                  "description": values, "address_string": values, "media_url": values, "first_name": values,
                  "email": values, "account_id": values, "report_id": values})
HYPO = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@HYPO
@given(body=api_bodies)
def test_generated_api_reports_are_created_or_refused_with_a_field_never_500(web, body):
    before = web.count()
    response = web.client.post(API, data=json.dumps(body), content_type="application/json", headers=web.headers("dispatcher"))
    assert response.status_code in (200, 201, 400), (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    data = response.get_json()
    if response.status_code == 201:
        assert web.count() == before + 1 and data["created"] is True and data["category" if "category" in data else "class_code"]
    elif response.status_code == 200:
        assert web.count() == before and data["created"] is False
    else:
        assert data["error"] == "bad_request" and isinstance(data.get("field"), str) and data["field"]
        assert web.count() == before


@HYPO
@given(body=open311_bodies, as_form=st.booleans())
def test_generated_open311_requests_are_filed_or_refused_in_the_standard_list_never_500(web, body, as_form):
    before = web.count()
    if as_form:
        form = {k: ("" if v is None else str(v)) for k, v in body.items() if not isinstance(v, (dict, list))}
        response = web.client.post(OPEN311, data={"api_key": web.keys["hotline"], **form})
    else:
        response = web.client.post(OPEN311, data=json.dumps({"api_key": web.keys["hotline"], **body}), content_type="application/json")
    assert response.status_code in (201, 400), (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    (item,) = response.get_json()
    if response.status_code == 201:
        assert item["service_request_id"] and web.count() in (before, before + 1)  # a repeated report_id files once
    else:
        assert item["code"] == 400 and item["description"]
        assert web.count() == before
