"""The "Messages sent" tab of a guardian's staff page (``families.staff_guardian_views``):
every notification sent to the guardian, newest first, with each delivery's channel,
address and status, a page at a time, in a fixed number of queries.

Who may see it is who may see the guardian (``families.view_guardian`` and
``guardians_visible_to``), as for ``guardians/{id}/notifications/`` in the API: office
staff of the location, finance staff and an academy admin; office staff of another
location get a 404, an instructor a 403, a parent is sent to the parent portal."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from families.selectors import guardian_recipient_key
from notifications import services
from notifications.models import Delivery, Notification
from tests.factories.academy import finance_user, instructor_user, roles_ensure
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roles(db):
    roles_ensure()  # the role groups and their permissions, as migrate leaves them


@pytest.fixture
def guardian(family):
    return family[0]


@pytest.fixture
def users(office, other_office, academy_admin, family, other_family, location):
    guardian, children = family
    teacher = instructor_user(username="teacher", locations=[location])
    EnrollmentFactory(student=children[0], section__instructor=teacher)  # teaches the guardian's child
    return {
        "office": office,
        "other_office": other_office,
        "admin": academy_admin,
        "finance": finance_user(username="cashier"),
        "instructor": teacher,
        "parent": guardian.portal_user,
        "other_parent": other_family[0].portal_user,
        "anonymous": None,
    }


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def tab_url(guardian) -> str:
    return reverse("staff:guardian-detail", args=[guardian.pk]) + "?tab=notifications"


def tell(guardian, *, n: int = 1, channels=("email",), child: str = "Child") -> list[Notification]:
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
            context={"student_name": f"{child} {i}", "location_name": "Main campus"},
        )
        created.extend(result.created)
    return created


def test_permission_matrix(guardian, users):
    tell(guardian)
    url = tab_url(guardian)
    for actor in ("office", "finance", "admin"):
        response = client_for(users[actor]).get(url)
        assert response.status_code == 200 and response.context["tab"] == "notifications", actor
    assert client_for(users["other_office"]).get(url).status_code == 404  # not a guardian of their location
    assert client_for(users["instructor"]).get(url).status_code == 403
    for actor in ("parent", "other_parent"):
        response = client_for(users[actor]).get(url)
        assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard"), actor
    response = client_for(None).get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))


def test_the_tab_is_linked_from_the_guardian_page(guardian, users):
    html = client_for(users["office"]).get(reverse("staff:guardian-detail", args=[guardian.pk])).content.decode()
    assert 'href="' + tab_url(guardian).replace("&", "&amp;") + '"' in html


def test_the_tab_lists_what_was_sent_newest_first_with_each_delivery(
    guardian, other_family, users, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the e-mail and SMS are sent
        (delivered,) = tell(guardian, channels=("email", "sms"), child="Delivered")
    (failing,) = tell(guardian, child="Failing")
    Delivery.objects.filter(notification=failing).update(
        status=Delivery.Status.FAILED, attempts=3, last_error="Mailbox unavailable"
    )
    (latest,) = tell(guardian, channels=(), child="Inbox")  # the portal inbox only
    tell(other_family[0], child="Someone else's")
    Notification.objects.filter(pk=latest.pk).update(created_at=timezone.now())  # newest, whatever the clock said
    response = client_for(users["office"]).get(tab_url(guardian))
    rows = list(response.context["notifications_page"].object_list)
    assert rows == [latest, failing, delivered]
    html = response.content.decode()
    assert "Someone else" not in html
    delivered.refresh_from_db()
    sent = {d.channel: d for d in delivered.deliveries.all()}
    assert sent["email"].status == sent["sms"].status == Delivery.Status.SENT
    assert f"E-mail to {guardian.email}" in html and f"SMS to {guardian.phone}" in html
    assert "Mailbox unavailable" in html and "(3 attempts)" in html and "Failed" in html
    assert "in-app only" in html


def test_a_message_with_a_sign_in_link_is_not_shown_to_staff(guardian, users):
    (notification,) = tell(guardian)
    Notification.objects.filter(pk=notification.pk).update(
        kind="password_reset", message="Reset it here: https://academy.example/reset/secret-token/"
    )
    html = client_for(users["office"]).get(tab_url(guardian)).content.decode()
    assert "secret-token" not in html and Notification.PRIVATE_PLACEHOLDER in html


def test_deleted_notifications_are_not_listed(guardian, users):
    kept, deleted = tell(guardian, n=2)
    Notification.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    response = client_for(users["office"]).get(tab_url(guardian))
    assert list(response.context["notifications_page"].object_list) == [kept]


def test_a_guardian_without_a_portal_login_has_a_record_too(location, users):
    guardian = GuardianFactory()
    StudentFactory(location=location, primary_guardian=guardian)
    tell(guardian, n=2)
    response = client_for(users["office"]).get(tab_url(guardian))
    assert response.context["notifications_page"].paginator.count == 2


def test_pages_of_twenty_newest_first(guardian, users):
    sent = tell(guardian, n=23)
    client = client_for(users["office"])
    first = client.get(tab_url(guardian)).context["notifications_page"]
    second = client.get(tab_url(guardian) + "&page=2")
    assert len(first.object_list) == 20 and first.has_next()
    listed = list(first.object_list) + list(second.context["notifications_page"].object_list)
    assert sorted(n.pk for n in listed) == sorted(n.pk for n in sent)
    assert [n.created_at for n in listed] == sorted((n.created_at for n in listed), reverse=True)
    assert "page=1" in second.content.decode()  # the link back to the newer ones


def test_the_tab_takes_a_fixed_number_of_queries(guardian, users, django_assert_max_num_queries):
    client = client_for(users["office"])
    url = tab_url(guardian)
    client.get(url)  # warm-up: grants are cached after the first request
    tell(guardian, n=2, channels=("email", "sms"))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    small = queries()
    tell(guardian, n=30, channels=("email", "sms"))
    with django_assert_max_num_queries(12):
        assert len(client.get(url).context["notifications_page"].object_list) == 20
    assert queries() == small
