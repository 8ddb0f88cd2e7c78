"""Seed steps of the finance app. Every environment gets the fee types; dev and test get
fee structures and policies; only dev gets demo invoices and payments (never prod),
dated in the twelve months up to the seed's day."""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from academy.common.money import money
from academy.common.registry import seed_step
from academy.models import GradeLevel, Location, User
from families.models import StudentGuardian
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


DEMO_BILLED_STUDENTS = 18  # the demo families' children first, then by student number
DEMO_MONTHS = 12
# How the billed families pay, in turn (the demo families' children: on time): on time;
# weeks late; on time, but only half of last month's bill so far; on time until a few
# months ago (STOPPED_MONTHS, in turn), then nothing. Most on time, and the open bills
# spread over every ageing bucket.
PAYING_HABITS = ("on time", "late", "on time", "stopped", "on time", "in part", "on time", "late", "stopped")
STOPPED_MONTHS = (3, 5, 2, 6)
DEMO_PARENTS = ("parent", "parent2")  # their children pay on time


def demo_months(today: date, months: int = DEMO_MONTHS) -> list[tuple[date, str]]:
    """The first day and billing period of the ``months`` months up to ``today``'s, oldest first."""
    index = today.year * 12 + today.month - 1
    firsts = [date(number // 12, number % 12 + 1, 1) for number in range(index - months + 1, index + 1)]
    return [(first, f"{first:%Y-%m}") for first in firsts]


def _payment_plan(rng: random.Random, habit: str, age: int, stopped: int) -> tuple[int, str] | None:
    """When (days after the issue date) and how much (``full`` or ``half``) a family with
    ``habit`` pays the bill of ``age`` months ago; ``None``: not at all."""
    if habit == "stopped" and age < stopped:
        return None
    if habit == "late":
        return rng.randint(20, 75), "full"
    if habit == "in part" and age == 1:
        return rng.randint(5, 25), "half"
    return rng.randint(0, 18), "full"


@seed_step("demo invoices and payments", environments=("dev",))
def seed_demo_billing(env: str, log) -> None:
    """Twelve months of monthly tuition up to the seed's day for the demo families'
    children and the first other active students with a grade, each family with a
    paying habit: most pay within days, some weeks late, a few only half of last
    month's bill or nothing since a few months, so the open invoices spread over the
    ageing buckets (due in 14 days: last month's unpaid bill is 0-30 days overdue). A
    second child of a family gets a sibling discount, approved by someone else than who
    asked; this month's waits in the approval queue. Each student's invoices and
    payments are recorded in date order, as the office would have; nothing is dated
    after the seed's day. Enough for the dashboard's twelve-month charts, statements,
    the overdue list and the adjustment queue, while ``make run`` stays quick. A
    database with billed invoices already is left alone (a run on a later day bills no
    new month)."""
    already = Invoice.objects.exclude(billing_period="").count()
    if already:
        log(f"demo invoices: 0 created, {already} already there")
        return
    today = timezone.localdate()
    rng = random.Random(20250901)
    active = Student.objects.active().filter(grade_level__isnull=False).select_related("grade_level")
    demo_children = list(active.filter(guardian_links__guardian__portal_user__username__in=DEMO_PARENTS).distinct())
    others = active.exclude(pk__in=[child.pk for child in demo_children]).order_by("student_number")
    students = sorted(demo_children, key=lambda s: s.student_number) + list(
        others[: max(DEMO_BILLED_STUDENTS - len(demo_children), 0)]
    )
    structures = {(s.location_id, s.grade_level_id): s for s in FeeStructure.objects.filter(is_active=True)}
    users = {user.username: user for user in User.objects.filter(username__in=("finance", "admin"))}
    requester, approver = users.get("finance"), users.get("admin")
    months = demo_months(today)
    primary = dict(
        StudentGuardian.objects.filter(
            student__in=students, relationship_type=StudentGuardian.RelationshipType.PRIMARY
        ).values_list("student_id", "guardian_id")
    )
    billed_families = set()
    issued = paid = partly = adjusted = others_billed = stops = 0
    stopped = 0
    for student in students:
        structure = structures.get((student.location_id, student.grade_level_id))
        if structure is None:
            continue
        # a second child of a family billed here: a sibling discount every month
        sibling = primary.get(student.pk) in billed_families
        billed_families.add(primary.get(student.pk))
        if student in demo_children:
            habit = "on time"
        else:
            habit = PAYING_HABITS[others_billed % len(PAYING_HABITS)]
            stopped = STOPPED_MONTHS[stops % len(STOPPED_MONTHS)]
            others_billed += 1
            stops += habit == "stopped"
        events = []  # (day, order, what): invoices before payments on the same day
        for age, (issue_date, period) in enumerate(reversed(months)):
            events.append((issue_date, 0, ("invoice", age, issue_date, period)))
            plan = _payment_plan(rng, habit, age, stopped)
            if plan is not None and issue_date + timedelta(days=plan[0]) < today:
                events.append((issue_date + timedelta(days=plan[0]), 1, ("payment", plan[1], period)))
        invoices = {}
        for day, _order, (kind, *details) in sorted(events, key=lambda event: event[:2]):
            if kind == "invoice":
                age, issue_date, period = details
                invoice = services.invoice_issue(
                    student=student,
                    actor=None,
                    issue_date=issue_date,
                    billing_period=period,
                    lines=[services.LineSpec(fee_structure=structure, description=f"{structure.name} {period}")],
                )
                issued += 1
                if sibling:  # approved by someone else than who asked
                    adjustment = services.adjustment_request(
                        invoice=invoice,
                        kind="discount",
                        amount=money(invoice.total * Decimal("0.10")),
                        reason="Sibling discount (10%)",
                        actor=requester,
                    )
                    if age > 0:  # this month's wait in the approval queue
                        services.adjustment_approve(adjustment=adjustment, actor=approver, note="Demo")
                    adjusted += 1
                invoices[period] = invoice
                continue
            share, period = details
            invoice = invoices[period]
            invoice.refresh_from_db()
            amount = invoice.amount_due if share == "full" else money(invoice.amount_due / 2)
            services.payment_record(
                actor=None,
                student=student,
                amount=amount,
                method=rng.choice(["cash", "card", "online", "upi"]),
                received_at=timezone.make_aware(datetime.combine(day, time(10))),
                idempotency_key=f"seed-{student.student_number}-{period}",
                fingerprint="seed",
            )
            paid += share == "full"
            partly += share == "half"
    log(f"{issued} demo invoices created ({paid} paid in full, {partly} in part), {adjusted} discounts")
