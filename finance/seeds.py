"""Seed steps of the finance app. Every environment gets the fee types; dev and test get
fee structures and policies; only dev gets demo invoices and payments (never prod)."""

import random
from datetime import date, datetime, time
from decimal import Decimal

from django.utils import timezone

from academy.common.money import money
from academy.common.registry import seed_step
from academy.models import GradeLevel, Location, User
from finance import services
from finance.install_checks import REFERENCE_FEE_TYPES
from finance.models import FeeStructure, FeeType, FinancePolicy, Invoice
from students.models import Student

FEE_TYPE_NAMES = {
    "TUITION": "Tuition",
    "ENROLLMENT": "Enrollment fee",
    "EXAM": "Exam fee",
    "TRANSPORT": "Transport",
    "MATERIAL": "Materials",
    "MAKEUP": "Make-up session",
    "LATE_FEE": "Late fee",
    "CARRY_FORWARD": "Balance brought forward",
}


@seed_step("fee types")
def seed_fee_types(env: str, log) -> None:
    created = 0
    for code in REFERENCE_FEE_TYPES:
        _, was_created = FeeType.objects.get_or_create(code=code, defaults={"name": FEE_TYPE_NAMES[code]})
        created += was_created
    log(f"{created} fee types created, {len(REFERENCE_FEE_TYPES) - created} already there")


def _monthly_tuition(grade: GradeLevel) -> Decimal:
    return Decimal("120.00") + Decimal("10.00") * grade.order


@seed_step("fee structures and finance policies", environments=("dev", "test"))
def seed_fee_structures(env: str, log) -> None:
    tuition = FeeType.objects.get(code="TUITION")
    created = 0
    for location in Location.objects.all():
        FinancePolicy.objects.get_or_create(
            location=location,
            defaults={
                "hold_threshold": Decimal("500.00"),
                "block_transcripts": True,
                "block_results": True,
                "adjustment_approval_threshold": Decimal("100.00"),
                "late_fee_amount": Decimal("15.00"),
            },
        )
        for grade in GradeLevel.objects.all():
            _, was_created = FeeStructure.objects.get_or_create(
                location=location,
                grade_level=grade,
                fee_type=tuition,
                is_active=True,
                academic_year=None,
                term=None,
                program=None,
                course=None,
                defaults={"name": f"{grade.name} monthly tuition", "amount": _monthly_tuition(grade)},
            )
            created += was_created
    log(f"{created} fee structures created")


DEMO_BILLED_STUDENTS = 90
DEMO_PERIODS = ((date(2025, 9, 1), "2025-09"), (date(2025, 10, 1), "2025-10"), (date(2025, 11, 1), "2025-11"))


@seed_step("demo invoices and payments", environments=("dev",))
def seed_demo_billing(env: str, log) -> None:
    """Three months of tuition for the first active students with a grade (the demo
    families among them): most of it paid in full, some in part, some not at all (past
    due, so overdue), a few discounts approved and one waiting in the approval queue.
    Enough for the finance dashboard, statements, the overdue list and the adjustment
    queue to show something, while ``make run`` stays quick."""
    rng = random.Random(20250901)
    students = list(
        Student.objects.active()
        .filter(grade_level__isnull=False)
        .select_related("grade_level")
        .order_by("student_number")[:DEMO_BILLED_STUDENTS]
    )
    structures = {(s.location_id, s.grade_level_id): s for s in FeeStructure.objects.filter(is_active=True)}
    existing = set(Invoice.objects.exclude(billing_period="").values_list("student_id", "billing_period"))
    users = {user.username: user for user in User.objects.filter(username__in=("finance", "admin"))}
    requester, approver = users.get("finance"), users.get("admin")
    issued = paid = partly = adjusted = 0
    for student in students:
        structure = structures.get((student.location_id, student.grade_level_id))
        if structure is None:
            continue
        for issue_date, period in DEMO_PERIODS:
            if (student.pk, period) in existing:
                continue
            invoice = services.invoice_issue(
                student=student,
                actor=None,
                issue_date=issue_date,
                billing_period=period,
                lines=[services.LineSpec(fee_structure=structure, description=f"{structure.name} {period}")],
            )
            issued += 1
            draw = rng.random()
            if draw < 0.08:  # a sibling discount, approved by someone else than who asked
                adjustment = services.adjustment_request(
                    invoice=invoice,
                    kind="discount",
                    amount=money(invoice.total * Decimal("0.10")),
                    reason="Sibling discount (10%)",
                    actor=requester,
                )
                if period != DEMO_PERIODS[-1][1]:  # the latest month's wait in the approval queue
                    services.adjustment_approve(adjustment=adjustment, actor=approver, note="Demo")
                adjusted += 1
            invoice.refresh_from_db()
            if draw < 0.8:
                amount = invoice.amount_due if draw < 0.65 else money(invoice.amount_due / 2)  # some pay half
                received = timezone.make_aware(datetime.combine(issue_date.replace(day=rng.randint(3, 20)), time(10)))
                services.payment_record(
                    actor=None,
                    student=student,
                    amount=amount,
                    method=rng.choice(["cash", "card", "online", "upi"]),
                    received_at=received,
                    idempotency_key=f"seed-{student.student_number}-{period}",
                    fingerprint="seed",
                )
                paid += amount == invoice.amount_due
                partly += amount != invoice.amount_due
    log(f"{issued} demo invoices issued, {paid} paid in full, {partly} in part, {adjusted} discounts")
