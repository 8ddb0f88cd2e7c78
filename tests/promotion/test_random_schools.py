"""Promotion over random schools (hypothesis): grades with and without a next grade,
students active or not, with or without a grade, open, partly paid and paid invoices,
holds, attendance rules and overrides. After a run, whatever the school:

- every student the run did not skip has exactly one record for the year;
- every account's balance (what each family owes) is unchanged, and the ledger proves
  every cached figure (``finance.selectors.ledger_verify``);
- every carried invoice is CARRIED_FORWARD with exactly one successor, and only students
  who stay on (promoted, detained) had one carried;
- each student's guardians were told at most once;
- run again, the run changes nothing more.
"""

import contextlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from academy.jobs import job_run
from finance.models import FinancePolicy, Invoice, StudentAccount
from finance.selectors import ledger_verify
from finance.services import payment_record
from notifications.models import Notification
from promotion import services
from promotion.models import PromotionProposal, PromotionRecord
from students.models import Student
from tests.factories.academy import GradeLevelFactory, admin_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db

STUDENT = st.fixed_dictionaries(
    {
        "grade": st.integers(min_value=-1, max_value=3),  # -1: no grade
        "status": st.sampled_from(["active", "active", "active", "withdrawn", "inactive"]),
        "invoices": st.lists(st.sampled_from(["open", "partial", "paid"]), max_size=2),
        "override": st.sampled_from(["", "", "", "detained", "promoted", "left"]),
    }
)
SCHOOL = st.fixed_dictionaries(
    {
        "students": st.lists(STUDENT, min_size=1, max_size=6),
        "hold": st.booleans(),
        "carry": st.booleans(),
        "final_has_next": st.booleans(),
    }
)


class _Rollback(Exception):
    pass


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(school=SCHOOL)
def test_a_run_over_any_school_keeps_the_money_and_promotes_each_student_once(
    school, location, years, clerk, django_capture_on_commit_callbacks
):
    old, new = years
    try:
        with transaction.atomic():
            principal = admin_user(username="principal")
            cashier = admin_user(username="cashier")
            top = GradeLevelFactory(name="Top", order=4) if school["final_has_next"] else None
            third = GradeLevelFactory(name="Third", order=3, next_grade=top)
            second = GradeLevelFactory(name="Second", order=2, next_grade=third)
            first = GradeLevelFactory(name="First", order=1, next_grade=second)
            ladder = [first, second, third, top or third]
            if school["hold"]:
                FinancePolicy.objects.create(location=location, block_enrollment=True, hold_threshold=Decimal("100.00"))
            pupils = []
            for spec in school["students"]:
                pupil = StudentFactory(
                    location=location,
                    grade_level=None if spec["grade"] < 0 else ladder[spec["grade"]],
                    academic_year=old,
                    status=spec["status"],
                )
                for kind in spec["invoices"]:
                    invoice = issue(pupil, "80.00", actor=cashier)
                    if kind != "open":
                        paid = Decimal("80.00") if kind == "paid" else Decimal("30.00")
                        payment_record(
                            actor=cashier, amount=paid, method="cash", student=pupil, allocations=[(invoice, paid)]
                        )
                pupils.append((pupil, spec))
            balances = dict(StudentAccount.objects.values_list("pk", "balance"))

            run = services.run_create(
                location=location,
                from_year=old,
                to_year=new,
                actor=clerk,
                hold_detains=school["hold"],
                carry_forward=school["carry"],
            )
            run = services.run_preview(run=run, actor=clerk)
            for pupil, spec in pupils:
                proposal = PromotionProposal.objects.get(run=run, student=pupil)
                if spec["override"] and proposal.outcome != "skipped":
                    # an override the service refuses (promoting past the final grade): none
                    with contextlib.suppress(ValidationError):
                        services.proposal_override(
                            proposal=proposal, outcome=spec["override"], reason="Office decision", actor=clerk
                        )
            run = services.run_approve(run=run, actor=principal)
            with django_capture_on_commit_callbacks(execute=False):
                job = services.run_start(run=run, actor=clerk)
            with django_capture_on_commit_callbacks(execute=True):
                job_run(job.pk)

            proposals = {p.student_id: p for p in PromotionProposal.objects.filter(run=run)}
            for pupil, _spec in pupils:
                records = PromotionRecord.objects.filter(student=pupil, from_year=old)
                skipped = proposals[pupil.pk].final_outcome == "skipped"
                assert records.count() == (0 if skipped else 1)
            assert dict(StudentAccount.objects.values_list("pk", "balance")) == balances
            report = ledger_verify()
            assert report.ok, report.problems
            for invoice in Invoice.objects.filter(status="carried_forward"):
                assert Invoice.objects.filter(carried_from=invoice).count() == 1
                assert proposals[invoice.student_id].final_outcome in ("promoted", "detained")
            for pupil, _spec in pupils:
                assert (
                    Notification.objects.filter(kind="student_promoted", metadata__student=str(pupil.pk)).count() <= 1
                )

            # a second run of the same job: nothing more happens
            invoices, records = Invoice.objects.count(), PromotionRecord.objects.count()
            job.refresh_from_db()
            type(job).objects.filter(pk=job.pk).update(state="interrupted")
            type(run).objects.filter(pk=run.pk).update(state="running")
            with django_capture_on_commit_callbacks(execute=True):
                job_run(job.pk)
            assert (Invoice.objects.count(), PromotionRecord.objects.count()) == (invoices, records)
            assert Student.objects.filter(pk__in=[p.pk for p, _ in pupils]).count() == len(pupils)
            raise _Rollback
    except _Rollback:
        pass
