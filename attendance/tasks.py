from celery import shared_task

from attendance.services import makeup_credits_expire


@shared_task(name="attendance.expire_makeup_credits")
def expire_makeup_credits_task() -> int:
    """Daily: make-up credits not booked by their expiry date expire (idempotent)."""
    return makeup_credits_expire()
