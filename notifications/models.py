"""Generic notifications (docs/rules.md, Notifications): an in-app message to a user and its deliveries by
e-mail or SMS. This app knows no domain: callers resolve recipients and channels."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from academy.common.models import TimeStampedModel


class NotificationQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def unread(self):
        return self.live().filter(read_at__isnull=True)


class Notification(TimeStampedModel):
    """One message to one recipient. ``recipient`` is the user who sees it in-app (a
    guardian without a portal login still gets e-mail/SMS deliveries)."""

    class Type(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"
        SUCCESS = "success", "Success"
        ALERT = "alert", "Alert"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient_key = models.CharField(
        max_length=80,
        blank=True,
        db_index=True,
        help_text='Who the caller meant, e.g. "families.guardian:<id>", so staff can list what a family was sent.',
    )
    recipient_name = models.CharField(max_length=200, blank=True)
    location = models.ForeignKey(
        "academy.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=60, help_text="Template key under templates/notifications/.")
    title = models.CharField(max_length=200)
    message = models.TextField()
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.INFO)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    read_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    action_url = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["recipient", "status"], name="notification_recipient_status"),
            models.Index(fields=["location", "type"], name="notification_location_type"),
            models.Index(fields=["read_at"], name="notification_read_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "read", "failed"]), name="notification_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(type__in=["info", "warning", "error", "success", "alert"]), name="notification_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=["low", "medium", "high", "urgent"]), name="notification_priority_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="read") | Q(read_at__isnull=False),
                name="notification_read_has_read_at",
            ),
        ]

    # Messages that carry a personal sign-in link: only their recipient may read them.
    PRIVATE_KINDS = frozenset({"password_reset", "portal_invitation"})
    PRIVATE_PLACEHOLDER = "This message held a personal sign-in link; only its recipient can read it."

    @property
    def is_private(self) -> bool:
        return self.kind in self.PRIVATE_KINDS

    def __str__(self) -> str:
        return self.title


class Delivery(TimeStampedModel):
    """Sending one notification over one channel. ``dedupe_key`` is unique, and a
    delivery is claimed (pending -> sending) before it is sent, so a retried task
    never sends it twice."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=["email", "sms"]), name="delivery_channel_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed"]), name="delivery_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="delivery_sent_has_sent_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address} ({self.status})"
