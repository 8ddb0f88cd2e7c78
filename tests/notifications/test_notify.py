import pytest
from django.core import mail

from notifications import services
from notifications.models import Delivery, Notification
from notifications.selectors import notification_list_for_user, notification_unread_count
from notifications.sms import LoggingSMSBackend
from notifications.tasks import delivery_send_task
from tests.factories.academy import parent_user

CONTEXT = {
    "guardian_name": "Sarah Johnson",
    "student_name": "Emma Johnson",
    "location_name": "Main campus",
    "student_number": "STU-2025-0001",
}


def sarah(user=None, channels=("email",)):
    return services.Recipient(
        name="Sarah Johnson",
        user=user,
        email="sarah@example.org",
        phone="555-0124",
        channels=channels,
        key="families.guardian:1",
    )


@pytest.mark.django_db(transaction=True)
def test_notify_stores_the_message_and_sends_email_after_commit():
    user = parent_user(username="sarah")
    result = services.notify(kind="student_admitted", recipients=[sarah(user)], context=CONTEXT)
    notification = result.created[0]
    notification.refresh_from_db()
    assert notification.title == "Emma Johnson is admitted to Main campus"
    assert "STU-2025-0001" in notification.message
    assert notification.status == Notification.Status.SENT
    assert notification.sent_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sarah@example.org"]
    assert mail.outbox[0].alternatives[0][1] == "text/html"
    assert notification_unread_count(user=user) == 1


@pytest.mark.django_db(transaction=True)
def test_sms_goes_through_the_configured_backend():
    LoggingSMSBackend.sent = []
    services.notify(kind="student_admitted", recipients=[sarah(channels=("sms",))], context=CONTEXT)
    assert LoggingSMSBackend.sent[-1][0] == "555-0124"
    assert "Emma Johnson is admitted" in LoggingSMSBackend.sent[-1][1]
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.notify(kind="student_admitted", recipients=[sarah()], context=CONTEXT)
    # the callbacks are only run on commit; here the test transaction is rolled back
    assert len(callbacks) == 1
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_the_same_dedupe_key_notifies_each_recipient_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.notify(kind="student_admitted", recipients=[sarah()], context=CONTEXT, dedupe_key="adm:1")
        second = services.notify(kind="student_admitted", recipients=[sarah()], context=CONTEXT, dedupe_key="adm:1")
    assert len(first.created) == 1 and second.skipped == 1 and not second.created
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_retried_delivery_task_never_sends_twice(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(kind="student_admitted", recipients=[sarah()], context=CONTEXT)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    # the broker redelivers the same task (acks_late after a lost ack)
    assert delivery_send_task.apply(args=[str(delivery.pk)]).get() == "already handled"
    assert len(mail.outbox) == 1


class BrokenSMS:
    def send(self, *, to, message):
        raise ConnectionError("gateway down")


@pytest.mark.django_db
def test_a_failing_gateway_is_retried_then_recorded_as_failed(settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "tests.notifications.test_notify.BrokenSMS"
    with django_capture_on_commit_callbacks(execute=True):
        result = services.notify(kind="student_admitted", recipients=[sarah(channels=("sms",))], context=CONTEXT)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 5
    assert "gateway down" in delivery.last_error
    result.created[0].refresh_from_db()
    assert result.created[0].status == Notification.Status.FAILED


@pytest.mark.django_db
def test_mark_read_only_for_the_recipient():
    user, other = parent_user(username="sarah"), parent_user(username="bob")
    notification = services.notify(
        kind="student_admitted", recipients=[sarah(user, channels=())], context=CONTEXT
    ).created[0]
    with pytest.raises(Exception):
        services.notification_mark_read(notification=notification, user=other)
    services.notification_mark_read(notification=notification, user=user)
    notification.refresh_from_db()
    assert notification.status == Notification.Status.READ and notification.read_at is not None
    assert notification_unread_count(user=user) == 0
    assert list(notification_list_for_user(user=other)) == []


@pytest.mark.django_db
def test_the_sweep_requeues_stale_pending_and_fails_interrupted_sends(django_capture_on_commit_callbacks):
    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=False):  # the broker was down: nothing was queued
        services.notify(kind="student_admitted", recipients=[sarah(), sarah(channels=("sms",))], context=CONTEXT)
    email, sms = Delivery.objects.order_by("channel")
    long_ago = timezone.now() - timezone.timedelta(hours=2)
    Delivery.objects.filter(pk=sms.pk).update(status=Delivery.Status.SENDING, updated_at=long_ago)
    Delivery.objects.filter(pk=email.pk).update(updated_at=long_ago)
    assert services.deliveries_resend() == {"requeued": 1, "failed": 1}
    email.refresh_from_db()
    sms.refresh_from_db()
    assert email.status == Delivery.Status.SENT and len(mail.outbox) == 1
    assert sms.status == Delivery.Status.FAILED and "Interrupted" in sms.last_error


def test_plain_text_and_titles_are_not_html_escaped(db):
    from notifications.services import notification_render

    rendered = notification_render(
        "student_admitted",
        {
            "guardian_name": "Seán O'Brien",
            "student_name": "Aoife <O'Brien>",
            "location_name": "A & B",
            "student_number": "1",
        },
    )
    assert "Seán O'Brien" in rendered.text and "Aoife <O'Brien>" in rendered.title and "A & B" in rendered.title
    assert "O&#x27;Brien" in rendered.html  # the HTML part stays escaped
