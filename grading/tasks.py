from celery import shared_task
from django.db.models import Prefetch

from families.models import StudentGuardian
from families.selectors import guardian_recipient
from grading.models import Result
from notifications.models import Notification
from notifications.services import notify


@shared_task(name="grading.notify_results_published")
def notify_results_published(result_ids: list[str]) -> int:
    """Tell the guardians who receive communications that a result was published or
    changed. Once per result and grade (the dedupe key): a repeated task tells nobody twice."""
    results = (
        Result.objects.filter(pk__in=result_ids)
        .select_related("student", "section__course", "section__term", "section__location")
        .prefetch_related(
            Prefetch(
                "student__guardian_links",
                queryset=StudentGuardian.objects.filter(receives_communications=True).select_related(
                    "guardian", "guardian__portal_user"
                ),
                to_attr="notified_links",
            )
        )
    )
    told = 0
    for result in results:
        if result.state == Result.State.DRAFT:
            continue
        recipients = [guardian_recipient(link.guardian, link=link) for link in result.student.notified_links]
        recipients = [r for r in recipients if r.channels or r.user is not None]
        if not recipients:
            continue
        notify(
            kind="result_published",
            recipients=recipients,
            context={
                "student_name": result.student.full_name,
                "course": result.section.course.title,
                "term": str(result.section.term),
                "changed": result.last_change_id is not None,
            },
            metadata={"result": str(result.pk), "student": str(result.student_id)},
            location=result.section.location,
            type=Notification.Type.INFO,
            dedupe_key=f"result_published:{result.pk}:{result.last_change_id or ''}",
        )
        told += 1
    return told


@shared_task(name="grading.notify_document_request")
def notify_document_request(request_id: str, status: str) -> int:
    """Tell the guardians who receive communications that a document request changed
    (received, approved, ready, rejected), once per request and status, over the channels
    each chose."""
    from grading.documents import token_hours
    from grading.models import DocumentRequest

    request = (
        DocumentRequest.objects.select_related("student__location")
        .prefetch_related(
            Prefetch(
                "student__guardian_links",
                queryset=StudentGuardian.objects.filter(receives_communications=True).select_related(
                    "guardian", "guardian__portal_user"
                ),
                to_attr="notified_links",
            )
        )
        .filter(pk=request_id, status=status)
        .first()
    )
    if request is None:  # moved on since: the newer status tells them
        return 0
    recipients = [guardian_recipient(link.guardian, link=link) for link in request.student.notified_links]
    recipients = [r for r in recipients if r.channels or r.user is not None]
    if not recipients:
        return 0
    result = notify(
        kind="document_request",
        recipients=recipients,
        context={
            "status": status,
            "student_name": request.student.full_name,
            "document": request.get_type_display(),
            "reason": request.rejection_reason,
            "valid_hours": token_hours(),
        },
        metadata={"document_request": str(request.pk), "student": str(request.student_id)},
        location=request.student.location,
        type=Notification.Type.WARNING if status == DocumentRequest.Status.REJECTED else Notification.Type.INFO,
        dedupe_key=f"document_request:{request.pk}:{status}",
    )
    return len(result.created)
