"""Reads of document requests and issued documents for the staff and parent portals,
scoped by ``families.selectors.students_visible_to`` (office staff: the students of
their locations; a parent: their own children). Out of scope reads as "not found"."""

from datetime import timedelta

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from academy.models import Job
from families.selectors import students_visible_to
from grading.documents import DOCUMENT
from grading.models import DocumentRequest, IssuedDocument


def document_request_list(*, user) -> QuerySet[DocumentRequest]:
    """The requests of the students ``user`` may see, with what a list shows of them."""
    return DocumentRequest.objects.filter(student__in=students_visible_to(user).values("pk")).select_related(
        "student__location", "requested_by", "processed_by"
    )


def document_request_queue(
    *, user, type: str = "", status: str = "", location=None, older_than_days: int | None = None
) -> QuerySet[DocumentRequest]:
    """The office's queue: open requests first (pending, then approved), oldest first.
    ``status`` is one of the request's statuses, ``"open"`` (pending or approved) or
    empty (any)."""
    requests = document_request_list(user=user)
    if type:
        requests = requests.filter(type=type)
    if status == "open":
        requests = requests.filter(status__in=DocumentRequest.OPEN)
    elif status:
        requests = requests.filter(status=status)
    if location is not None:
        requests = requests.filter(student__location=location)
    if older_than_days:
        requests = requests.filter(created_at__lte=timezone.now() - timedelta(days=older_than_days))
    rank = Case(
        When(status=DocumentRequest.Status.PENDING, then=Value(0)),
        When(status=DocumentRequest.Status.APPROVED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return requests.annotate(rank=rank).order_by("rank", "created_at", "pk")


def issued_document_list(*, user) -> QuerySet[IssuedDocument]:
    return IssuedDocument.objects.filter(student__in=students_visible_to(user).values("pk")).select_related(
        "student", "issued_by", "request"
    )


def document_latest_jobs(documents) -> dict:
    """The newest job that made each of ``documents``' PDF, by document id: one query."""
    ids = [str(document.pk) for document in documents]
    if not ids:
        return {}
    latest: dict = {}
    for job in Job.objects.filter(kind=DOCUMENT, params__document__in=ids).order_by("-created_at"):
        latest.setdefault(job.params.get("document"), job)
    return latest


def portal_document_requests(*, user) -> QuerySet[DocumentRequest]:
    """A parent's children's requests, newest first, without the office's notes."""
    return (
        DocumentRequest.objects.filter(student__in=students_visible_to(user).values("pk"))
        .select_related("student")
        .defer("notes")
        .order_by("-created_at", "pk")
    )
