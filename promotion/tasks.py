from celery import shared_task
from django.db.models import Prefetch

from families.models import StudentGuardian
from families.selectors import guardian_recipient
from notifications.models import Notification
from notifications.services import notify
from promotion.models import PromotionRecord


@shared_task(name="promotion.notify_promotion")
def notify_promotion(record_id: str, lines: list) -> int:
    """Tell the guardians who receive communications what the year-end promotion did:
    the new grade (or graduation, or staying a year), and, when a balance was carried
    into the new year, invoice by invoice. Once per record (the dedupe key)."""
    record = (
        PromotionRecord.objects.select_related("student__location", "from_grade", "to_grade", "to_year")
        .prefetch_related(
            Prefetch(
                "student__guardian_links",
                queryset=StudentGuardian.objects.filter(receives_communications=True).select_related(
                    "guardian", "guardian__portal_user"
                ),
                to_attr="notified_links",
            )
        )
        .filter(pk=record_id)
        .first()
    )
    if record is None:
        return 0
    recipients = [guardian_recipient(link.guardian, link=link) for link in record.student.notified_links]
    recipients = [r for r in recipients if r.channels or r.user is not None]
    if not recipients:
        return 0
    result = notify(
        kind="student_promoted",
        recipients=recipients,
        context={
            "student_name": record.student.full_name,
            "outcome": record.outcome,
            "from_grade": str(record.from_grade or ""),
            "to_grade": str(record.to_grade or ""),
            "year": str(record.to_year),
            "carried": f"{record.carried_amount:.2f}" if record.carried_amount else "",
            "lines": lines,
        },
        metadata={"promotion_record": str(record.pk), "student": str(record.student_id)},
        location=record.student.location,
        type=Notification.Type.INFO,
        dedupe_key=f"student_promoted:{record.pk}",
    )
    return len(result.created)


@shared_task(name="promotion.notify_promotions")
def notify_promotions(items: list) -> int:
    """``notify_promotion`` for a chunk of a run's records (``[record id, lines]`` each):
    one task per chunk instead of one per student."""
    return sum(notify_promotion(record_id, lines) for record_id, lines in items)
