"""Failed logins are limited per account and hour, for every login that uses authenticate()."""

import pytest
from django.contrib.auth import authenticate
from django.core.cache import cache

from academy import services
from tests.factories.academy import PASSWORD, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_the_right_password_is_refused_after_the_limit_of_failures(settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    user = staff_user(username="clerk")
    for _ in range(5):
        assert authenticate(username="clerk", password="wrong") is None
    assert services.login_failures_exceeded("clerk")
    assert authenticate(username="clerk", password=PASSWORD) is None
    # the counter is per account: another account is not affected
    staff_user(username="other-clerk")
    assert authenticate(username="other-clerk", password=PASSWORD) is not None
    # when the hour has passed (the counter expires), the account works again
    services.login_failures_reset("clerk")
    assert authenticate(username="clerk", password=PASSWORD) == user


def test_below_the_limit_a_successful_login_resets_the_count(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    staff_user(username="clerk")
    for _ in range(2):
        authenticate(username="clerk", password="wrong")
    assert client.login(username="clerk", password=PASSWORD)
    assert not services.login_failures_exceeded("clerk")
    assert cache.get("login-failures:clerk") is None


def test_the_default_limit_is_one_hundred_failures_an_hour(settings):
    assert settings.LOGIN_FAILURE_LIMIT == 100
    assert settings.LOGIN_FAILURE_WINDOW == 3600
    staff_user(username="clerk")
    for _ in range(99):
        authenticate(username="clerk", password="wrong")
    assert authenticate(username="clerk", password=PASSWORD) is not None  # 99 failures: still allowed
    for _ in range(100):
        authenticate(username="clerk", password="wrong")
    assert authenticate(username="clerk", password=PASSWORD) is None


def test_usernames_are_counted_case_insensitively(settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    staff_user(username="clerk")
    authenticate(username="Clerk", password="wrong")
    authenticate(username="CLERK", password="wrong")
    assert services.login_failures_exceeded("clerk")
