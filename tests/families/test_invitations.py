"""Portal invitations (``families.services.guardian_invite`` and the invitation page)
and password reset by e-mail, both delivered through ``notifications.notify``.

Celery runs eagerly in tests, so an e-mail is in ``mail.outbox`` once the on-commit
callbacks of the request or service have run."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from academy.roles import PARENT
from families.models import Guardian
from families.services import guardian_invite, guardian_set_portal_user
from notifications.models import Delivery, Notification
from tests.factories.academy import parent_user
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "a-Long-new-passphrase-42"
LINK = re.compile(r"https?://[^/\s]+(/portal/(?:invitation|password-reset)/[^/\s]+/[^/\s]+/)")


def _link_in(message) -> str:
    """The portal link (path only) in an e-mail; the HTML part carries the same one."""
    paths = LINK.findall(message.body)
    assert len(set(paths)) == 1, message.body
    html = message.alternatives[0][0]
    assert paths[0] in html
    return paths[0]


def _set_password(client, path: str, password: str = NEW_PASSWORD, **extra):
    """Follow a token link as a browser does: Django swaps the token for a session
    marker (``.../set-password/``), then the form is posted there."""
    response = client.get(path)
    assert response.status_code == 302, response.status_code
    form_url = response["Location"]
    assert form_url.endswith("/set-password/")
    assert client.get(form_url).context["validlink"] is True
    return client.post(form_url, {"new_password1": password, "new_password2": password, **extra})


@pytest.fixture
def guardian(location):
    """A guardian with a child and no portal login yet."""
    guardian = GuardianFactory(first_name="Sarah", last_name="Johnson", email="sarah.johnson@example.org")
    StudentFactory(location=location, primary_guardian=guardian)
    return guardian


def _invite(guardian, actor, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return guardian_invite(guardian=guardian, actor=actor, base_url="http://testserver/", **kwargs)


# --- the service ------------------------------------------------------------------------


def test_inviting_creates_a_parent_login_and_emails_a_link(guardian, office, django_capture_on_commit_callbacks):
    guardian = _invite(guardian, office, django_capture_on_commit_callbacks)

    user = guardian.portal_user
    assert user.username == "sarah.johnson@example.org"
    assert user.email == "sarah.johnson@example.org"
    assert (user.first_name, user.last_name) == ("Sarah", "Johnson")
    assert not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == [PARENT]
    assert user.is_parent and not user.is_academy_staff
    assert guardian.history.first().history_user == office

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["sarah.johnson@example.org"]
    assert "invitation" in message.subject.lower()
    assert "sarah.johnson@example.org" in message.body  # the username
    assert _link_in(message).startswith("/portal/invitation/")

    notification = Notification.objects.get(kind="portal_invitation")
    assert notification.recipient_key == f"families.guardian:{guardian.pk}"
    assert notification.created_by == office
    assert notification.status == Notification.Status.SENT
    assert notification.deliveries.get().status == Delivery.Status.SENT


def test_the_invitation_link_sets_a_password_signs_in_and_lands_on_the_dashboard(
    client, guardian, office, django_capture_on_commit_callbacks
):
    guardian = _invite(guardian, office, django_capture_on_commit_callbacks)
    path = _link_in(mail.outbox[0])

    response = _set_password(client, path)

    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    user = User.objects.get(pk=guardian.portal_user_id)
    assert client.session["_auth_user_id"] == str(user.pk)
    assert user.check_password(NEW_PASSWORD)
    dashboard = client.get("/portal/")
    assert dashboard.status_code == 200
    assert "Your password is set" in dashboard.content.decode()
    assert len(dashboard.context["children"]) == 1

    # and the new password works at the login page
    client.logout()
    login = client.post("/portal/login/", {"username": user.username, "password": NEW_PASSWORD})
    assert login["Location"] == "/portal/"


def test_an_invitation_link_works_once(client, guardian, office, django_capture_on_commit_callbacks):
    _invite(guardian, office, django_capture_on_commit_callbacks)
    path = _link_in(mail.outbox[0])
    assert _set_password(client, path).status_code == 302
    client.logout()

    response = Client().get(path)
    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert "This invitation link has expired" in response.content.decode()


@pytest.mark.parametrize("tamper", ["token", "uid"])
def test_a_bad_invitation_link_shows_the_expired_page(
    client, guardian, office, django_capture_on_commit_callbacks, tamper
):
    _invite(guardian, office, django_capture_on_commit_callbacks)
    _empty, _portal, _kind, uid, token, _end = _link_in(mail.outbox[0]).split("/")
    if tamper == "token":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    else:
        uid = "MTIzNDU2"  # base64 of "123456": no such user
    response = client.get(f"/portal/invitation/{uid}/{token}/")
    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert 'data-testid="link-expired"' in response.content.decode()
    assert not User.objects.get(username="sarah.johnson@example.org").has_usable_password()


def test_inviting_again_sends_a_fresh_link_to_the_same_login(guardian, office, django_capture_on_commit_callbacks):
    first = _invite(guardian, office, django_capture_on_commit_callbacks)
    second = _invite(guardian, office, django_capture_on_commit_callbacks)
    assert first.portal_user_id == second.portal_user_id
    assert User.objects.filter(username="sarah.johnson@example.org").count() == 1
    assert len(mail.outbox) == 2


def test_a_guardian_with_a_portal_login_is_invited_without_a_new_user(
    client, family, office, django_capture_on_commit_callbacks
):
    guardian, _children = family
    users_before = User.objects.count()
    _invite(guardian, office, django_capture_on_commit_callbacks)
    assert User.objects.count() == users_before
    assert "Your username is parent" in mail.outbox[0].body
    assert _set_password(client, _link_in(mail.outbox[0]))["Location"] == "/portal/"
    assert User.objects.get(username="parent").check_password(NEW_PASSWORD)


def test_a_guardian_without_email_is_refused(guardian, office):
    guardian.email = ""
    with pytest.raises(ValidationError) as error:
        guardian_invite(guardian=guardian, actor=office)
    assert "email" in error.value.message_dict
    assert not User.objects.filter(guardian__pk=guardian.pk).exists()
    assert not Notification.objects.exists()


@pytest.mark.parametrize("status", ["inactive", "suspended"])
def test_a_guardian_who_is_not_active_is_refused(guardian, office, status):
    Guardian.objects.filter(pk=guardian.pk).update(account_status=status)
    with pytest.raises(ValidationError) as error:
        guardian_invite(guardian=guardian, actor=office)
    assert "account_status" in error.value.message_dict
    assert not User.objects.filter(username=guardian.email).exists()
    assert not Notification.objects.exists()


def test_an_existing_login_with_the_same_username_is_never_taken_over(guardian, office):
    from tests.factories.academy import staff_user

    staff_user(username="Sarah.Johnson@example.org")
    with pytest.raises(ValidationError) as error:
        guardian_invite(guardian=guardian, actor=office)
    assert "already exists" in error.value.message_dict["email"][0]
    guardian.refresh_from_db()
    assert guardian.portal_user is None
    assert not Notification.objects.exists()


def test_a_deactivated_portal_login_is_refused(family, office):
    guardian, _children = family
    User.objects.filter(pk=guardian.portal_user_id).update(is_active=False)
    with pytest.raises(ValidationError) as error:
        guardian_invite(guardian=guardian, actor=office)
    assert "portal_user" in error.value.message_dict


def test_without_a_base_url_the_link_uses_the_configured_portal_address(
    guardian, office, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "https://portal.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        guardian_invite(guardian=guardian, actor=office)
    assert "https://portal.example.org/portal/invitation/" in mail.outbox[0].body


def test_a_staff_users_token_does_not_open_the_invitation_page(client, office):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(office.pk))
    token = default_token_generator.make_token(office)
    for url in (f"/portal/invitation/{uid}/{token}/", f"/portal/password-reset/{uid}/{token}/"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.context["validlink"] is False


def test_the_set_password_form_shows_field_errors_and_changes_nothing(
    client, guardian, office, django_capture_on_commit_callbacks
):
    _invite(guardian, office, django_capture_on_commit_callbacks)
    form_url = client.get(_link_in(mail.outbox[0]))["Location"]
    response = client.post(form_url, {"new_password1": "short", "new_password2": "different"})
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert 'class="field-error"' in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not User.objects.get(username=guardian.email).has_usable_password()


def test_the_set_password_form_refuses_a_post_without_a_csrf_token(
    guardian, office, django_capture_on_commit_callbacks
):
    _invite(guardian, office, django_capture_on_commit_callbacks)
    client = Client(enforce_csrf_checks=True)
    form_url = client.get(_link_in(mail.outbox[0]))["Location"]
    assert 'name="csrfmiddlewaretoken"' in client.get(form_url).content.decode()
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 403
    assert not User.objects.get(username=guardian.email).has_usable_password()

    token = client.cookies["csrftoken"].value
    response = client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


# --- password reset by e-mail -------------------------------------------------------------


def _request_reset(client, email, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/portal/password-reset/", {"email": email})


def test_the_reset_page_renders(client):
    response = client.get("/portal/password-reset/")
    assert response.status_code == 200
    assert 'name="email"' in response.content.decode()


def test_a_reset_sends_exactly_one_email_through_notify_and_the_link_works(
    client, family, django_capture_on_commit_callbacks
):
    guardian, _children = family
    response = _request_reset(client, guardian.email.upper(), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == "/portal/password-reset/sent/"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [guardian.email]
    assert "Reset your" in message.subject
    notification = Notification.objects.get()
    assert notification.kind == "password_reset"
    assert notification.recipient_key == f"families.guardian:{guardian.pk}"
    assert notification.recipient is None  # not an inbox message: e-mail only
    assert notification.deliveries.get().channel == "email"

    path = _link_in(message)
    assert path.startswith("/portal/password-reset/")
    response = _set_password(client, path)
    assert response["Location"] == "/portal/password-reset/complete/"
    assert "Your password is changed" in client.get(response["Location"]).content.decode()
    assert client.post("/portal/login/", {"username": "parent", "password": NEW_PASSWORD})["Location"] == "/portal/"
    assert client.post("/portal/logout/").status_code == 302

    # the link is spent
    again = client.get(path)
    assert again.context["validlink"] is False
    assert "This link has expired" in again.content.decode()


def test_the_reset_page_does_the_same_work_for_a_known_and_an_unknown_address(
    client, family, django_capture_on_commit_callbacks
):
    """The sending is queued after the answer: the page's queries (and so its time) are
    the same whether the address belongs to a parent or not, and nothing is sent until
    the queued work runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    guardian, _children = family
    answers = {}
    for email in (guardian.email, "nobody@example.org"):
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=False) as queued,
        ):
            response = client.post("/portal/password-reset/", {"email": email})
        assert response.status_code == 302
        answers[email] = (len(queries), len(queued))
    assert answers[guardian.email] == answers["nobody@example.org"]
    assert not Notification.objects.exists() and len(mail.outbox) == 0
    # the queued work sends the known address its link
    _request_reset(client, guardian.email, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1


def test_an_unknown_email_shows_the_same_page_and_sends_nothing(client, family, django_capture_on_commit_callbacks):
    response = _request_reset(client, "nobody@example.org", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == "/portal/password-reset/sent/"
    assert len(mail.outbox) == 0
    assert not Notification.objects.exists()
    done = client.get(response["Location"])
    assert "Check your e-mail" in done.content.decode()


def test_a_bad_email_is_a_field_error(client):
    response = client.post("/portal/password-reset/", {"email": "not-an-email"})
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]


@pytest.mark.parametrize("who", ["staff", "suspended", "no_login", "inactive_login"])
def test_no_reset_for_anyone_but_an_active_parent(client, family, office, who, django_capture_on_commit_callbacks):
    guardian, _children = family
    email = guardian.email
    if who == "staff":
        email = office.email
    elif who == "suspended":
        Guardian.objects.filter(pk=guardian.pk).update(account_status="suspended")
    elif who == "no_login":
        guardian_set_portal_user(guardian=guardian, user=None, actor=office)
    else:
        User.objects.filter(pk=guardian.portal_user_id).update(is_active=False)
    response = _request_reset(client, email, django_capture_on_commit_callbacks)
    assert response["Location"] == "/portal/password-reset/sent/"
    assert len(mail.outbox) == 0


def test_the_login_email_also_finds_the_guardian_but_mail_goes_to_the_guardians_address(
    client, location, django_capture_on_commit_callbacks
):
    user = parent_user(username="mum", email="old-address@example.org")
    guardian = GuardianFactory(portal_user=user, email="current@example.org")
    StudentFactory(location=location, primary_guardian=guardian)
    _request_reset(client, "old-address@example.org", django_capture_on_commit_callbacks)
    assert [message.to for message in mail.outbox] == [["current@example.org"]]


def test_repeated_requests_do_not_flood_the_parent(client, family, django_capture_on_commit_callbacks):
    guardian, _children = family
    for _ in range(3):
        _request_reset(client, guardian.email, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1


def test_an_invited_parent_who_lost_the_invitation_can_use_a_reset(
    client, guardian, office, django_capture_on_commit_callbacks
):
    _invite(guardian, office, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    _request_reset(client, guardian.email, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    _set_password(client, _link_in(mail.outbox[0]))
    assert User.objects.get(username=guardian.email).check_password(NEW_PASSWORD)


def test_the_reset_form_refuses_a_post_without_a_csrf_token(family):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/portal/password-reset/", {"email": family[0].email}).status_code == 403
    assert len(mail.outbox) == 0


def test_the_password_in_the_reset_post_is_not_in_the_audit_log(client, family, django_capture_on_commit_callbacks):
    from django.apps import apps

    _request_reset(client, family[0].email, django_capture_on_commit_callbacks)
    form_url = client.get(_link_in(mail.outbox[0]))["Location"]
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    rows = list(apps.get_model("academy", "AuditLog").objects.filter(path__startswith="/portal/password-reset/"))
    assert rows
    assert not any(NEW_PASSWORD in str(row.request_data) for row in rows)
