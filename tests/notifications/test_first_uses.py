"""The first uses of notifications: "your child was admitted" from
``families.services.student_admit``, to the right guardians over the right channels,
resolved by ``families.selectors.guardian_notification_channels``.

(Portal invitations and password resets are tested in tests/families/test_invitations.py.)"""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from families import services
from families.models import Guardian, StudentGuardian
from families.selectors import guardian_notification_channels
from notifications.models import Delivery, Notification
from notifications.selectors import notification_list_for_user, notification_unread_count
from notifications.sms import LoggingSMSBackend
from tests.factories.academy import parent_user
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = pytest.mark.django_db


def student_data(location, **overrides):
    return {
        "first_name": "Emma",
        "last_name": "Johnson",
        "date_of_birth": "2015-03-15",
        "enrollment_date": "2025-09-01",
        "location": location,
        **overrides,
    }


def guardian_data(first_name, email, **overrides):
    return {"first_name": first_name, "last_name": "Johnson", "email": email, "phone": "555-0124", **overrides}


@pytest.fixture(autouse=True)
def _sms_outbox():
    LoggingSMSBackend.sent = []


def _admit(location, office, capture, **kwargs):
    kwargs.setdefault(
        "primary",
        services.GuardianLinkSpec(
            "primary", data=guardian_data("Sarah", "sarah@example.org"), flags={"relation": "Mother"}
        ),
    )
    with capture(execute=True):
        return services.student_admit(actor=office, student_data=student_data(location), **kwargs)


def _key(guardian):
    return f"families.guardian:{guardian.pk}"


# --- guardian_notification_channels ------------------------------------------------------


@pytest.mark.parametrize(
    ("preference", "phone", "expected"),
    [
        ("email", "555-0100", ["email"]),
        ("sms", "555-0100", ["sms"]),
        ("phone", "555-0100", ["sms"]),
    ],
)
def test_channels_follow_the_preferred_communication(preference, phone, expected):
    guardian = GuardianFactory(preferred_communication=preference, phone=phone)
    assert guardian_notification_channels(guardian) == expected


def test_a_guardian_without_a_phone_number_falls_back_to_email():
    guardian = GuardianFactory.build(preferred_communication="sms", phone="", email="a@example.org")
    assert guardian_notification_channels(guardian) == ["email"]


def test_a_link_that_receives_no_communications_has_no_channels(location):
    guardian = GuardianFactory()
    student = StudentFactory(location=location)
    link = StudentGuardian.objects.create(
        student=student, guardian=guardian, relationship_type="emergency", receives_communications=False
    )
    assert guardian_notification_channels(guardian, link) == []
    link.receives_communications = True
    assert guardian_notification_channels(guardian, link) == ["email"]


@pytest.mark.parametrize("status", ["inactive", "suspended"])
def test_a_guardian_who_is_not_active_has_no_channels(status):
    guardian = GuardianFactory(account_status=status)
    assert guardian_notification_channels(guardian) == []


# --- "your child was admitted" ---------------------------------------------------------------


def test_admission_tells_the_primary_guardian_by_email(location, office, django_capture_on_commit_callbacks):
    student = _admit(location, office, django_capture_on_commit_callbacks)
    sarah = Guardian.objects.get(email="sarah@example.org")

    notification = Notification.objects.get()
    assert notification.kind == "student_admitted"
    assert notification.recipient_key == _key(sarah)
    assert notification.recipient is None  # no portal login yet: e-mail only
    assert notification.title == f"Emma Johnson is admitted to {location.name}"
    assert student.student_number in notification.message
    assert notification.location == location
    assert notification.created_by == office
    assert notification.action_url == f"/portal/children/{student.pk}/"
    assert notification.status == Notification.Status.SENT

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sarah@example.org"]
    assert "Dear Sarah Johnson" in mail.outbox[0].body
    assert "Dear Sarah Johnson" in mail.outbox[0].alternatives[0][0]


