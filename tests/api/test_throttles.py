"""API throttles: per token, per client address, and per client for anonymous calls; past
a rate 429 with Retry-After, and other callers are not affected."""

import pytest
from rest_framework.test import APIClient

from academy import services
from academy.common.throttles import parse_rate
from tests.factories.academy import PASSWORD, staff_user

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def _client(user, address="192.0.2.1"):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {services.api_token_current(user=user).key}")
    return client


def test_rates_are_read_as_a_count_and_a_period():
    assert parse_rate("600/min") == (600, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("100/hour") == (100, 3600)
    assert parse_rate("1000/day") == (1000, 86400)


def test_a_token_past_its_rate_gets_429_with_retry_after_and_others_do_not(settings, office, other_office):
    settings.API_THROTTLE_RATES = {"user": "3/min", "client": "1000/min", "anon": "1000/min"}
    mine = _client(office, "192.0.2.1")
    assert [mine.get(ME).status_code for _ in range(3)] == [200, 200, 200]
    refused = mine.get(ME)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    # the same token from another address is the same token
    assert _client(office, "192.0.2.2").get(ME).status_code == 429
    # another user's token is not affected
    assert _client(other_office, "192.0.2.1").get(ME).status_code == 200


def test_many_tokens_from_one_client_count_together(settings):
    settings.API_THROTTLE_RATES = {"user": "1000/min", "client": "4/min", "anon": "1000/min"}
    users = [staff_user(username=f"clerk{n}") for n in range(5)]
    codes = [_client(user, "203.0.113.9").get(ME).status_code for user in users]
    assert codes == [200, 200, 200, 200, 429]
    assert _client(users[0], "203.0.113.10").get(ME).status_code == 200


def test_anonymous_calls_are_throttled_per_client(settings, office):
    settings.API_THROTTLE_RATES = {"user": "1000/min", "client": "1000/min", "anon": "2/min"}
    client = APIClient(REMOTE_ADDR="198.51.100.1")
    body = {"username": "office", "password": PASSWORD}
    assert [client.post("/api/v1/auth/token/", body).status_code for _ in range(3)] == [200, 200, 429]
    assert APIClient(REMOTE_ADDR="198.51.100.2").post("/api/v1/auth/token/", body).status_code == 200


def test_behind_a_proxy_the_client_is_the_address_the_proxy_saw(settings, office):
    settings.BEHIND_PROXY = True
    settings.API_THROTTLE_RATES = {"user": "1000/min", "client": "1/min", "anon": "1000/min"}
    client = _client(office, "10.0.0.1")  # the proxy
    assert client.get(ME, HTTP_X_FORWARDED_FOR="1.1.1.1, 192.0.2.7").status_code == 200
    # a client cannot escape by claiming another address before the proxy's own entry
    assert client.get(ME, HTTP_X_FORWARDED_FOR="9.9.9.9, 192.0.2.7").status_code == 429
    assert client.get(ME, HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 200
