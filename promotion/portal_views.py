"""The parent portal's year-end notices: per child, what each year-end promotion did
(moved up from one grade to the next, stayed in the same grade, graduated, or left) and
the academic year it moved into, newest first; a record corrected later shows as its
correction only. Nothing the office wrote about the decision (a record's notes) is shown.

Whose child: ``families.selectors.students_visible_to`` (the children an active guardian
record is linked to); one child's page goes through ``guardian_child_get``, so another
family's child is a 404, as on the other portal pages.

Money follows the rule of the portal's money pages (``finance.portal_views``): only for
the children the parent pays for (``families.selectors.students_paid_for_by``) does a
notice show the balance carried into the new year and the new invoices that carry it
(``Invoice.carried_from`` set, of the child and the year moved into), each linked to
its page under Money. A guardian who does not pay for a child sees the child's notices
without any amount.

A fixed number of queries whatever the number of children, records and invoices."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.http import Http404

from families.portal_shell import parent_required, portal_render
from families.selectors import guardian_child_get, students_paid_for_by, students_visible_to
from finance.selectors import invoice_list
from promotion.models import PromotionRecord
from students.models import Student


@dataclass
class Notice:
    """One promotion record as the parent reads it; ``invoices`` only for a paying parent."""

    record: PromotionRecord
    pays: bool = False
    invoices: list = field(default_factory=list)

    @property
    def carried(self) -> bool:
        return self.pays and self.record.carried_amount > 0


@dataclass
class ChildNotices:
    child: Student
    pays: bool = False
    notices: list = field(default_factory=list)


def _notices(request, children: list[Student]) -> list[ChildNotices]:
    """Each child's notices, newest first, and the carried invoices of those the parent
    pays for. Three queries: the records, the paying children, the invoices."""
    entries = {child.pk: ChildNotices(child=child) for child in children}
    if not entries:
        return []
    records = (
        PromotionRecord.objects.filter(student_id__in=list(entries), correction__isnull=True)
        .select_related("from_grade", "to_grade", "from_year", "to_year")
        .order_by("-created_at", "pk")
    )
    paying = set(
        students_paid_for_by(guardian=request.guardian).filter(pk__in=list(entries)).values_list("pk", flat=True)
    )
    for entry in entries.values():
        entry.pays = entry.child.pk in paying
    by_year: dict = defaultdict(list)  # (student id, year id) -> the notices carrying into that year
    for record in records:
        entry = entries[record.student_id]
        notice = Notice(record=record, pays=entry.pays)
        entry.notices.append(notice)
        if notice.carried:
            by_year[(record.student_id, record.to_year_id)].append(notice)
    if by_year:
        invoices = (
            invoice_list(user=request.user)
            .filter(
                student_id__in={student_id for student_id, _year in by_year},
                academic_year_id__in={year_id for _student, year_id in by_year},
                carried_from__isnull=False,
            )
            .select_related("carried_from")
            .order_by("issue_date", "invoice_number")
        )
        for invoice in invoices:
            for notice in by_year.get((invoice.student_id, invoice.academic_year_id), ()):
                notice.invoices.append(invoice)
    return list(entries.values())


def _render(request, children: list[Student], *, child: Student | None = None):
    context = {"children": _notices(request, children), "child": child, "nav": "children"}
    return portal_render(request, "promotion/portal/promotions.html", context)


@parent_required
def promotions(request):
    """Every child's year-end notices."""
    children = list(students_visible_to(request.user).order_by("first_name", "last_name", "pk"))
    return _render(request, children)


@parent_required
def child_promotions(request, pk):
    """One child's year-end notices (another family's child, or an unknown one: 404)."""
    try:
        student, _link = guardian_child_get(user=request.user, pk=pk)
    except Student.DoesNotExist:
        raise Http404("No such child.") from None
    return _render(request, [student], child=student)
