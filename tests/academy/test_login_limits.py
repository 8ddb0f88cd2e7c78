"""Failed logins cost the one guessing, never the owner (``academy.login_limits``), and a
new password ends the old one's tokens and sessions."""

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from academy import login_limits, services
from tests.factories.academy import PASSWORD, admin_user, parent_user, staff_user
from tests.factories.families import GuardianFactory

pytestmark = pytest.mark.django_db

STAFF_LOGIN = "/staff/login/"
TOKEN_URL = "/api/v1/auth/token/"
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


@pytest.fixture
def clock(monkeypatch):
    """The limits' clock, moved by hand (the cache's own expiry keeps real time)."""

    class Clock:
        now = 1_000_000.0

        def advance(self, seconds):
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(login_limits, "_now", lambda: clock.now)
    return clock


def _request(address: str, cookies: dict | None = None):
    request = RequestFactory().post("/login/", REMOTE_ADDR=address)
    request.COOKIES.update(cookies or {})
    return request


def _attempt(username: str, password: str, address: str, cookies: dict | None = None):
    request = _request(address, cookies)
    user = authenticate(request, username=username, password=password)
    return user, getattr(request, "login_retry_after", 0)


def _sign_in(client: Client, username: str, password: str, address: str):
    return client.post(STAFF_LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_client_waits_after_its_free_failures_and_the_right_password_from_elsewhere_works(clock):
    clerk = staff_user(username="clerk")
    for _ in range(5):  # the free failures
        assert _attempt("clerk", "wrong", ATTACKER) == (None, 0)
    user, wait = _attempt("clerk", "wrong", ATTACKER)  # the sixth starts a delay
    assert user is None and wait == 0
    assert login_limits.login_retry_after(_request(ATTACKER), "clerk") == 2
    # while it waits, even the right password is not checked from that client
    assert _attempt("clerk", PASSWORD, ATTACKER) == (None, 2)
    # the owner, from another client, is not delayed at all
    assert _attempt("clerk", PASSWORD, OWNER) == (clerk, 0)


def test_the_delay_grows_with_each_failure_after_it_and_ends_by_itself(clock, settings):
    staff_user(username="clerk")
    for _ in range(6):
        _attempt("clerk", "wrong", ATTACKER)
    waits = []
    for _ in range(5):
        wait = login_limits.login_retry_after(_request(ATTACKER), "clerk")
        waits.append(wait)
        clock.advance(wait)
        assert _attempt("clerk", "wrong", ATTACKER)[1] == 0  # the wait is over: it may try (and fail)
    assert waits == [2, 4, 8, 16, 32]
    # never longer than LOGIN_MAX_DELAY
    settings.LOGIN_MAX_DELAY = 40
    clock.advance(64)
    _attempt("clerk", "wrong", ATTACKER)
    assert login_limits.login_retry_after(_request(ATTACKER), "clerk") == 40
    clock.advance(40)
    assert _attempt("clerk", PASSWORD, ATTACKER)[0] is not None


def test_refused_attempts_while_waiting_do_not_count(clock):
    staff_user(username="clerk")
    for _ in range(6):
        _attempt("clerk", "wrong", ATTACKER)
    for _ in range(50):
        assert _attempt("clerk", "wrong", ATTACKER) == (None, 2)
    assert login_limits.login_retry_after(_request(ATTACKER), "clerk") == 2


def test_guessing_one_account_from_many_clients_delays_unknown_clients_not_the_owners_browser(client, clock):
    admin = admin_user(username="admin", is_staff=True, is_superuser=True)
    # the owner signed in from this browser before
    response = _sign_in(client, "admin", PASSWORD, OWNER)
    assert response.status_code == 302
    known = {login_limits.KNOWN_COOKIE: response.cookies[login_limits.KNOWN_COOKIE].value}
    client.logout()
    # then 100 wrong passwords from 100 addresses (none over its own free failures)
    for n in range(100):
        _attempt("admin", "wrong", f"10.0.{n // 250}.{n % 250 + 1}")
    # a new client must wait ...
    user, wait = _attempt("admin", PASSWORD, "192.0.2.99")
    assert user is None and wait > 0
    # ... the owner's browser signs in at once, even from a new address
    assert _attempt("admin", PASSWORD, "192.0.2.100", cookies=known) == (admin, 0)
    # a forged or foreign cookie is not the owner's
    assert _attempt("admin", PASSWORD, "192.0.2.101", cookies={login_limits.KNOWN_COOKIE: "x:y"})[0] is None


def test_guessing_many_accounts_from_one_client_delays_that_client_only(clock):
    for n in range(31):
        _attempt(f"user{n}", "wrong", ATTACKER)
    clerk = staff_user(username="clerk")
    assert _attempt("clerk", PASSWORD, ATTACKER)[1] > 0
    assert _attempt("clerk", PASSWORD, OWNER) == (clerk, 0)


def test_a_new_password_clears_the_accounts_counters(clock):
    clerk = staff_user(username="clerk")
    for n in range(30):
        _attempt("clerk", "wrong", f"10.1.0.{n + 1}")
    for _ in range(6):
        _attempt("clerk", "wrong", OWNER)
    assert _attempt("clerk", PASSWORD, OWNER)[1] > 0
    assert _attempt("clerk", PASSWORD, "192.0.2.50")[1] > 0
    clerk.set_password("a-new-password-2026")
    clerk.save()
    assert _attempt("clerk", "a-new-password-2026", OWNER) == (clerk, 0)
    assert _attempt("clerk", "a-new-password-2026", "192.0.2.51") == (clerk, 0)


def test_usernames_are_counted_case_insensitively(clock):
    staff_user(username="clerk")
    for name in ("Clerk", "CLERK", "clerk", "cLerk", "clerK", "CLerk"):
        _attempt(name, "wrong", ATTACKER)
    assert login_limits.login_retry_after(_request(ATTACKER), "clerk") == 2


def test_the_login_pages_say_how_long_to_wait(client, clock):
    staff_user(username="clerk")
    for _ in range(6):
        _sign_in(client, "clerk", "wrong", ATTACKER)
    response = _sign_in(client, "clerk", PASSWORD, ATTACKER)
    assert response.status_code == 200
    assert "Too many failed sign-ins. Try again in 2 seconds" in response.content.decode()
    parent = parent_user(username="mum")
    GuardianFactory(portal_user=parent)
    for _ in range(6):
        client.post("/portal/login/", {"username": "mum", "password": "wrong"}, REMOTE_ADDR=ATTACKER)
    page = client.post("/portal/login/", {"username": "mum", "password": PASSWORD}, REMOTE_ADDR=ATTACKER)
    assert "Too many failed sign-ins" in page.content.decode()
    admin_user(username="boss", is_staff=True, is_superuser=True)
    for _ in range(6):
        client.post("/admin/login/", {"username": "boss", "password": "wrong"}, REMOTE_ADDR=ATTACKER)
    page = client.post("/admin/login/", {"username": "boss", "password": PASSWORD}, REMOTE_ADDR=ATTACKER)
    assert "Too many failed sign-ins" in page.content.decode()


def test_the_token_login_answers_429_with_retry_after(clock, office):
    client = APIClient()
    for _ in range(6):
        response = client.post(TOKEN_URL, {"username": "office", "password": "wrong"}, REMOTE_ADDR=ATTACKER)
        assert response.status_code == 400
    refused = client.post(TOKEN_URL, {"username": "office", "password": PASSWORD}, REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "2"
    assert "Too many failed sign-ins" in refused.json()["detail"]
    assert not Token.objects.filter(user=office).exists()
    allowed = client.post(TOKEN_URL, {"username": "office", "password": PASSWORD}, REMOTE_ADDR=OWNER)
    assert allowed.status_code == 200


def test_a_new_password_revokes_the_token(office):
    token = services.api_token_current(user=office)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/me/").status_code == 200
    office.set_password("another-password-2026")
    office.save()
    assert api.get("/api/v1/me/").status_code == 401
    assert not Token.objects.filter(user=office).exists()
    # saving the user without a new password revokes nothing
    fresh = services.api_token_current(user=office)
    office.first_name = "Renamed"
    office.save()
    assert Token.objects.filter(pk=fresh.pk).exists()


def test_changing_the_password_ends_other_sessions_and_tokens_but_keeps_this_one():
    boss = admin_user(username="boss", is_staff=True, is_superuser=True, email="boss@example.org")
    here, elsewhere = Client(), Client()
    assert here.login(username="boss", password=PASSWORD)
    assert elsewhere.login(username="boss", password=PASSWORD)
    token = services.api_token_current(user=boss)
    response = here.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "Zebra-Quartz-2026", "new_password2": "Zebra-Quartz-2026"},
    )
    assert response.status_code == 302
    assert here.get("/admin/").status_code == 200  # the session that changed it stays
    assert elsewhere.get("/admin/").status_code == 302  # the other one is signed out
    assert not Token.objects.filter(pk=token.pk).exists()


def test_a_password_reset_revokes_the_parents_token(client):
    parent = parent_user(username="mum", email="mum@example.org")
    GuardianFactory(portal_user=parent, email="mum@example.org")
    token = services.api_token_current(user=parent)
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(parent.pk))
    link = f"/portal/password-reset/{uid}/{default_token_generator.make_token(parent)}/"
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "Zebra-Quartz-2026", "new_password2": "Zebra-Quartz-2026"}
    )
    assert done.status_code == 302
    assert not Token.objects.filter(pk=token.pk).exists()
