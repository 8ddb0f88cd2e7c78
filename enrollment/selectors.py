"""Reads of the enrollment app. Every list that takes ``user=`` is scoped through
``families.selectors.students_visible_to`` (whose students) and
``academy.selectors.section_list`` (which sections), nowhere else."""

from datetime import date
from decimal import Decimal

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from academy.common.money import money_format
from academy.models import ClassSession, Section, Term, User
from academy.selectors import section_list
from enrollment.models import Enrollment, WaitlistEntry
from families.selectors import students_visible_to
from finance.models import FeeStructure

ZERO = Decimal("0.00")
ENROLLMENT_FEE_TYPE = "ENROLLMENT"
SESSION_PACKAGE_FEE_TYPE = "TUITION"


def _count_subquery(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("section_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def sections_with_seats(queryset: QuerySet[Section]) -> QuerySet[Section]:
    """``queryset`` annotated with ``enrolled_count`` (enrolled or paused),
    ``offered_count`` (seats held for an open waitlist offer) and ``waitlist_count``
    (entries still in line), each a subquery: one query whatever the row count."""
    return queryset.annotate(
        enrolled_count=_count_subquery(Enrollment.objects.active().filter(section_id=OuterRef("pk"))),
        offered_count=_count_subquery(
            WaitlistEntry.objects.filter(section_id=OuterRef("pk"), status=WaitlistEntry.Status.OFFERED)
        ),
        waitlist_count=_count_subquery(WaitlistEntry.objects.live().filter(section_id=OuterRef("pk"))),
    )


def term_open_for_enrollment(*, term: Term, today: date | None = None) -> bool:
    """A term takes enrollments while it is open and has not ended."""
    today = today or timezone.localdate()
    return term.status == Term.Status.OPEN and term.end_date >= today


def sections_open_for_enrollment(queryset: QuerySet[Section], *, today: date | None = None) -> QuerySet[Section]:
    """The sections of ``queryset`` whose term takes enrollments (``term_open_for_enrollment``)."""
    today = today or timezone.localdate()
    return queryset.filter(term__status=Term.Status.OPEN, term__end_date__gte=today)


def section_seats_taken(*, section: Section) -> int:
    """Seats held in ``section``: active enrollments plus open offers to the waitlist."""
    enrolled = Enrollment.objects.active().filter(section=section).count()
    offered = WaitlistEntry.objects.filter(section=section, status=WaitlistEntry.Status.OFFERED).count()
    return enrolled + offered


def enrollment_list(*, user: User) -> QuerySet[Enrollment]:
    """Enrollments of the students ``user`` may see, in the sections ``user`` may see
    (a parent: their children's, whatever the section)."""
    qs = Enrollment.objects.filter(student__in=students_visible_to(user))
    if user is not None and user.is_authenticated and user.is_academy_staff:
        qs = qs.filter(section__in=section_list(user=user))
    return qs.select_related(
        "student",
        "section__course",
        "section__location",
        "term__academic_year",
        "invoice",
        "current_level",
        "current_module",
    )


def waitlist_list(*, user: User) -> QuerySet[WaitlistEntry]:
    """Waitlist entries of the students ``user`` may see (parents see their children's
    place in line)."""
    qs = WaitlistEntry.objects.filter(student__in=students_visible_to(user))
    if user is not None and user.is_authenticated and user.is_academy_staff:
        qs = qs.filter(section__in=section_list(user=user))
    ahead = WaitlistEntry.objects.live().filter(section_id=OuterRef("section_id"), position__lte=OuterRef("position"))
    return qs.select_related("student", "section__course", "section__location").annotate(
        place_in_line=_count_subquery(ahead)
    )


def waitlist_for_section(*, section: Section) -> QuerySet[WaitlistEntry]:
    """The live line of ``section``, first in line first."""
    return WaitlistEntry.objects.live().filter(section=section).select_related("student").order_by("position")


def enrollment_fee_for(*, section: Section) -> Decimal:
    """The enrollment fee of ``section``: the active one-off ENROLLMENT fee structure of
    its location, the most specific first (course, then programme, then the location
    alone; a term or year scope must match the section's). Zero when there is none."""
    course = section.course
    term = section.term
    structures = (
        FeeStructure.objects.filter(
            location_id=section.location_id,
            fee_type__code=ENROLLMENT_FEE_TYPE,
            is_active=True,
            frequency=FeeStructure.Frequency.ONCE,
            grade_level__isnull=True,
        )
        .filter(Q(course__isnull=True) | Q(course_id=course.pk))
        .filter(Q(program__isnull=True) | Q(program_id=course.program_id))
        .filter(Q(term__isnull=True) | Q(term_id=term.pk))
        .filter(Q(academic_year__isnull=True) | Q(academic_year_id=term.academic_year_id))
    )

    def specificity(structure: FeeStructure) -> tuple:
        return (
            structure.course_id is not None,
            structure.program_id is not None,
            structure.term_id is not None,
            structure.academic_year_id is not None,
        )

    best = max(structures, key=specificity, default=None)
    return best.amount if best is not None else ZERO


def sessions_ahead(*, section: Section, start_date) -> int:
    """The section's meetings on or after ``start_date`` that are not cancelled: the
    default number of sessions an enrollment buys."""
    qs = ClassSession.objects.filter(section=section, is_cancelled=False)
    if start_date is not None:
        qs = qs.filter(date__gte=start_date)
    return qs.count()


# --- what a status change does to the money ---------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def enrollment_billing_effects(*, enrollment: Enrollment) -> dict[str, str]:
    """What pausing, resuming, withdrawing or transferring ``enrollment`` does to its
    billing, in plain words (it follows ``enrollment.services``: a status change never
    issues, cancels or credits an invoice; finance does that). A student who leaves the
    academy has every active enrollment ended with the ``withdraw`` effect."""
    remaining = enrollment.sessions_remaining
    rate = enrollment.session_rate
    sessions = _plural(remaining, "unused session")
    if remaining and rate > 0:
        sessions += f" (worth {money_format(rate * remaining)} at {money_format(rate)} a session)"
    if enrollment.invoice_id:
        invoice = f"the invoice already issued ({enrollment.invoice.invoice_number}) stays as it is"
    else:
        invoice = "no invoice was issued for this enrollment"
    first_name = enrollment.student.first_name
    if remaining:
        unused = (
            f"{sessions} {'is' if remaining == 1 else 'are'} not refunded automatically — record an adjustment "
            "or refund in Finance if you give money back"
        )
    else:
        unused = "no session is left unused"
    return {
        "pause": (
            f"Billing continues as before: no new invoice is issued and nothing is credited; {invoice}. "
            f"The seat and the {sessions} are kept for {first_name} until the enrollment is resumed."
        ),
        "resume": f"Resuming bills nothing: {first_name} goes back to the {sessions} already paid for.",
        "withdraw": (
            f"{invoice[0].upper()}{invoice[1:]}; nothing more is billed for this enrollment; {unused}. "
            "The seat is freed and offered to the first student on the waitlist."
        ),
        "transfer": (
            f"Nothing is billed again and no enrollment fee is charged: the {sessions} move to the new class "
            f"at the same session rate, and this enrollment ends as withdrawn; {invoice}."
        ),
    }
