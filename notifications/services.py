"""Writes of the notifications app: create notifications, deliver them, mark them read.

``notify`` is the one entry point for every other app. The caller decides who is told
and over which channels (``families.selectors`` knows guardians' preferences); this
app renders the template, stores the in-app row and queues one delivery task per
channel after the caller's transaction commits.
"""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone

from academy.common.services import record_history
from notifications.models import Delivery, Notification
from notifications.sms import sms_backend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """Who to tell and how. ``user`` gets the in-app row; ``email``/``phone`` are used
    for the channels listed in ``channels`` ("email", "sms")."""

    name: str = ""
    user: object | None = None
    email: str = ""
    phone: str = ""
    channels: tuple[str, ...] = ("email",)
    key: str = ""


@dataclass(frozen=True)
class Rendered:
    title: str
    text: str
    html: str = ""


@dataclass
class NotifyResult:
    created: list[Notification] = field(default_factory=list)
    skipped: int = 0  # recipients already notified under the same dedupe key


def _render_plain(name: str, context: dict) -> str:
    """A plain-text template without HTML escaping (O'Brien stays O'Brien)."""
    return get_template(name).template.render(Context(context, autoescape=False))


def notification_render(kind: str, context: dict) -> Rendered:
    """Render ``templates/notifications/<kind>.subject.txt``, ``.txt`` and optional ``.html``."""
    title = _render_plain(f"notifications/{kind}.subject.txt", context).strip()
    text = _render_plain(f"notifications/{kind}.txt", context).strip()
    try:
        html = render_to_string(f"notifications/{kind}.html", context)
    except TemplateDoesNotExist:
        html = ""
    return Rendered(title=" ".join(title.split()), text=text, html=html)


# Notification fields ``notify`` fills from rows its caller has just read (and its new
# id): ``full_clean`` need not query for them.
NOT_CLEANED = ["id", "dedupe_key", "recipient", "location", "created_by"]


@transaction.atomic(savepoint=False)  # nested, it rolls back with its caller
def notify(
    *,
    kind: str,
    recipients: list[Recipient],
    context: dict | None = None,
    actor=None,
    location=None,
    type: str = Notification.Type.INFO,
    priority: str = Notification.Priority.MEDIUM,
    action_url: str = "",
    metadata: dict | None = None,
    dedupe_key: str = "",
) -> NotifyResult:
    """Tell every recipient about something. Writes the notifications now and queues
    their deliveries after commit. With ``dedupe_key``, a recipient already told under
    that key is skipped, so a repeated job never notifies twice."""
    rendered = notification_render(kind, context or {})
    result = NotifyResult()
    for recipient in recipients:
        key = (
            f"{dedupe_key}:{recipient.key or recipient.email or recipient.phone or recipient.user}"
            if dedupe_key
            else None
        )
        notification = Notification(
            recipient=recipient.user,
            recipient_key=recipient.key,
            recipient_name=recipient.name,
            location=location,
            kind=kind,
            title=rendered.title[:200],
            message=rendered.text,
            type=type,
            priority=priority,
            action_url=action_url,
            metadata=metadata or {},
            dedupe_key=key,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        channels = [
            (channel, address)
            for channel, address in (("email", recipient.email), ("sms", recipient.phone))
            if channel in recipient.channels and address
        ]
        if not channels:  # in-app only: it has reached the recipient once it is stored
            notification.status = Notification.Status.SENT
            notification.sent_at = timezone.now()
        # Field shapes and choices are checked in Python; the rows it refers to were just
        # read by the caller and the check constraints only repeat the choices, so they
        # are left to the database instead of a query each. The dedupe key's uniqueness
        # is the database's too: a repeat fails on insert and is skipped.
        notification.full_clean(exclude=NOT_CLEANED, validate_constraints=False)
        record_history(notification, actor=actor)
        try:
            with transaction.atomic():
                notification.save(force_insert=True)
        except IntegrityError:
            result.skipped += 1
            continue
        deliveries = [
            Delivery(
                notification=notification, channel=channel, address=address, dedupe_key=f"{notification.pk}:{channel}"
            )
            for channel, address in channels
        ]
        Delivery.objects.bulk_create(deliveries)
        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: _queue_delivery(pk))
        result.created.append(notification)
    return result


