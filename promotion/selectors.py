"""Reads of promotion: the proposals a run's preview makes (a fixed number of queries for
any number of students: bench/promotion.py), the runs and records people may see."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Count, Q, QuerySet

from academy.models import GradeLevel
from academy.selectors import location_ids_visible_to
from attendance.models import AttendanceRecord
from attendance.selectors import Summary, default_threshold, status_counts
from finance.models import FinancePolicy, Invoice, StudentAccount
from grading.models import Result
from promotion.models import CONTINUING, Outcome, PromotionProposal, PromotionRecord, PromotionRun
from students.models import Student

CENT = Decimal("0.01")


@dataclass
class Proposal:
    """One student's proposed outcome and why."""

    student: Student
    outcome: str
    reason: str = ""
    from_grade: GradeLevel | None = None
    to_grade: GradeLevel | None = None
    attendance: Decimal | None = None
    results_failed: int = 0
    result_average: Decimal | None = None
    carry_amount: Decimal = Decimal("0.00")
    invoices: list = field(default_factory=list)


def grade_mapping(run: PromotionRun) -> dict:
    """from grade id (str) -> the GradeLevel it moves to, or ``None`` to graduate: the
    run's mapping where it says, else each grade's next grade."""
    grades = {str(g.pk): g for g in GradeLevel.objects.all()}
    mapping = {key: grades.get(str(g.next_grade_id)) if g.next_grade_id else None for key, g in grades.items()}
    for source, target in (run.grade_map or {}).items():
        mapping[str(source)] = grades.get(str(target)) if target else None
    return mapping


def run_students(run: PromotionRun) -> QuerySet[Student]:
    """The students a run covers: the location's students (any status: a student who
    left is recorded as left), narrowed to the run's grades or students."""
    students = Student.objects.filter(location=run.location)
    if run.grade_ids:
        students = students.filter(grade_level_id__in=run.grade_ids)
    if run.student_ids:
        students = students.filter(pk__in=run.student_ids)
    return students.select_related("grade_level").order_by("grade_level__order", "last_name", "first_name", "pk")


