from django.db.models import QuerySet

from notifications.models import Notification


def notification_list_for_user(*, user) -> QuerySet[Notification]:
    """The caller's own notifications, newest first."""
    if not (user and user.is_authenticated):
        return Notification.objects.none()
    return Notification.objects.live().filter(recipient=user)


def notification_unread_count(*, user) -> int:
    if not (user and user.is_authenticated):
        return 0
    return Notification.objects.unread().filter(recipient=user).count()


def notification_list_for_keys(*, keys: list[str]) -> QuerySet[Notification]:
    """Everything sent to the recipients the caller names (staff view of a family)."""
    return Notification.objects.live().filter(recipient_key__in=keys).prefetch_related("deliveries")
