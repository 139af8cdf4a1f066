"""The inspector's report page and the installable web app (ioc.web.field): who may open
/report, the manifest, the service worker's headers and scope, the page's static files, the
district outlines, and a report sent twice with one report_id making one case."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from ioc.domain import case_catalog
from ioc.web import field
from ioc.web.app import create_app
from tests.conftest import add_test_user

SECRET_KEY = "test-secret-key-report-page-0123456789"


class Web:
    def __init__(self, settings):
        self.app = create_app(settings.replace(secret_key=SECRET_KEY))
        self.client = self.app.server.test_client()
        self.users = self.app.server.extensions["ioc_users"]

    def sign_in(self, *roles: str, department: str = "") -> str:
        name, password = add_test_user(self.users, *roles, department=department)
        page = self.client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        response = self.client.post("/login", data={"name": name, "password": password, "csrf": csrf})
        assert response.status_code == 302
        return name


@pytest.fixture
def web(settings):
    return Web(settings)


def page_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1))


# ---- who may open /report ------------------------------------------------------------------------

def test_an_inspector_gets_the_report_page(web):
    web.sign_in("inspector")
    response = web.client.get("/report")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'id="report-form"' in html and "巡查上报" in html
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html


def test_a_handler_is_sent_to_its_home_page(web):
    web.sign_in("handler", department="water_affairs")
    response = web.client.get("/report")
    assert response.status_code == 302 and response.headers["Location"] == "/tasks"


def test_a_signed_out_visitor_is_sent_to_the_sign_in_page(web):
    response = web.client.get("/report")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/report"


def test_the_page_runs_no_inline_script_and_may_ask_for_the_position(web):
    web.sign_in("inspector")
    response = web.client.get("/report")
    html = response.get_data(as_text=True)
    inline = [attrs for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S) if body.strip()]
    assert inline == [' type="application/json" id="report-data"']  # data, never executed
    assert "style=" not in html and "<style" not in html
    assert "geolocation=(self)" in response.headers["Permissions-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_page_carries_the_catalog_the_short_list_and_both_languages(web):
    web.sign_in("inspector")
    data = page_data(web.client.get("/report?lang=en").get_data(as_text=True))
    assert data["lang"] == "en"
    assert {c["code"] for c in data["classes"]} == set(case_catalog.MINOR_CLASSES)
    assert data["common"] == list(case_catalog.COMMON_CLASSES)
    assert data["texts"]["zh"]["report_title"] == "巡查上报" and data["texts"]["en"]["report_title"] == "Report a problem"
    assert data["districts_url"] == "/api/v1/map/districts" and data["tile_url"] == ""


def test_the_portal_navigation_links_inspectors_to_the_report_page_with_a_full_page_load():
    from dash import dcc, html

    from layouts.shell import nav_links
    from ioc.web import pages

    links = nav_links([("inspections", "/inspections"), ("report", "/report")], "zh", pages.FULL_PAGE_PATHS)
    assert isinstance(links[0], dcc.Link) and isinstance(links[1], html.A)
    assert links[1].href == "/report" and links[1].children == "巡查上报"


# ---- the web app ---------------------------------------------------------------------------------

def test_the_manifest_is_open_and_names_the_app_its_start_and_its_icons(web):
    response = web.client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    body = response.get_json(force=True)
    assert body["name"] == "张家港城市运行" and body["short_name"]
    assert body["start_url"] == "/report" and body["display"] == "standalone" and body["scope"] == "/"
    assert body["theme_color"] == body["background_color"] == "#0b1a2e"
    assert {(i["src"], i["sizes"]) for i in body["icons"]} == {("/field/icon-192.png", "192x192"), ("/field/icon-512.png", "512x512")}
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("size", [192, 512])
def test_the_icons_are_pngs_of_their_size(web, size):
    from io import BytesIO

    from PIL import Image

    response = web.client.get(f"/field/icon-{size}.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert Image.open(BytesIO(response.data)).size == (size, size)


def test_the_service_worker_is_served_at_the_root_uncached_with_the_shell_it_keeps(web):
    response = web.client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype in ("application/javascript", "text/javascript")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    body = response.get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))
    assert shell == field.shell_urls() and "/report" in shell and "/api/v1/map/districts" in shell
    assert f"ioc-field-{field.shell_version()}" in body
    assert "request.method !== 'GET'" in body  # posts pass through, never cached


def test_the_shell_files_are_cacheable_and_open(web):
    for url in field.shell_urls():
        if url.startswith("/field/"):
            response = web.client.get(url)
            assert response.status_code == 200, url
            assert "no-store" not in response.headers["Cache-Control"] and "max-age" in response.headers["Cache-Control"]


def test_leaflet_is_vendored_with_its_licence(web):
    assert 't.version="1.9.4"' in web.client.get("/field/leaflet/leaflet.js").get_data(as_text=True)
    assert "BSD 2-Clause License" in web.client.get("/field/leaflet/LICENSE").get_data(as_text=True)


def test_an_unknown_field_file_is_a_plain_404(web):
    assert web.client.get("/field/nothing.js").status_code == 404
    assert web.client.get("/field/../app.py").status_code == 404


def test_the_portal_pages_link_the_manifest(web):
    web.sign_in("operator")
    html = web.client.get("/").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '<meta name="theme-color" content="#0b1a2e">' in html


def test_the_district_outlines_are_served_to_a_signed_in_principal_only(web):
    assert web.client.get("/api/v1/map/districts").status_code == 401
    web.sign_in("inspector")
    response = web.client.get("/api/v1/map/districts")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert response.get_json(force=True)["type"] == "FeatureCollection"


# ---- what the page sends -------------------------------------------------------------------------

def test_one_report_id_sent_twice_makes_one_inspector_case(web):
    web.sign_in("inspector")
    body = {"report_id": str(uuid.uuid4()), "category": "20101", "lat": 31.87, "lon": 120.55, "accuracy": 12,
            "description": "路口东侧垃圾堆放", "source": "inspector"}
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    first = web.client.post("/api/v1/cases", json=body, headers=headers)
    again = web.client.post("/api/v1/cases", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["id"] == again.get_json()["id"]
    assert first.get_json()["source"] == "inspector"
    listed = web.client.get("/api/v1/cases?source=inspector").get_json()
    assert listed["total"] == 1
