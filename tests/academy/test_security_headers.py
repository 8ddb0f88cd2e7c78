"""Content-Security-Policy and Permissions-Policy on every kind of page (staff portal,
parent portal, admin, API, API docs, the public verification page, error pages), the
API docs' Swagger UI served from the site itself, and the nonce only where a page asks
for one."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import path

from academy.common.security_headers import content_security_policy, permissions_policy
from tests.factories.academy import PASSWORD, UserFactory, staff_user
from tests.factories.academy import parent_user as make_parent_user

pytestmark = pytest.mark.django_db

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)


def _boom(request):
    raise RuntimeError("a bug")


# A view that fails, for the 500 page (this module is the URLconf of the test that uses it).
urlpatterns = [path("boom/", _boom)]


def _signed_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _policy(response) -> dict[str, list[str]]:
    return _policy_of(response["Content-Security-Policy"])


def _policy_of(value: str, *, without=()) -> dict[str, list[str]]:
    directives = {name: sources for name, *sources in (part.split() for part in value.split(";"))}
    return {name: sources for name, sources in directives.items() if name not in without}


def _assert_strict_headers(response):
    assert response["Content-Security-Policy"] == STRICT
    features = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in features


# --- every kind of page ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "url", "status"),
    [
        (None, "/staff/login/", 200),
        ("office", "/staff/", 200),
        ("office", "/staff/students/", 200),
        ("office", "/staff/no-such-page/", 404),
        (None, "/portal/login/", 200),
        ("parent", "/portal/", 200),
        ("parent", "/portal/money/", 200),
        ("account without a guardian", "/portal/", 403),
        (None, "/admin/login/", 200),
        ("admin", "/admin/", 200),
        ("admin", "/admin/academy/location/", 200),
        (None, "/verify/not-a-token/", None),
        (None, "/api/schema/", None),
        ("office", "/api/v1/locations/", 200),
        (None, "/", 302),
        (None, "/health/", None),
    ],
)
def test_every_kind_of_page_sends_the_strict_policy(request, client, location, who, url, status):
    # given a visitor of each kind
    users = {
        "office": lambda: staff_user(username="office", locations=[location]),
        "parent": lambda: request.getfixturevalue("family")[0].portal_user,
        "account without a guardian": lambda: make_parent_user(username="nobody"),
        "admin": lambda: UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    if who:
        _signed_in(client, users[who]())
    # when they open a page of that kind
    response = client.get(url)
    # then it carries the strict policy, with no nonce (no page there asks for one)
    if status is not None:
        assert response.status_code == status
    _assert_strict_headers(response)


def test_the_500_page_sends_the_strict_policy(client, settings):
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    _assert_strict_headers(response)


def test_the_other_security_headers_stay(client):
    response = client.get("/staff/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_browsable_api_may_use_style_attributes_and_nothing_more(client, location):
    # DRF's browsable API lays itself out with style="" attributes
    _signed_in(client, staff_user(username="office", locations=[location]))
    response = client.get("/api/v1/locations/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "text/html" in response["Content-Type"]
    policy = _policy(response)
    assert policy.pop("style-src-attr") == ["'unsafe-inline'"]
    # and its code highlighting rules (an inline <style>) run by the nonce
    nonce = re.findall(r'<style nonce="([^"]+)">', response.content.decode())
    assert len(nonce) == 1
    assert policy.pop("style-src") == ["'self'", f"'nonce-{nonce[0]}'"]
    assert policy.pop("script-src") == ["'self'", f"'nonce-{nonce[0]}'"]  # the one nonce of the response
    assert policy == _policy_of(STRICT, without=["style-src", "script-src"])
    # while the JSON of the same URL has the plain policy
    assert client.get("/api/v1/locations/")["Content-Security-Policy"] == STRICT


def test_djangos_error_pages_may_run_inline_code_while_debugging_only(client, settings):
    # DEBUG on: the technical 404 page is styled inline
    settings.DEBUG = True
    policy = _policy(client.get("/staff/no-such-page/"))
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert client.get("/staff/login/")["Content-Security-Policy"] == STRICT
    # DEBUG off: the strict policy on the same page
    settings.DEBUG = False
    assert client.get("/staff/no-such-page/")["Content-Security-Policy"] == STRICT


# --- the API docs ----------------------------------------------------------------------


def test_the_api_docs_load_nothing_from_another_origin(client, settings, location):
    settings.WHITENOISE_USE_FINDERS = True  # static files served as under ``make run``
    # given a member of staff opening the API docs
    _signed_in(client, staff_user(username="office", locations=[location]))
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # then every asset is a path on the site: Swagger UI's files come from the sidecar's static files
    assert re.findall(r"https?://", html) == []
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 5  # icon, two stylesheets, two scripts
    assert all(asset.startswith("/static/") for asset in assets), assets
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"):
        assert f"/static/drf_spectacular_sidecar/swagger-ui-dist/{name}" in assets
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}")
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    # and no inline style: the page's own rules are a static file
    assert "<style" not in html
    assert "/static/css/api-docs.css" in assets


def test_the_api_docs_start_up_script_runs_by_its_nonce(client, location):
    _signed_in(client, staff_user(username="office", locations=[location]))
    response = client.get("/api/docs/")
    html = response.content.decode()
    # the one inline script carries a nonce, and the header allows that nonce (scripts and styles)
    inline = re.findall(r'<script nonce="([^"]+)">', html)
    assert len(inline) == 1
    nonce = inline[0]
    assert len(nonce) >= 22
    policy = _policy(response)
    assert policy["script-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert html.count("<script") == 3  # the two sidecar files and the start-up script
    # and the next request gets another nonce
    assert f"'nonce-{nonce}'" not in client.get("/api/docs/")["Content-Security-Policy"]


# --- settings -------------------------------------------------------------------------


def test_report_only_and_a_report_uri_come_from_the_settings(client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = True
    settings.CONTENT_SECURITY_POLICY_REPORT_URI = "/csp-reports/"
    response = client.get("/staff/login/")
    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"] == f"{STRICT}; report-uri /csp-reports/"


def test_the_policy_and_the_features_are_settings(client, settings):
    settings.CONTENT_SECURITY_POLICY = {"default-src": ["'self'"], "img-src": ["'self'", "https://maps.example.org"]}
    settings.PERMISSIONS_POLICY = {"camera": [], "geolocation": ["self"]}
    response = client.get("/staff/login/")
    assert response["Content-Security-Policy"] == "default-src 'self'; img-src 'self' https://maps.example.org"
    assert response["Permissions-Policy"] == "camera=(), geolocation=(self)"


def test_the_header_values_are_built_in_order():
    policy = {"default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"]}
    assert content_security_policy(policy, nonce="abc", extra={"script-src": ["'self'", "blob:"]}) == (
        "default-src 'self'; script-src 'self' blob: 'nonce-abc'; style-src 'self' 'nonce-abc'"
    )
    assert policy["script-src"] == ["'self'"]  # the setting itself is left alone
    assert permissions_policy({"camera": [], "fullscreen": ["self"]}) == "camera=(), fullscreen=(self)"
