"""notifications/ (the caller's own inbox) and guardians/{id}/notifications/ (what staff
see was sent to a family): scope, the read actions, filters, errors and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from families.selectors import guardian_recipient_key
from notifications import services
from notifications.models import Delivery, Notification
from tests.factories.academy import instructor_user, parent_user, roles_ensure

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/notifications/"


@pytest.fixture(autouse=True)
def roles(db):
    roles_ensure()  # the role groups and their permissions, as migrate leaves them


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def tell(guardian, *, n: int = 1, channels=("email",), title_prefix: str = "") -> list[Notification]:
    """``n`` notifications to ``guardian`` through the one entry point, ``notify``."""
    created = []
    for i in range(n):
        result = services.notify(
            kind="student_admitted",
            recipients=[
                services.Recipient(
                    name=guardian.full_name,
                    user=guardian.portal_user,
                    email=guardian.email,
                    phone=guardian.phone,
                    channels=channels,
                    key=guardian_recipient_key(guardian),
                )
            ],
            context={"student_name": f"{title_prefix}Child {i}", "location_name": "Main campus"},
        )
        created.extend(result.created)
    return created


def ids(response) -> list[str]:
    return [row["id"] for row in response.json()["results"]]


# --- the caller's own inbox ------------------------------------------------------------


def test_a_parent_sees_only_their_own_notifications_newest_first(family, other_family):
    guardian, _ = family
    other_guardian, _ = other_family
    mine = tell(guardian, n=3)
    tell(other_guardian, n=2)
    response = client_for(guardian.portal_user).get(INBOX)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert ids(response) == [str(n.pk) for n in sorted(mine, key=lambda n: n.created_at, reverse=True)]
    first = body["results"][0]
    assert first["title"].endswith("is admitted to Main campus")
    assert first["is_read"] is False and first["read_at"] is None
    assert {"id", "kind", "message", "type", "priority", "status", "action_url", "metadata"} <= first.keys()


def test_soft_deleted_notifications_are_not_listed(family):
    guardian, _ = family
    kept, deleted = tell(guardian, n=2)
    Notification.objects.filter(pk=deleted.pk).update(deleted_at=kept.created_at)
    assert ids(client_for(guardian.portal_user).get(INBOX)) == [str(kept.pk)]


def test_another_users_notification_is_404_and_stays_unread(family, other_family):
    guardian, _ = family
    other_guardian, _ = other_family
    (theirs,) = tell(other_guardian)
    client = client_for(guardian.portal_user)
    assert client.get(f"{INBOX}{theirs.pk}/").status_code == 404
    assert client.post(f"{INBOX}{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None and theirs.status != Notification.Status.READ


def test_staff_inbox_is_their_own_too(office, family):
    guardian, _ = family
    tell(guardian, n=2)
    response = client_for(office).get(INBOX)
    assert response.status_code == 200 and response.json()["count"] == 0


def test_read_marks_one_read_and_is_idempotent(family):
    guardian, _ = family
    first, second = tell(guardian, n=2)
    client = client_for(guardian.portal_user)
    response = client.post(f"{INBOX}{first.pk}/read/")
    assert response.status_code == 200
    assert response.json()["status"] == "read" and response.json()["is_read"] is True
    first.refresh_from_db()
    read_at = first.read_at
    assert read_at is not None and first.status == Notification.Status.READ
    again = client.post(f"{INBOX}{first.pk}/read/")
    assert again.status_code == 200
    first.refresh_from_db()
    assert first.read_at == read_at  # the first reading time stays
    second.refresh_from_db()
    assert second.read_at is None
    assert client.get(f"{INBOX}unread-count/").json() == {"unread": 1}


def test_read_all_marks_only_the_callers_unread_notifications(family, other_family):
    guardian, _ = family
    other_guardian, _ = other_family
    tell(guardian, n=3)
    (theirs,) = tell(other_guardian)
    client = client_for(guardian.portal_user)
    response = client.post(f"{INBOX}read-all/")
    assert response.status_code == 200 and response.json() == {"updated": 3}
    assert client.post(f"{INBOX}read-all/").json() == {"updated": 0}
    assert not Notification.objects.filter(recipient=guardian.portal_user, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_filters_unread_and_status(family):
    guardian, _ = family
    read, unread = tell(guardian, n=2)
    services.notification_mark_read(notification=read, user=guardian.portal_user)
    client = client_for(guardian.portal_user)
    assert ids(client.get(f"{INBOX}?unread=true")) == [str(unread.pk)]
    assert ids(client.get(f"{INBOX}?unread=false")) == [str(read.pk)]
    assert ids(client.get(f"{INBOX}?status=read")) == [str(read.pk)]
    assert ids(client.get(f"{INBOX}?status=pending")) == [str(unread.pk)]  # e-mail not sent yet (no commit)


def test_bad_filter_values_are_400_with_the_field_named(family):
    guardian, _ = family
    client = client_for(guardian.portal_user)
    response = client.get(f"{INBOX}?status=bogus")
    assert response.status_code == 400 and "status" in response.json()
    response = client.get(f"{INBOX}?page_size=abc")
    assert response.status_code == 400 and "page_size" in response.json()
    response = client.get(f"{INBOX}?unread=maybe")
    assert response.status_code == 400 and "unread" in response.json()
    response = client.get(f"{INBOX}not-a-uuid/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_anonymous_is_401_and_writes_are_405(family):
    guardian, _ = family
    (notification,) = tell(guardian)
    assert APIClient().get(INBOX).status_code == 401
    assert APIClient().post(f"{INBOX}{notification.pk}/read/").status_code == 401
    client = client_for(guardian.portal_user)
    assert client.post(INBOX, {}, format="json").status_code == 405
    assert client.patch(f"{INBOX}{notification.pk}/", {"title": "x"}, format="json").status_code == 405
    assert client.delete(f"{INBOX}{notification.pk}/").status_code == 405
    notification.refresh_from_db()
    assert notification.deleted_at is None and notification.title != "x"


# --- what staff see was sent to a family --------------------------------------------------


def family_url(guardian) -> str:
    return f"/api/v1/guardians/{guardian.pk}/notifications/"


def test_staff_see_what_was_sent_to_a_family_with_its_deliveries(office, family, other_family):
    guardian, _ = family
    other_guardian, _ = other_family
    (sent,) = tell(guardian, channels=("email", "sms"))
    tell(other_guardian)
    response = client_for(office).get(family_url(guardian))
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == str(sent.pk)
    assert row["recipient_key"] == guardian_recipient_key(guardian)
    assert {(d["channel"], d["address"], d["status"]) for d in row["deliveries"]} == {
        ("email", guardian.email, Delivery.Status.PENDING),
        ("sms", guardian.phone, Delivery.Status.PENDING),
    }


def test_a_guardian_without_a_login_still_has_a_record_of_what_they_were_sent(office, location):
    from tests.factories.families import GuardianFactory, StudentFactory

    guardian = GuardianFactory()
    StudentFactory(location=location, primary_guardian=guardian)
    tell(guardian, n=2)
    assert client_for(office).get(family_url(guardian)).json()["count"] == 2


def test_family_notifications_follow_the_guardian_scope(office, other_office, academy_admin, family):
    guardian, _ = family
    tell(guardian)
    assert client_for(other_office).get(family_url(guardian)).status_code == 404  # not their location
    assert client_for(academy_admin).get(family_url(guardian)).json()["count"] == 1
    assert (
        client_for(office).get("/api/v1/guardians/00000000-0000-0000-0000-000000000000/notifications/").status_code
        == 404
    )


def test_family_notifications_need_the_guardian_view_permission(family, other_family):
    guardian, _ = family
    tell(guardian)
    assert client_for(guardian.portal_user).get(family_url(guardian)).status_code == 403  # parents use their inbox
    assert client_for(other_family[0].portal_user).get(family_url(guardian)).status_code == 403
    assert client_for(instructor_user(username="teacher")).get(family_url(guardian)).status_code == 403
    assert APIClient().get(family_url(guardian)).status_code == 401
    assert client_for(parent_user(username="nobody")).post(family_url(guardian)).status_code == 405


# --- query counts -------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_inbox_costs_the_same_queries_for_3_or_30_rows(family, django_assert_max_num_queries):
    guardian, _ = family
    client = client_for(guardian.portal_user)
    tell(guardian, n=3)
    small = _queries(client, f"{INBOX}?page_size=100")
    tell(guardian, n=27)
    with django_assert_max_num_queries(small):
        response = client.get(f"{INBOX}?page_size=100")
    assert response.json()["count"] == 30
    assert small <= 4


def test_family_list_costs_the_same_queries_for_3_or_30_rows(office, family, django_assert_max_num_queries):
    guardian, _ = family
    client = client_for(office)
    tell(guardian, n=3, channels=("email", "sms"))
    small = _queries(client, f"{family_url(guardian)}?page_size=100")
    tell(guardian, n=27, channels=("email", "sms"))
    with django_assert_max_num_queries(small):
        response = client.get(f"{family_url(guardian)}?page_size=100")
    assert response.json()["count"] == 30
    assert small <= 9


def test_staff_never_see_a_sign_in_link_sent_to_a_family(db, client, academy_admin):
    """Password-reset and invitation messages hold a live link: the family's own inbox
    shows it, staff views (API and admin) show a placeholder."""
    from rest_framework.test import APIClient

    from academy.services import api_token_issue
    from families.selectors import guardian_recipient_key
    from notifications.models import Notification
    from tests.factories.families import GuardianFactory

    guardian = GuardianFactory()
    secret = "https://portal.example.org/portal/invitation/abc/set-me-123/"
    Notification.objects.create(
        recipient_key=guardian_recipient_key(guardian),
        kind="portal_invitation",
        title="Your parent portal account",
        message=f"Choose your password: {secret}",
        metadata={"link": secret},
        action_url=secret,
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=academy_admin)}")
    body = api.get(f"/api/v1/guardians/{guardian.pk}/notifications/").content.decode()
    assert "Your parent portal account" in body and secret not in body
    from tests.factories.academy import UserFactory

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    notification = Notification.objects.get()
    page = client.get(f"/admin/notifications/notification/{notification.pk}/change/").content.decode()
    assert "Your parent portal account" in page and secret not in page
