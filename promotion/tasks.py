from celery import shared_task
from django.db.models import Prefetch
from django.urls import reverse

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
    context = {
        "student_name": record.student.full_name,
        "outcome": record.outcome,
        "from_grade": str(record.from_grade or ""),
        "to_grade": str(record.to_grade or ""),
        "year": str(record.to_year),
        "carried": "",
        "lines": [],
    }
    paying, others = [], []  # the money goes only to who pays for the child (as on the money pages)
    for link in record.student.notified_links:
        recipient = guardian_recipient(link.guardian, link=link)
        if recipient.channels or recipient.user is not None:
            (paying if link.is_financially_responsible else others).append(recipient)
    money = {"carried": f"{record.carried_amount:.2f}" if record.carried_amount else "", "lines": lines}
    created = 0
    for recipients, said, key in (
        (paying, {**context, **money}, f"student_promoted:{record.pk}"),
        (others, context, f"student_promoted:{record.pk}"),
    ):
        if not recipients:
            continue
        result = notify(
            kind="student_promoted",
            recipients=recipients,
            context=said,
            metadata={"promotion_record": str(record.pk), "student": str(record.student_id)},
            location=record.student.location,
            type=Notification.Type.INFO,
            action_url=reverse("portal:child-promotions", args=[record.student_id]),
            dedupe_key=key,
        )
        created += len(result.created)
    return created


@shared_task(name="promotion.notify_promotions")
def notify_promotions(items: list) -> int:
    """``notify_promotion`` for a chunk of a run's records (``[record id, lines]`` each):
    one task per chunk instead of one per student."""
    return sum(notify_promotion(record_id, lines) for record_id, lines in items)
