from celery import shared_task

from enrollment.services import waitlist_expire_offers


@shared_task(name="enrollment.expire_offers")
def expire_offers_task() -> int:
    """Every few minutes: expire waitlist offers past their time and offer the seats to
    the next in line (idempotent)."""
    return waitlist_expire_offers()