def _percent(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def preview(run: PromotionRun) -> list[Proposal]:
    """Every student of the run with the proposed outcome and its reason, and what would
    be carried forward, invoice by invoice. Writes nothing. Seven queries."""
    students = list(run_students(run))
    ids = [s.pk for s in students]
    mapping = grade_mapping(run)
    year = run.from_year
    threshold = (
        run.min_attendance
        if run.min_attendance is not None
        else (
            run.location.attendance_threshold if run.location.attendance_threshold is not None else default_threshold()
        )
    )
    promoted_before = set(
        PromotionRecord.objects.filter(student_id__in=ids, from_year=year, corrects__isnull=True).values_list(
            "student_id", flat=True
        )
    )
    attendance = {
        row.pop("student_id"): Summary.of(row).percentage
        for row in AttendanceRecord.objects.filter(
            student_id__in=ids, session_date__gte=year.start_date, session_date__lte=year.end_date
        )
        .order_by()
        .values("student_id")
        .annotate(**status_counts())
    }
    results = {
        row["student_id"]: row
        for row in Result.objects.filter(
            student_id__in=ids,
            state__in=[Result.State.PUBLISHED, Result.State.FROZEN],
            section__term__academic_year=year,
        )
        .order_by()
        .values("student_id")
        .annotate(failed=Count("pk", filter=Q(passed=False)), average=Avg("percentage"))
    }
    invoices = defaultdict(list)
    for invoice in Invoice.objects.filter(student_id__in=ids, status__in=Invoice.OPEN_STATUSES).order_by(
        "issue_date", "invoice_number"
    ):
        if invoice.balance > 0:
            invoices[invoice.student_id].append(invoice)
    hold_threshold = None
    if run.hold_detains:
        policy = FinancePolicy.objects.filter(location=run.location, block_enrollment=True).first()
        hold_threshold = policy.hold_threshold if policy is not None else None
    balances = (
        dict(StudentAccount.objects.filter(pk__in=ids).values_list("pk", "balance"))
        if hold_threshold is not None
        else {}
    )
    proposals = []
    for student in students:
        grade = student.grade_level
        proposal = Proposal(
            student=student,
            outcome=Outcome.PROMOTED,
            from_grade=grade,
            attendance=_percent(attendance.get(student.pk)),
            results_failed=results.get(student.pk, {}).get("failed", 0),
            result_average=_percent(results.get(student.pk, {}).get("average")),
        )
        owed = invoices.get(student.pk, [])
        if run.carry_forward and owed:
            proposal.invoices = [{"number": i.invoice_number, "balance": f"{i.balance:.2f}"} for i in owed]
            proposal.carry_amount = sum((Decimal(i.balance) for i in owed), Decimal("0.00"))
        proposals.append(proposal)
        if student.pk in promoted_before:
            proposal.outcome, proposal.reason = Outcome.SKIPPED, f"Already promoted from {year}."
            proposal.invoices, proposal.carry_amount = [], Decimal("0.00")
            continue
        if student.status == Student.Status.GRADUATED:
            proposal.outcome, proposal.reason = Outcome.SKIPPED, "Already graduated."
            proposal.invoices, proposal.carry_amount = [], Decimal("0.00")
            continue
        if student.status != Student.Status.ACTIVE:
            proposal.outcome, proposal.reason = Outcome.LEFT, f"Not active ({student.get_status_display().lower()})."
            continue
        if grade is None or str(grade.pk) not in mapping:
            proposal.outcome, proposal.reason = (
                Outcome.SKIPPED,
                "Grade mismatch: the student has no grade to move from.",
            )
            proposal.invoices, proposal.carry_amount = [], Decimal("0.00")
            continue
        if student.academic_year_id not in (None, year.pk):
            proposal.outcome = Outcome.SKIPPED
            proposal.reason = f"Grade mismatch: the student is in {student.academic_year}, not {year}."
            proposal.invoices, proposal.carry_amount = [], Decimal("0.00")
            continue
        target = mapping[str(grade.pk)]
        reasons = []
        if proposal.attendance is not None and proposal.attendance < threshold:
            short = threshold - proposal.attendance
            reasons.append(f"Attendance {proposal.attendance}% is {short} below the {threshold}% required.")
        if run.max_failed_results is not None and proposal.results_failed > run.max_failed_results:
            reasons.append(f"{proposal.results_failed} failed result(s); at most {run.max_failed_results} allowed.")
        if hold_threshold is not None and balances.get(student.pk, Decimal("0")) > hold_threshold:
            reasons.append(f"Finance hold: a balance of {balances[student.pk]} (the limit is {hold_threshold}).")
        if reasons:
            proposal.outcome, proposal.reason, proposal.to_grade = Outcome.DETAINED, " ".join(reasons), grade
        elif target is None:
            proposal.outcome, proposal.reason = Outcome.GRADUATED, f"{grade} is the final grade."
        else:
            proposal.to_grade, proposal.reason = target, f"{grade} to {target}."
    return proposals


@dataclass
class GradeSummary:
    grade: str
    counts: dict
    carried: Decimal


def summary(proposals) -> list[GradeSummary]:
    """Per grade: the count of each final outcome and the money carried."""
    by_grade: dict = {}
    for p in proposals:
        outcome = p.final_outcome if isinstance(p, PromotionProposal) else p.outcome
        grade = str(p.from_grade) if p.from_grade is not None else "No grade"
        entry = by_grade.setdefault(grade, GradeSummary(grade=grade, counts=defaultdict(int), carried=Decimal("0.00")))
        entry.counts[outcome] += 1
        if outcome in CONTINUING:  # only who stays on carries a balance into the new year
            entry.carried += p.carry_amount
    return list(by_grade.values())


def run_list(*, user) -> QuerySet[PromotionRun]:
    """The runs of the locations ``user`` works at."""
    runs = PromotionRun.objects.select_related("location", "from_year", "to_year", "created_by", "approved_by")
    visible = location_ids_visible_to(user)
    return runs if visible is None else runs.filter(location_id__in=visible)


def proposal_list(run: PromotionRun) -> QuerySet[PromotionProposal]:
    return run.proposals.select_related("student", "from_grade", "to_grade", "overridden_by")


def run_record_list(run: PromotionRun) -> QuerySet[PromotionRecord]:
    """What a run did, one record per student, by grade and name."""
    return (
        PromotionRecord.objects.filter(run=run)
        .select_related("student", "from_grade", "to_grade", "from_year", "to_year", "approved_by")
        .order_by("from_grade__order", "student__last_name", "student__first_name", "pk")
    )


def student_record_list(student) -> QuerySet[PromotionRecord]:
    """A student's promotion records, newest first."""
    return (
        PromotionRecord.objects.filter(student=student)
        .select_related("from_grade", "to_grade", "from_year", "to_year", "approved_by")
        .order_by("-created_at", "pk")
    )
