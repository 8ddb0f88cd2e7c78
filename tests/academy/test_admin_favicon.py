"""The admin shows the academy's icon, and /favicon.ico (what a browser asks for on a
page without an icon link) is not a 404."""

import re

import pytest
from django.contrib.staticfiles import finders

from tests.factories.academy import UserFactory


@pytest.fixture
def static_served(settings):
    """Static files served from the finders, as under ``make run`` (DEBUG=1)."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True


def _icons(html: str) -> list[str]:
    return re.findall(r'<link rel="icon" href="([^"]+)"', html)


@pytest.mark.parametrize("signed_in", [False, True])
def test_admin_pages_link_an_icon_that_resolves(client, db, static_served, signed_in):
    if signed_in:
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
        pages = ["/admin/", "/admin/students/student/", "/admin/finance/invoice/"]
    else:
        pages = ["/admin/login/"]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        icons = _icons(response.content.decode())
        assert "/static/img/favicon.ico" in icons, page
        for icon in icons:
            assert client.get(icon).status_code == 200, icon


def test_favicon_ico_is_not_a_404(client, db, static_served):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.ico"
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content if icon.streaming else [icon.content])[:4] == b"\x00\x00\x01\x00"


def test_the_icon_ships_in_static():
    assert finders.find("img/favicon.ico") is not None
