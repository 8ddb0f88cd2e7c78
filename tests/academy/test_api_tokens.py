"""API tokens: an expiry (``API_TOKEN_DAYS``), rotation and revocation through the API
and on each user's own token page (staff portal and parent portal)."""

import datetime

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from academy.roles import FINANCE, INSTRUCTOR
from tests.factories.academy import PASSWORD, staff_user

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
STAFF_PAGE = "/staff/account/api-token/"
PORTAL_PAGE = "/portal/my-details/api-token/"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def obtain(username: str) -> dict:
    response = APIClient().post(TOKEN_URL, {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


def api(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def age(key: str, days: float) -> None:
    Token.objects.filter(key=key).update(created=timezone.now() - datetime.timedelta(days=days))


def test_a_token_says_when_it_expires(office, settings):
    settings.API_TOKEN_DAYS = 30
    body = obtain("office")
    token = Token.objects.get(user=office)
    assert body["token"] == token.key
    expires = datetime.datetime.fromisoformat(body["expires"])
    assert expires == token.created + datetime.timedelta(days=30)


def test_an_expired_token_answers_401_saying_so_and_a_login_gives_a_new_one(office, settings):
    settings.API_TOKEN_DAYS = 30
    old = obtain("office")["token"]
    assert api(old).get("/api/v1/me/").status_code == 200  # now cached with its user
    age(old, 31)
    cache.clear()  # (the cached copy has the old date; a changed row is read again below)
    refused = api(old).get("/api/v1/me/")
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    new = obtain("office")["token"]
    assert new != old and api(new).get("/api/v1/me/").status_code == 200
    assert Token.objects.filter(user=office).count() == 1


def test_a_cached_token_expires_too(office, settings):
    """The cache keeps the token with its issue date: the expiry is checked on every request."""
    settings.API_TOKEN_DAYS = 30
    key = obtain("office")["token"]
    assert api(key).get("/api/v1/me/").status_code == 200
    settings.API_TOKEN_DAYS = 0  # every token issued before now has expired
    assert api(key).get("/api/v1/me/").status_code == 401


def test_rotating_gives_a_new_token_and_the_old_stops_at_once(office):
    old = obtain("office")["token"]
    assert api(old).get("/api/v1/me/").status_code == 200
    response = api(old).post(f"{TOKEN_URL}rotate/")
    assert response.status_code == 200
    new = response.json()["token"]
    assert new != old and "expires" in response.json()
    assert api(old).get("/api/v1/me/").status_code == 401
    assert api(new).get("/api/v1/me/").status_code == 200


def test_revoking_stops_the_token(office):
    key = obtain("office")["token"]
    assert api(key).get("/api/v1/me/").status_code == 200
    assert api(key).post(f"{TOKEN_URL}revoke/").status_code == 204
    assert not Token.objects.filter(user=office).exists()
    assert api(key).get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("path", ["rotate/", "revoke/"])
def test_rotate_and_revoke_need_a_login(path):
    assert api(None).post(f"{TOKEN_URL}{path}").status_code == 401
    assert not Token.objects.exists()


def test_a_parent_rotates_their_own_token_only(family, office):
    office_key = obtain("office")["token"]
    parent_key = obtain("parent")["token"]
    new = api(parent_key).post(f"{TOKEN_URL}rotate/").json()["token"]
    assert Token.objects.get(user__username="parent").key == new
    assert Token.objects.get(user=office).key == office_key  # nobody else's moved


# --- the token pages -------------------------------------------------------------------------


def browser(username: str | None) -> Client:
    client = Client()
    if username:
        assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def staff_roles(location, office, academy_admin):
    staff_user(INSTRUCTOR, username="teacher", locations=[location])
    staff_user(FINANCE, username="bursar", locations=[location])
    return ["office", "academy-admin", "teacher", "bursar"]


def test_the_staff_page_for_anonymous_and_parents(family):
    assert browser(None).get(STAFF_PAGE).url.startswith("/staff/login/")
    assert browser("parent").get(STAFF_PAGE).url == "/portal/"
    assert browser(None).get(PORTAL_PAGE).url.startswith("/portal/login/")


def test_every_staff_role_sees_and_manages_only_their_own_token(staff_roles, django_assert_max_num_queries):
    for username in staff_roles:
        others = {t.user_id: t.key for t in Token.objects.all()}
        client = browser(username)
        page = client.get(STAFF_PAGE)
        assert page.status_code == 200 and b'data-testid="api-token-none"' in page.content
        made = client.post(STAFF_PAGE, {"action": "rotate"})
        key = Token.objects.get(user__username=username).key
        assert made.status_code == 200 and key.encode() in made.content  # shown once, on the answer
        again = client.get(STAFF_PAGE)
        assert key.encode() not in again.content and key[-4:].encode() in again.content
        for other_key in others.values():
            assert other_key.encode() not in made.content and other_key.encode() not in again.content
        assert {t.user_id: t.key for t in Token.objects.exclude(key=key)} == others  # nobody else's moved
        with django_assert_max_num_queries(12):
            client.get(STAFF_PAGE)
    client = browser("office")
    key = Token.objects.get(user__username="office").key
    assert client.post(STAFF_PAGE, {"action": "revoke"}).status_code == 302
    assert not Token.objects.filter(key=key).exists()
    assert b'data-testid="api-token-none"' in client.get(STAFF_PAGE).content


def test_the_staff_page_shows_an_expired_token_as_expired(office, settings):
    settings.API_TOKEN_DAYS = 30
    key = obtain("office")["token"]
    age(key, 40)
    page = browser("office").get(STAFF_PAGE)
    assert b"badge-danger" in page.content and b"Expired" in page.content


def test_the_parent_portal_page(family, office):
    office_key = obtain("office")["token"]
    client = browser("parent")
    assert client.get(PORTAL_PAGE).status_code == 200
    made = client.post(PORTAL_PAGE, {"action": "rotate"})
    key = Token.objects.get(user__username="parent").key
    assert made.status_code == 200 and key.encode() in made.content
    assert api(key).get("/api/v1/me/").status_code == 200
    assert client.post(PORTAL_PAGE, {"action": "revoke"}).status_code == 302
    assert api(key).get("/api/v1/me/").status_code == 401
    assert Token.objects.get(user=office).key == office_key
    assert browser("office").get(PORTAL_PAGE).url == "/staff/"


def test_an_unknown_action_changes_nothing(office):
    key = obtain("office")["token"]
    response = browser("office").post(STAFF_PAGE, {"action": "delete-everyone"})
    assert response.status_code == 302
    assert Token.objects.get(user=office).key == key
