"""Promotion runs before execution (promotion.services, promotion.selectors): a draft's
bad input, the preview's outcomes and reasons and carried amounts (writing nothing but
the preview, at a fixed number of queries), overrides with a reason, approval by
someone else with the permission, and the database's rules on records."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from academy.common.exceptions import Conflict
from academy.roles import OFFICE_STAFF
from attendance.models import AttendanceRecord
from enrollment.models import Enrollment
from finance.models import Invoice
from promotion import selectors, services
from promotion.models import PromotionProposal, PromotionRecord, PromotionRun
from students.models import Student
from tests.factories.academy import (
    ClassSessionFactory,
    LocationFactory,
    SectionFactory,
    TermFactory,
    admin_user,
    staff_user,
)
from tests.factories.families import StudentFactory
from tests.factories.finance import FinancePolicyFactory, issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(location, years, grades):
    old, _new = years
    first, _second, third = grades

    def pupil(name, grade, **extra):
        return StudentFactory(location=location, last_name=name, grade_level=grade, academic_year=old, **extra)

    return {
        "promoted": pupil("Able", first),
        "graduate": pupil("Baker", third),
        "left": pupil("Cole", first, status=Student.Status.WITHDRAWN),
        "no_grade": pupil("Dunn", None),
        "absent": pupil("Eve", first),
    }


def marks(student, location, year, attended: int, missed: int):
    """``attended`` present and ``missed`` absent marks in a class of ``year``."""
    term = TermFactory(academic_year=year, start_date=year.start_date, end_date=year.end_date)
    section = SectionFactory(location=location, term=term)
    enrollment = Enrollment.objects.create(
        student=student,
        section=section,
        term=term,
        status="completed",
        enrollment_date=year.start_date,
        start_date=year.start_date,
        end_date=year.end_date,
    )
    for i in range(attended + missed):
        session = ClassSessionFactory(section=section, date=year.start_date + datetime.timedelta(days=i + 1))
        AttendanceRecord.objects.create(
            student=student,
            class_session=session,
            enrollment=enrollment,
            status="present" if i < attended else "absent",
            consumed_from="enrollment" if i < attended else "none",
            session_date=session.date,
        )


def by_student(proposals):
    return {p.student.last_name: p for p in proposals}


# --- a draft -------------------------------------------------------------------------------


def test_a_draft_refuses_a_year_that_does_not_come_after(location, years, clerk):
    old, new = years
    with pytest.raises(ValidationError) as error:
        services.run_create(location=location, from_year=new, to_year=old, actor=clerk)
    assert "to_year" in error.value.message_dict
    assert not PromotionRun.objects.exists()


def test_a_draft_refuses_an_unknown_grade_and_another_locations_student(location, years, grades, clerk):
    old, new = years
    with pytest.raises(ValidationError) as error:
        services.run_create(location=location, from_year=old, to_year=new, actor=clerk, grades=["nonsense"])
    assert "grades" in error.value.message_dict
    elsewhere = StudentFactory(location=LocationFactory(code="FAR"))
    with pytest.raises(ValidationError) as error:
        services.run_create(location=location, from_year=old, to_year=new, actor=clerk, students=[elsewhere])
    assert "students" in error.value.message_dict
    assert not PromotionRun.objects.exists()


# --- the preview ---------------------------------------------------------------------------


def test_the_preview_proposes_each_outcome_with_its_reason(location, years, grades, clerk, school):
    old, new = years
    first, second, _third = grades
    marks(school["absent"], location, old, attended=6, missed=4)  # 60 %
    marks(school["promoted"], location, old, attended=9, missed=1)  # 90 %
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk, min_attendance=75)
    proposals = by_student(selectors.preview(run))
    assert (proposals["Able"].outcome, proposals["Able"].to_grade) == ("promoted", second)
    assert proposals["Able"].attendance == Decimal("90.00")
    assert proposals["Baker"].outcome == "graduated" and "final grade" in proposals["Baker"].reason
    assert proposals["Cole"].outcome == "left"
    assert proposals["Dunn"].outcome == "skipped" and "Grade mismatch" in proposals["Dunn"].reason
    absent = proposals["Eve"]
    assert absent.outcome == "detained" and absent.to_grade == first
    assert "60.00%" in absent.reason and "15.00 below" in absent.reason


def test_a_student_promoted_from_the_year_before_is_skipped(location, years, grades, clerk, school):
    old, new = years
    PromotionRecord.objects.create(
        student=school["promoted"],
        from_year=old,
        to_year=new,
        from_grade=grades[0],
        to_grade=grades[1],
        outcome="promoted",
    )
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    assert by_student(selectors.preview(run))["Able"].outcome == "skipped"


def test_the_preview_lists_what_would_be_carried_and_writes_nothing_else(location, years, clerk, school):
    old, new = years
    cashier = admin_user(username="cashier")
    issue(school["promoted"], "100.00", actor=cashier)
    issue(school["promoted"], "40.00", actor=cashier)
    invoices_before = list(Invoice.objects.order_by("pk").values_list("pk", "status"))
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    run = services.run_preview(run=run, actor=clerk)
    able = PromotionProposal.objects.get(run=run, student=school["promoted"])
    assert able.carry_amount == Decimal("140.00")
    assert sorted(line["balance"] for line in able.invoices) == ["100.00", "40.00"]
    assert run.state == "previewed" and run.total == 5
    assert list(Invoice.objects.order_by("pk").values_list("pk", "status")) == invoices_before
    school["promoted"].refresh_from_db()
    assert school["promoted"].grade_level.name == "Grade 1" and not PromotionRecord.objects.exists()
    rows = {s.grade: s for s in selectors.summary(selectors.proposal_list(run))}
    assert rows["Grade 1"].counts["promoted"] == 2 and rows["Grade 1"].carried == Decimal("140.00")


def test_failed_results_and_a_hold_detain_when_the_run_says_so(location, years, clerk, school):
    old, new = years
    FinancePolicyFactory(location=location, block_enrollment=True, hold_threshold=Decimal("50.00"))
    issue(school["promoted"], "120.00", actor=admin_user(username="cashier"))
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk, hold_detains=True)
    able = by_student(selectors.preview(run))["Able"]
    assert able.outcome == "detained" and "Finance hold" in able.reason and "120.00" in able.reason
    lenient = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    assert by_student(selectors.preview(lenient))["Able"].outcome == "promoted"


def test_the_preview_reads_a_fixed_number_of_queries(
    location, years, grades, clerk, school, django_assert_max_num_queries
):
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    with django_assert_max_num_queries(8):
        small = selectors.preview(run)
    for i in range(20):
        StudentFactory(location=location, grade_level=grades[i % 3], academic_year=old)
        issue(Student.objects.order_by("-created_at").first(), "10.00", actor=clerk)
    with django_assert_max_num_queries(8):
        big = selectors.preview(run)
    assert len(big) == len(small) + 20


# --- overrides and approval ----------------------------------------------------------------


@pytest.fixture
def previewed(location, years, clerk, school):
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    return services.run_preview(run=run, actor=clerk)


def test_an_override_needs_a_reason_and_survives_a_new_preview(previewed, clerk, school):
    proposal = PromotionProposal.objects.get(run=previewed, student=school["promoted"])
    with pytest.raises(ValidationError) as error:
        services.proposal_override(proposal=proposal, outcome="detained", reason=" ", actor=clerk)
    assert "reason" in error.value.message_dict
    services.proposal_override(proposal=proposal, outcome="detained", reason="Parents asked", actor=clerk)
    services.run_preview(run=previewed, actor=clerk)
    again = PromotionProposal.objects.get(run=previewed, student=school["promoted"])
    assert (again.outcome, again.final_outcome, again.override_reason) == ("promoted", "detained", "Parents asked")


def test_approval_needs_the_permission_and_another_person(previewed, clerk, location):
    with pytest.raises(Conflict) as error:
        services.run_approve(run=previewed, actor=staff_user(OFFICE_STAFF, username="clerk2", locations=[location]))
    assert error.value.code == "not_allowed"
    principal = admin_user(username="principal")
    PromotionRun.objects.filter(pk=previewed.pk).update(created_by=principal)
    with pytest.raises(Conflict) as error:
        services.run_approve(run=previewed, actor=principal)
    assert error.value.code == "same_approver"
    PromotionRun.objects.filter(pk=previewed.pk).update(created_by=clerk)
    run = services.run_approve(run=previewed, actor=principal)
    assert (run.state, run.approved_by) == ("approved", principal)
    with pytest.raises(Conflict) as error:
        services.run_preview(run=run, actor=clerk)
    assert error.value.code == "run_not_editable"


def test_only_a_previewed_run_is_approved(location, years, clerk):
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    with pytest.raises(Conflict) as error:
        services.run_approve(run=run, actor=admin_user(username="principal"))
    assert error.value.code == "run_not_previewed"


# --- the database's rules ------------------------------------------------------------------


def test_one_record_per_student_and_year_and_corrections_name_the_record(years, grades, school):
    old, new = years
    student = school["promoted"]
    first = PromotionRecord.objects.create(student=student, from_year=old, to_year=new, outcome="promoted")
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRecord.objects.create(student=student, from_year=old, to_year=new, outcome="detained")
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRecord.objects.create(student=student, from_year=old, to_year=new, outcome="detained", corrects=first)
    PromotionRecord.objects.create(
        student=student, from_year=old, to_year=new, outcome="detained", corrects=first, notes="Wrong grade"
    )


def test_the_database_refuses_an_approver_who_created_the_run(location, years, clerk):
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRun.objects.filter(pk=run.pk).update(approved_by=clerk)


# --- the admin -----------------------------------------------------------------------------


def test_the_admin_shows_runs_and_records_read_only(client, previewed, years, school):
    from django.urls import reverse

    old, new = years
    PromotionRecord.objects.create(student=school["promoted"], from_year=old, to_year=new, outcome="promoted")
    client.force_login(admin_user(username="root-admin", is_superuser=True, is_staff=True))
    for name in ("promotionrun", "promotionrecord", "promotionproposal"):
        assert client.get(reverse(f"admin:promotion_{name}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:promotion_{name}_add")).status_code == 403
    page = client.get(reverse("admin:promotion_promotionrun_change", args=[previewed.pk]))
    assert page.status_code == 200 and school["promoted"].last_name in page.content.decode()


def test_only_who_stays_on_carries_in_the_summary(location, years, clerk, school):
    """Able (promoted) and the withdrawn Cole owe; only Able's balance is carried."""
    old, new = years
    cashier = admin_user(username="cashier")
    issue(school["promoted"], "100.00", actor=cashier)
    issue(school["left"], "70.00", actor=cashier)
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    run = services.run_preview(run=run, actor=clerk)
    cole = PromotionProposal.objects.get(run=run, student=school["left"])
    assert cole.final_outcome == "left" and cole.carry_amount == Decimal("70.00") and cole.carried == 0
    rows = {s.grade: s for s in selectors.summary(selectors.proposal_list(run))}
    assert rows["Grade 1"].carried == Decimal("100.00")