def _queue_delivery(delivery_pk) -> None:
    """Runs after commit: a broker or eager-send error must not fail the request whose
    data is already committed; the delivery stays pending for ``deliveries_resend``.
    Without a broker the sending runs in a background thread, not in the request (an
    e-mail through SMTP took 40 of a payment's 120 ms)."""
    from academy.common.background import task_queue
    from notifications.tasks import delivery_send_task

    try:
        task_queue(delivery_send_task, str(delivery_pk))
    except Exception:
        logger.exception("could not queue delivery %s", delivery_pk)


def delivery_claim(*, delivery_pk) -> Delivery | None:
    """Move a pending delivery to "sending" in its own committed transaction. Returns
    ``None`` if it was already claimed or sent: the caller must not send it."""
    with transaction.atomic():
        claimed = Delivery.objects.filter(pk=delivery_pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.SENDING, updated_at=timezone.now()
        )
    if not claimed:
        return None
    return Delivery.objects.select_related("notification").get(pk=delivery_pk)


def delivery_send(*, delivery: Delivery) -> None:
    """Send one claimed delivery through its channel (raises on a gateway error)."""
    notification = delivery.notification
    if delivery.channel == Delivery.Channel.EMAIL:
        rendered = notification_render(notification.kind, {**notification.metadata, "notification": notification})
        email = EmailMultiAlternatives(subject=notification.title, body=notification.message, to=[delivery.address])
        if rendered.html:
            email.attach_alternative(rendered.html, "text/html")
        email.send(fail_silently=False)
    else:
        sms_backend().send(to=delivery.address, message=f"{notification.title}: {notification.message}"[:640])


@transaction.atomic
def delivery_record_result(*, delivery_pk, error: str = "", final: bool = True) -> Delivery:
    """Record the outcome of one attempt. A failed attempt that will be retried goes
    back to pending; a final failure marks the delivery and its notification Failed."""
    delivery = Delivery.objects.select_for_update().select_related("notification").get(pk=delivery_pk)
    notification = Notification.objects.select_for_update().get(pk=delivery.notification_id)
    delivery.attempts += 1
    now = timezone.now()
    if not error:
        delivery.status, delivery.sent_at, delivery.last_error = Delivery.Status.SENT, now, ""
    elif final:
        delivery.status, delivery.last_error = Delivery.Status.FAILED, error[:2000]
    else:
        delivery.status, delivery.last_error = Delivery.Status.PENDING, error[:2000]
    delivery.save(update_fields=["status", "sent_at", "last_error", "attempts", "updated_at"])
    statuses = set(notification.deliveries.values_list("status", flat=True))
    if Delivery.Status.FAILED in statuses:
        notification.status = Notification.Status.FAILED
    elif statuses == {Delivery.Status.SENT} and notification.status == Notification.Status.PENDING:
        notification.status, notification.sent_at = Notification.Status.SENT, now
    notification.save(update_fields=["status", "sent_at", "updated_at"])
    return delivery


@transaction.atomic
def notification_mark_read(*, notification: Notification, user) -> Notification:
    """Mark one of ``user``'s own notifications read (idempotent)."""
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.recipient_id != user.pk:
        raise ValidationError("This notification is not yours.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.status = Notification.Status.READ
        notification.save(update_fields=["read_at", "status", "updated_at"])
    return notification


def notification_mark_all_read(*, user) -> int:
    now = timezone.now()
    return (
        Notification.objects.unread()
        .filter(recipient=user)
        .update(read_at=now, status=Notification.Status.READ, updated_at=now)
    )


def deliveries_resend(*, pending_older_than_minutes: int = 10, sending_older_than_minutes: int = 60) -> dict:
    """Beat sweep: queue again deliveries left pending (broker was down), and fail the
    ones stuck in "sending" (a worker died mid-send; sending again could send twice)."""
    now = timezone.now()
    stuck = list(
        Delivery.objects.filter(
            status=Delivery.Status.SENDING, updated_at__lt=now - timezone.timedelta(minutes=sending_older_than_minutes)
        ).values_list("pk", flat=True)
    )
    for pk in stuck:
        delivery_record_result(delivery_pk=pk, error="Interrupted while sending; not sent again to avoid a duplicate.")
    pending = list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING, updated_at__lt=now - timezone.timedelta(minutes=pending_older_than_minutes)
        ).values_list("pk", flat=True)
    )
    for pk in pending:
        _queue_delivery(pk)
    return {"requeued": len(pending), "failed": len(stuck)}
