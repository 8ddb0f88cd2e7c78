"""Token login, ``me/`` and the API root (login limits: tests/academy/test_login_limits.py)."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import share_world
from tests.factories.academy import PASSWORD

share_world(globals())

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def test_token_for_the_right_password_opens_the_api(office):
    client = APIClient()
    response = client.post(TOKEN_URL, {"username": "office", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=office).key == token

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "office"


def test_the_same_token_is_returned_twice(office):
    client = APIClient()
    first = client.post(TOKEN_URL, {"username": "office", "password": PASSWORD}, format="json").json()
    second = client.post(TOKEN_URL, {"username": "office", "password": PASSWORD}, format="json").json()
    assert first == second
    assert Token.objects.filter(user=office).count() == 1


def test_form_encoded_login_works_too(office):
    response = APIClient().post(TOKEN_URL, {"username": "office", "password": PASSWORD})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "office", "password": "wrong-password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "office"},
        {"password": PASSWORD},
        {"username": "", "password": ""},
        {"username": "x" * 151, "password": PASSWORD},
        {"username": ["office"], "password": PASSWORD},
    ],
)
def test_bad_credentials_are_400_without_a_token(office, body):
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert all(isinstance(messages, list) for messages in response.json().values())
    assert not Token.objects.exists()


def test_inactive_user_gets_no_token(office):
    office.is_active = False
    office.save()
    response = APIClient().post(TOKEN_URL, {"username": "office", "password": PASSWORD}, format="json")
    assert response.status_code == 400


def test_a_wrong_token_is_401(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/students/").status_code == 401


def test_me_for_staff_lists_roles_and_locations(world, as_user):
    data = as_user("office").get("/api/v1/me/").json()
    assert data["roles"] == ["Office staff"]
    assert data["is_academy_staff"] is True
    assert data["is_parent"] is False
    assert [location["code"] for location in data["locations"]] == ["MAIN"]
    assert data["guardian"] is None


def test_me_for_admin_lists_every_location(world, as_user):
    data = as_user("admin").get("/api/v1/me/").json()
    assert {location["code"] for location in data["locations"]} == {"MAIN", "NORTH"}


def test_me_for_a_parent_includes_the_guardian_record(world, as_user):
    data = as_user("parent").get("/api/v1/me/").json()
    assert data["roles"] == ["Parent"]
    assert data["is_parent"] is True
    assert data["locations"] == []
    assert data["guardian"]["id"] == str(world.guardian.pk)
    assert data["guardian"]["guardian_number"] == world.guardian.guardian_number


def test_me_anonymous_is_401(db):
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_session_login_works_for_browser_users(world):
    client = APIClient()
    client.force_login(world.users["office"])
    assert client.get("/api/v1/me/").status_code == 200
