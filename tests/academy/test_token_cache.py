"""API tokens are read from the cache after the first request
(``academy.authentication.CachedTokenAuthentication``) and forgotten as soon as the
token is revoked or its user changes; the cached user never carries its password."""

import os

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from academy.authentication import token_cache_key
from academy.models import User
from academy.services import api_token_issue
from tests.factories.academy import PASSWORD, staff_user

pytestmark = pytest.mark.django_db

STUDENTS = "/api/v1/students/"


@pytest.fixture
def user(location):
    return staff_user()


@pytest.fixture
def token(user):
    return api_token_issue(user=user)


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _token_queries(client) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        status = client.get(STUDENTS).status_code
    return status, [q["sql"] for q in ctx.captured_queries if "authtoken_token" in q["sql"]]


def test_a_second_request_reads_no_token_from_the_database(token):
    client = _client(token)
    status, queries = _token_queries(client)
    assert status == 200 and len(queries) == 1  # the first request reads it
    assert _token_queries(client) == (200, [])


def test_a_wrong_token_is_refused_and_not_cached(token):
    client = _client("0" * 40)
    assert client.get(STUDENTS).status_code == 401
    assert cache.get(token_cache_key("0" * 40)) is None
    assert client.get(STUDENTS).status_code == 401


def test_a_revoked_token_stops_working_at_once(token):
    client = _client(token)
    assert client.get(STUDENTS).status_code == 200
    Token.objects.filter(key=token).get().delete()
    assert client.get(STUDENTS).status_code == 401


def test_a_deactivated_user_is_refused_at_once(user, token):
    client = _client(token)
    assert client.get(STUDENTS).status_code == 200
    user.is_active = False
    user.save()
    assert client.get(STUDENTS).status_code == 401


def test_a_role_taken_away_applies_at_once(user, token):
    client = _client(token)
    assert client.get(STUDENTS).status_code == 200
    user.groups.clear()
    assert client.get(STUDENTS).status_code == 403


def test_the_cached_user_has_no_password_and_saving_it_keeps_the_password(user, token):
    client = _client(token)
    assert client.get(STUDENTS).status_code == 200
    cached_user, _token = cache.get(token_cache_key(token))
    assert cached_user.pk == user.pk
    assert "password" in cached_user.get_deferred_fields()
    assert "password" not in cached_user.__dict__
    cached_user.first_name = "Renamed"
    cached_user.save()
    stored = User.objects.get(pk=user.pk)
    assert stored.first_name == "Renamed"
    assert stored.check_password(PASSWORD)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL for the Redis cache")
def test_the_redis_cache_reuses_one_client_per_pool():
    from academy.common.cache import ReusingRedisCache

    redis_cache = ReusingRedisCache(os.environ["REDIS_URL"], {})
    redis_cache.set("reuse-test", {"a": 1}, 30)
    assert redis_cache.get("reuse-test") == {"a": 1}
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client(write=True) is client
    redis_cache.delete("reuse-test")
    assert redis_cache.get("reuse-test") is None