def test_admission_tells_only_the_guardians_who_receive_communications(
    location, office, django_capture_on_commit_callbacks
):
    # given a primary guardian, a secondary guardian who prefers SMS, and an emergency
    # contact who receives no communications
    others = [
        services.GuardianLinkSpec(
            "secondary",
            data=guardian_data("Tom", "tom@example.org", phone="555-0177", preferred_communication="sms"),
            flags={"relation": "Father"},
        ),
        services.GuardianLinkSpec(
            "emergency",
            data=guardian_data("Rose", "rose@example.org"),
            flags={"relation": "Grandmother", "receives_communications": False},
        ),
    ]
    _admit(location, office, django_capture_on_commit_callbacks, others=others)
    sarah, tom, rose = (Guardian.objects.get(email=f"{name}@example.org") for name in ("sarah", "tom", "rose"))

    assert sorted(Notification.objects.values_list("recipient_key", flat=True)) == sorted([_key(sarah), _key(tom)])
    assert not Notification.objects.filter(recipient_key=_key(rose)).exists()
    # Sarah by e-mail, Tom by SMS, Rose not at all
    assert [message.to for message in mail.outbox] == [["sarah@example.org"]]
    assert [to for to, _text in LoggingSMSBackend.sent] == ["555-0177"]
    assert "Emma Johnson is admitted" in LoggingSMSBackend.sent[0][1]
    assert set(Delivery.objects.values_list("channel", "address")) == {
        ("email", "sarah@example.org"),
        ("sms", "555-0177"),
    }


def test_the_primary_guardian_is_told_even_when_their_link_opts_out(
    location, office, django_capture_on_commit_callbacks
):
    primary = services.GuardianLinkSpec(
        "primary", data=guardian_data("Sarah", "sarah@example.org"), flags={"receives_communications": False}
    )
    _admit(location, office, django_capture_on_commit_callbacks, primary=primary)
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_guardian_with_a_portal_login_finds_it_in_the_inbox(location, office, django_capture_on_commit_callbacks):
    # given an existing guardian with a portal login (a sibling is already a student)
    user = parent_user(username="sarah")
    sarah = GuardianFactory(first_name="Sarah", last_name="Johnson", email="sarah@example.org", portal_user=user)
    StudentFactory(location=location, primary_guardian=sarah)

    student = _admit(
        location,
        office,
        django_capture_on_commit_callbacks,
        primary=services.GuardianLinkSpec("primary", guardian=sarah),
    )

    assert notification_unread_count(user=user) == 1
    notification = notification_list_for_user(user=user).get()
    assert notification.action_url == f"/portal/children/{student.pk}/"
    assert len(mail.outbox) == 1


def test_a_failed_admission_tells_nobody(location, office, django_capture_on_commit_callbacks):
    with pytest.raises(ValidationError), django_capture_on_commit_callbacks(execute=True):
        services.student_admit(
            actor=office,
            student_data=student_data(location, first_name=""),
            primary=services.GuardianLinkSpec("primary", data=guardian_data("Sarah", "sarah@example.org")),
        )
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert len(mail.outbox) == 0


def test_an_admission_can_be_made_without_notifications(location, office, django_capture_on_commit_callbacks):
    _admit(location, office, django_capture_on_commit_callbacks, notify_guardians=False)
    assert not Notification.objects.exists()
    assert len(mail.outbox) == 0


def test_a_suspended_existing_guardian_is_not_told(location, office, django_capture_on_commit_callbacks):
    user = parent_user(username="sarah")
    sarah = GuardianFactory(email="sarah@example.org", portal_user=user)
    StudentFactory(location=location, primary_guardian=sarah)
    Guardian.objects.filter(pk=sarah.pk).update(account_status="suspended")
    sarah.refresh_from_db()
    _admit(
        location,
        office,
        django_capture_on_commit_callbacks,
        primary=services.GuardianLinkSpec("primary", guardian=sarah),
    )
    assert not Notification.objects.exists()
    assert len(mail.outbox) == 0


def test_nothing_is_sent_before_the_admission_commits(location, office, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.student_admit(
            actor=office,
            student_data=student_data(location),
            primary=services.GuardianLinkSpec("primary", data=guardian_data("Sarah", "sarah@example.org")),
        )
    assert len(callbacks) == 1  # one delivery queued for after commit
    assert len(mail.outbox) == 0
    assert Delivery.objects.get().status == Delivery.Status.PENDING


def test_admission_through_the_api_tells_the_guardian(location, office, django_capture_on_commit_callbacks):
    """The API's admission calls the same service, so parents are told from there too."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(office)
    payload = {
        "first_name": "Emma",
        "last_name": "Johnson",
        "date_of_birth": "2015-03-15",
        "enrollment_date": "2025-09-01",
        "location": str(location.pk),
        "primary_guardian": guardian_data("Sarah", "sarah@example.org"),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/students/", payload, format="json")
    assert response.status_code == 201, response.content
    notification = Notification.objects.get(kind="student_admitted")
    assert notification.action_url == f"/portal/children/{response.json()['id']}/"
    assert [message.to for message in mail.outbox] == [["sarah@example.org"]]
