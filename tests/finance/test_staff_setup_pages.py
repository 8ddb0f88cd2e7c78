"""The staff portal's finance set-up pages (``finance.staff_setup_views``): fee types and
fee structures, finance policies, session packages and carrying an invoice's balance
forward by hand. Who may open and post what (every role, and finance staff limited to
another location), what each page shows, bad input changing nothing, CSRF on every
form and a fixed number of queries on every list.

Uses the ``money`` academy of ``tests/finance/api_fixtures.py``; ``north_finance`` is
finance staff limited to the north location."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from academy.common.exceptions import Conflict
from finance.models import FeeStructure, FeeType, FinancePolicy, Invoice, LedgerEntry, SessionPackage
from finance.services import finance_policy_save, invoice_cancel, invoice_carry_forward, payment_record
from tests.factories.academy import (
    AcademicYearFactory,
    CourseFactory,
    GradeLevelFactory,
    LocationFactory,
    ProgramFactory,
    TermFactory,
    UserFactory,
    finance_user,
)
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory, FinancePolicyFactory, SessionPackageFactory
from tests.finance.api_fixtures import share_money

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def setup(money):
    """``money`` plus a session package of the child (main location), one of the north
    child, a course of a programme and ``north_finance``."""
    money.package = SessionPackageFactory(student=money.child, sessions=10, price=Decimal("100.00"))
    money.north_package = SessionPackageFactory(student=money.north_child, sessions=5, price=Decimal("50.00"))
    money.program = ProgramFactory(name="Swimming")
    money.course = CourseFactory(program=money.program, title="Beginners")
    money.users["north_finance"] = finance_user(username="north-finance", locations=[money.other_location])
    return money


share_money(globals(), setup)


def state() -> tuple:
    """Everything a set-up page may write ("nothing written" compares two of these)."""
    return (
        list(FeeType.objects.order_by("code").values_list("code", "name", "is_active")),
        list(FeeStructure.objects.order_by("pk").values_list("pk", "name", "amount", "is_active", "location")),
        list(FinancePolicy.objects.order_by("pk").values_list("pk", "late_fee_amount", "late_fee_grace_days")),
        list(SessionPackage.objects.order_by("pk").values_list("pk", "status")),
        list(Invoice.objects.order_by("pk").values_list("pk", "status")),
        LedgerEntry.objects.count(),
    )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# -- who may open what -------------------------------------------------------------------

STAFF = ("admin", "finance", "north_finance", "office", "other_office")
PAGES = {
    # name: (record of ``setup`` in the url, status for admin, finance, north_finance, office, other_office)
    "staff:finance-fee-type-list": (None, (200, 200, 200, 200, 200)),
    "staff:finance-fee-type-new": (None, (200, 200, 200, 403, 403)),
    "staff:finance-fee-type-edit": ("fee_type", (200, 200, 200, 403, 403)),  # fee types serve every location
    "staff:finance-fee-structure-list": (None, (200, 200, 200, 200, 200)),
    "staff:finance-fee-structure-new": (None, (200, 200, 200, 403, 403)),
    "staff:finance-fee-structure-edit": ("structure", (200, 200, 404, 403, 403)),
    "staff:finance-policy-list": (None, (200, 200, 200, 403, 403)),
    "staff:finance-policy-edit": ("location", (200, 200, 404, 403, 403)),
    "staff:finance-package-list": (None, (200, 200, 200, 200, 200)),
    "staff:finance-package-new": (None, (200, 200, 200, 200, 200)),
    "staff:finance-package-cancel": ("package", (200, 200, 404, 403, 403)),
    "staff:finance-invoice-carry-forward": ("invoice", (200, 200, 404, 403, 403)),
}


def _url(name, record, setup) -> str:
    return reverse(name, args=[getattr(setup, record).pk] if record else [])


def _turned_away(response, actor) -> bool:
    """An instructor may not; a parent is sent to the parent portal; anonymous to the login."""
    if actor == "instructor":
        return response.status_code == 403
    if actor in ("parent", "other_parent"):
        return response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    return response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))


@pytest.mark.parametrize("name", PAGES)
def test_permission_matrix_of_every_page(name, setup):
    record, statuses = PAGES[name]
    url = _url(name, record, setup)
    for actor, status in zip(STAFF, statuses, strict=True):
        assert client_for(setup.users[actor]).get(url).status_code == status, actor
    for actor in ("instructor", "parent", "other_parent", "anonymous"):
        assert _turned_away(client_for(setup.users[actor]).get(url), actor), actor


def _posts(setup) -> dict:
    """Each write with valid data: (url, data, status for admin-less actors by name)."""
    main = setup.location.pk
    structure = {
        "name": "Exam fee",
        "fee_type": setup.fee_type.pk,
        "amount": "25.00",
        "frequency": "once",
        "due_days": "14",
        "location": main,
        "is_active": "on",
    }
    policy = {
        "hold_threshold": "10.00",
        "adjustment_approval_threshold": "0.00",
        "late_fee_amount": "5.00",
        "late_fee_grace_days": "3",
    }
    return {
        "fee-type-new": (reverse("staff:finance-fee-type-new"), {"code": "exam", "name": "Exam"}),
        "fee-type-edit": (reverse("staff:finance-fee-type-edit", args=[setup.fee_type.pk]), {"code": "X", "name": "X"}),
        "fee-type-active": (reverse("staff:finance-fee-type-active", args=[setup.fee_type.pk]), {"active": "0"}),
        "fee-structure-new": (reverse("staff:finance-fee-structure-new"), {**structure, "fee_type": setup.fee_type.pk}),
        "fee-structure-edit": (reverse("staff:finance-fee-structure-edit", args=[setup.structure.pk]), structure),
        "fee-structure-active": (
            reverse("staff:finance-fee-structure-active", args=[setup.structure.pk]),
            {"active": "0"},
        ),
        "policy-edit": (reverse("staff:finance-policy-edit", args=[main]), policy),
        "package-new": (
            reverse("staff:finance-package-new"),
            {"student": setup.child.pk, "sessions": "5", "price": "50.00", "idempotency_key": "k1"},
        ),
        "package-cancel": (reverse("staff:finance-package-cancel", args=[setup.package.pk]), {"reason": "Moved away"}),
        "invoice-carry-forward": (
            reverse("staff:finance-invoice-carry-forward", args=[setup.invoice.pk]),
            {"reason": "Agreed payment plan"},
        ),
    }


POST_REFUSED = {
    # write: status for office, other_office, north_finance (None: allowed, tested below)
    "fee-type-new": (403, 403, None),
    "fee-type-edit": (403, 403, None),
    "fee-type-active": (403, 403, None),
    "fee-structure-new": (403, 403, 400),  # the main location is not one north finance may choose
    "fee-structure-edit": (403, 403, 404),
    "fee-structure-active": (403, 403, 404),
    "policy-edit": (403, 403, 404),
    "package-new": (None, 400, 400),  # the child is not a student they may see
    "package-cancel": (403, 403, 404),
    "invoice-carry-forward": (403, 403, 404),
}


@pytest.mark.parametrize("write", POST_REFUSED)
def test_posts_by_those_who_may_not_write_nothing(write, setup):
    url, data = _posts(setup)[write]
    before = state()
    for actor, status in zip(("office", "other_office", "north_finance"), POST_REFUSED[write], strict=True):
        if status is not None:
            assert client_for(setup.users[actor]).post(url, data).status_code == status, actor
    for actor in ("instructor", "parent", "other_parent", "anonymous"):
        assert _turned_away(client_for(setup.users[actor]).post(url, data), actor), actor
    assert state() == before


@pytest.mark.parametrize("write", POST_REFUSED)
def test_csrf_is_enforced_on_every_form(write, setup):
    url, data = _posts(setup)[write]
    client = Client(enforce_csrf_checks=True)
    client.force_login(setup.users["admin"])
    before = state()
    assert client.post(url, data).status_code == 403
    assert state() == before


# -- tabs ----------------------------------------------------------------------------------


def test_the_finance_tabs_link_the_new_pages_for_those_who_may_open_them(setup):
    links = (
        reverse("staff:finance-package-list"),
        reverse("staff:finance-fee-structure-list"),
        reverse("staff:finance-policy-list"),
    )
    body = client_for(setup.users["finance"]).get(reverse("staff:finance-dashboard")).content.decode()
    assert all(f'href="{link}"' in body for link in links)
    body = client_for(setup.users["office"]).get(reverse("staff:finance-dashboard")).content.decode()
    packages, fees, policies = (f'href="{link}"' in body for link in links)
    assert packages and fees and not policies


# -- fee types -----------------------------------------------------------------------------


def test_a_fee_type_is_created_edited_and_deactivated(setup):
    client = client_for(setup.users["finance"])
    response = client.post(reverse("staff:finance-fee-type-new"), {"code": " exam ", "name": "Exam", "is_active": "on"})
    assert response.status_code == 302
    exam = FeeType.objects.get(code="EXAM")
    assert exam.is_active and exam.history.first().history_user == setup.users["finance"]
    body = client.get(reverse("staff:finance-fee-type-list")).content.decode()
    assert "EXAM" in body and reverse("staff:finance-fee-type-edit", args=[exam.pk]) in body
    response = client.post(
        reverse("staff:finance-fee-type-edit", args=[exam.pk]),
        {"code": "EXAM", "name": "Examination", "is_active": "on"},
    )
    assert response.status_code == 302
    exam.refresh_from_db()
    assert exam.name == "Examination"
    client.post(reverse("staff:finance-fee-type-active", args=[exam.pk]), {"active": "0"})
    exam.refresh_from_db()
    assert not exam.is_active
    inactive = client.get(reverse("staff:finance-fee-type-list"), {"is_active": "false"}).content.decode()
    active = client.get(reverse("staff:finance-fee-type-list"), {"is_active": "true"}).content.decode()
    assert "Examination" in inactive and "Examination" not in active


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "tuition", "name": "Again"}, "code", "already exists"),
        ({"code": "", "name": "No code"}, "code", "required"),
        ({"code": "X" * 31, "name": "Long"}, "code", "at most 30"),
    ],
)
def test_fee_type_bad_input_is_a_form_error_and_writes_nothing(data, field, message, setup):
    before = state()
    response = client_for(setup.users["finance"]).post(reverse("staff:finance-fee-type-new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert state() == before


# -- fee structures ------------------------------------------------------------------------


def test_a_fee_structure_is_created_through_the_service(setup):
    year = AcademicYearFactory()
    term = TermFactory(academic_year=year, name="Autumn")
    grade = GradeLevelFactory(name="Grade 3")
    exam = FeeTypeFactory(code="EXAM")
    data = {
        "name": "Exam fee",
        "fee_type": exam.pk,
        "amount": "25.50",
        "frequency": "per_term",
        "due_days": "10",
        "location": setup.location.pk,
        "academic_year": year.pk,
        "term": term.pk,
        "grade_level": grade.pk,
        "is_active": "on",
    }
    response = client_for(setup.users["finance"]).post(reverse("staff:finance-fee-structure-new"), data)
    assert response.status_code == 302
    structure = FeeStructure.objects.get(name="Exam fee")
    assert (structure.amount, structure.term, structure.grade_level, structure.due_days) == (
        Decimal("25.50"),
        term,
        grade,
        10,
    )
    assert structure.history.first().history_user == setup.users["finance"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": "0"}, "amount", "greater than zero"),
        ({"amount": "-5"}, "amount", "greater than zero"),
        ({"amount": "1e3"}, "amount", "exponent"),
        ({"amount": "abc"}, "amount", "Enter an amount"),
        ({"due_days": "-1"}, "due_days", "greater than or equal to 0"),
        ({"frequency": "weekly"}, "frequency", "valid choice"),
        ({"name": ""}, "name", "required"),
        # the main structure's scope and fee type: an active one exists already (the service says so)
        ({}, "fee_type", "already exists"),
    ],
)
def test_fee_structure_bad_input_is_a_form_error_and_writes_nothing(change, field, message, setup):
    data = {
        "name": "Second tuition",
        "fee_type": setup.fee_type.pk,
        "amount": "99.00",
        "frequency": "monthly",
        "due_days": "14",
        "location": setup.location.pk,
        "is_active": "on",
        **change,
    }
    before = state()
    response = client_for(setup.users["finance"]).post(reverse("staff:finance-fee-structure-new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert state() == before


def test_a_term_of_another_year_is_refused_by_the_service(setup):
    year = AcademicYearFactory()
    other_year = AcademicYearFactory(
        name="2026-27", start_date=datetime.date(2026, 8, 1), end_date=datetime.date(2027, 7, 31), is_current=False
    )
    other_year_term = TermFactory(
        academic_year=other_year,
        name="Spring",
        start_date=datetime.date(2027, 1, 5),
        end_date=datetime.date(2027, 4, 1),
    )
    data = {
        "name": "Term fee",
        "fee_type": FeeTypeFactory(code="EXAM").pk,
        "amount": "20.00",
        "frequency": "per_term",
        "due_days": "14",
        "location": setup.location.pk,
        "academic_year": year.pk,
        "term": other_year_term.pk,
    }
    before = state()
    response = client_for(setup.users["finance"]).post(reverse("staff:finance-fee-structure-new"), data)
    assert response.status_code == 400 and response.context["form"].errors["term"]
    assert state() == before


def test_location_limited_finance_staff_see_and_edit_only_their_locations_structures(setup):
    client = client_for(setup.users["north_finance"])
    body = client.get(reverse("staff:finance-fee-structure-list")).content.decode()
    assert reverse("staff:finance-fee-structure-edit", args=[setup.north_structure.pk]) in body
    assert reverse("staff:finance-fee-structure-edit", args=[setup.structure.pk]) not in body
    # another location's in the filter: a filter error, never that location's rows
    response = client.get(reverse("staff:finance-fee-structure-list"), {"location": setup.location.pk})
    assert response.context["filter"].errors and not response.context["page"].object_list
    # the form offers their own locations only
    form = client.get(reverse("staff:finance-fee-structure-new")).context["form"]
    assert list(form.fields["location"].queryset) == [setup.other_location]
    edit = reverse("staff:finance-fee-structure-edit", args=[setup.north_structure.pk])
    data = {
        "name": "North tuition",
        "fee_type": setup.fee_type.pk,
        "amount": "125.00",
        "frequency": "monthly",
        "due_days": "7",
        "location": setup.other_location.pk,
        "is_active": "on",
    }
    assert client.post(edit, data).status_code == 302
    setup.north_structure.refresh_from_db()
    assert (setup.north_structure.name, setup.north_structure.amount) == ("North tuition", Decimal("125.00"))
    # moving it to a location they do not look after is not a choice
    before = state()
    response = client.post(edit, {**data, "location": setup.location.pk})
    assert response.status_code == 400 and response.context["form"].errors["location"]
    assert state() == before


def test_fee_structure_list_filters_by_location_and_active(setup):
    client = client_for(setup.users["finance"])
    url = reverse("staff:finance-fee-structure-list")
    setup.north_structure.is_active = False
    setup.north_structure.save()
    rows = client.get(url, {"location": setup.other_location.pk}).context["page"].object_list
    assert list(rows) == [setup.north_structure]
    assert setup.structure in client.get(url, {"is_active": "true"}).context["page"].object_list
    assert list(client.get(url, {"is_active": "false"}).context["page"].object_list) == [setup.north_structure]


def test_deactivating_keeps_the_invoiced_structure_and_reactivating_a_duplicate_is_refused(setup):
    client = client_for(setup.users["finance"])
    structure = setup.structure
    response = client.post(reverse("staff:finance-fee-structure-active", args=[structure.pk]), {"active": "0"})
    assert response.status_code == 302
    structure.refresh_from_db()
    assert not structure.is_active and structure.history.first().history_user == setup.users["finance"]
    # a new active structure for the same scope and fee type, then reactivating the old one
    FeeStructureFactory(location=setup.location, fee_type=setup.fee_type, name="New tuition")
    before = state()
    response = client.post(
        reverse("staff:finance-fee-structure-active", args=[structure.pk]), {"active": "1"}, follow=True
    )
    assert "already exists" in response.content.decode()
    assert state() == before


def test_a_bad_active_value_changes_nothing(setup):
    before = state()
    response = client_for(setup.users["finance"]).post(
        reverse("staff:finance-fee-structure-active", args=[setup.structure.pk]), {"active": "maybe"}, follow=True
    )
    assert "say whether it is active" in response.content.decode()
    assert state() == before


# -- finance policies ----------------------------------------------------------------------


def test_policies_list_every_visible_location_with_its_policy_or_the_defaults(setup):
    FinancePolicyFactory(location=setup.other_location, late_fee_amount=Decimal("12.50"), block_results=True)
    body = client_for(setup.users["finance"]).get(reverse("staff:finance-policy-list")).content.decode()
    assert "Main campus" in body and "North campus" in body and "12.50" in body and "(defaults)" in body
    rows = client_for(setup.users["north_finance"]).get(reverse("staff:finance-policy-list")).context["rows"]
    assert [location for location, _policy in rows] == [setup.other_location]


def test_a_policy_is_created_then_changed_with_who_and_what_in_its_history(setup):
    client = client_for(setup.users["finance"])
    url = reverse("staff:finance-policy-edit", args=[setup.location.pk])
    form = client.get(url).context["form"]
    assert form.initial["late_fee_grace_days"] == 7  # the model's defaults for a location without one
    data = {
        "hold_threshold": "50.00",
        "block_results": "on",
        "adjustment_approval_threshold": "100.00",
        "late_fee_amount": "15.00",
        "late_fee_grace_days": "5",
    }
    assert client.post(url, data).status_code == 302
    policy = FinancePolicy.objects.get(location=setup.location)
    assert (policy.hold_threshold, policy.block_results, policy.block_enrollment, policy.late_fee_grace_days) == (
        Decimal("50.00"),
        True,
        False,
        5,
    )
    assert client.post(url, {**data, "late_fee_amount": "20.00", "block_enrollment": "on"}).status_code == 302
    latest = policy.history.first()
    assert latest.history_user == setup.users["finance"]
    assert "block_enrollment" in latest.history_change_reason and "late_fee_amount" in latest.history_change_reason
    assert FinancePolicy.objects.get(location=setup.location).late_fee_amount == Decimal("20.00")
    assert FinancePolicy.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"late_fee_amount": "-1.00"}, "late_fee_amount", "cannot be negative"),
        ({"hold_threshold": "1,000"}, "hold_threshold", "thousands separators"),
        ({"hold_threshold": ""}, "hold_threshold", "required"),
        ({"late_fee_grace_days": "400"}, "late_fee_grace_days", "less than or equal to 365"),
        ({"late_fee_grace_days": "two"}, "late_fee_grace_days", "whole number"),
        ({"adjustment_approval_threshold": "10.001"}, "adjustment_approval_threshold", "decimal places"),
    ],
)
def test_policy_bad_input_is_a_form_error_and_writes_nothing(change, field, message, setup):
    FinancePolicyFactory(location=setup.location, late_fee_amount=Decimal("9.00"))
    data = {
        "hold_threshold": "0.00",
        "adjustment_approval_threshold": "0.00",
        "late_fee_amount": "5.00",
        "late_fee_grace_days": "7",
        **change,
    }
    before = state()
    response = client_for(setup.users["finance"]).post(
        reverse("staff:finance-policy-edit", args=[setup.location.pk]), data
    )
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert state() == before


def test_the_policy_service_checks_every_rule_itself(setup):
    actor = setup.users["finance"]
    with pytest.raises(ValueError, match="location"):
        finance_policy_save(location=setup.location, actor=actor, data={"location": setup.other_location})
    for data, field in (
        ({"late_fee_amount": "-2.00"}, "__all__"),  # the database check, through full_clean
        ({"late_fee_amount": "1e3"}, "late_fee_amount"),
        ({"late_fee_grace_days": 366}, "late_fee_grace_days"),
    ):
        with pytest.raises(ValidationError) as raised:
            finance_policy_save(location=setup.location, actor=actor, data=data)
        assert field in raised.value.message_dict, data
    assert not FinancePolicy.objects.exists()
    policy = finance_policy_save(location=setup.location, actor=actor, data={"late_fee_amount": "3.50"})
    assert policy.late_fee_amount == Decimal("3.50") and policy.history.first().history_change_reason == "Created"


def test_the_admin_saves_a_policy_through_the_same_service(setup):
    FinancePolicyFactory(location=setup.location)
    policy = FinancePolicy.objects.get()
    user = UserFactory(username="admin-desk", is_staff=True)
    for codename in ("view_financepolicy", "change_financepolicy"):
        user.user_permissions.add(Permission.objects.get(content_type__app_label="finance", codename=codename))
    client = client_for(user)
    url = reverse("admin:finance_financepolicy_change", args=[policy.pk])
    data = {
        "hold_threshold": "5.00",
        "adjustment_approval_threshold": "0.00",
        "late_fee_amount": "8.00",
        "late_fee_grace_days": "400",
    }
    assert client.post(url, data).status_code == 200  # the model's rule: shown on the admin form
    policy.refresh_from_db()
    assert policy.late_fee_amount == Decimal("0.00")
    assert client.post(url, {**data, "late_fee_grace_days": "10"}).status_code == 302
    policy.refresh_from_db()
    assert (policy.late_fee_amount, policy.late_fee_grace_days, policy.location) == (
        Decimal("8.00"),
        10,
        setup.location,
    )
    latest = policy.history.first()
    assert latest.history_user == user and latest.history_change_reason.startswith("Changed:")


# -- session packages ----------------------------------------------------------------------


def test_package_list_shows_sessions_expiry_status_and_invoice(setup):
    SessionPackage.objects.filter(pk=setup.package.pk).update(
        sessions_used=3, sessions_remaining=7, expires_on=datetime.date(2031, 6, 30)
    )
    client = client_for(setup.users["office"])
    response = client.get(reverse("staff:finance-package-list"))
    body = response.content.decode()
    assert setup.child.student_number in body and "3 / 10" in body and "30 Jun 2031" in body
    assert setup.package.invoice_line.invoice.invoice_number in body
    assert setup.north_child.student_number not in body  # another location's student
    assert reverse("staff:finance-package-cancel", args=[setup.package.pk]) not in body  # office may not cancel
    body = client_for(setup.users["finance"]).get(reverse("staff:finance-package-list")).content.decode()
    assert reverse("staff:finance-package-cancel", args=[setup.package.pk]) in body


def test_package_list_filters_by_student_status_and_location(setup):
    client = client_for(setup.users["finance"])
    url = reverse("staff:finance-package-list")
    response = client.get(url, {"student": setup.child.pk})
    assert list(response.context["page"].object_list) == [setup.package]
    assert response.context["student"] == setup.child
    assert list(client.get(url, {"location": setup.other_location.pk}).context["page"].object_list) == [
        setup.north_package
    ]
    assert not client.get(url, {"status": "cancelled"}).context["page"].object_list
    response = client_for(setup.users["other_office"]).get(url, {"student": setup.child.pk})
    assert response.context["filter"].errors and not response.context["page"].object_list


def test_selling_a_package_issues_its_invoice_once_even_if_posted_twice(setup):
    client = client_for(setup.users["office"])
    form = client.get(reverse("staff:finance-package-new"), {"student": setup.child.pk}).context["form"]
    assert form.initial["student"] == setup.child
    data = {
        "student": setup.child.pk,
        "sessions": "8",
        "price": "120.00",
        "program": setup.program.pk,
        "course": setup.course.pk,
        "expires_on": (timezone.localdate() + datetime.timedelta(days=90)).isoformat(),
        "idempotency_key": form.initial["idempotency_key"],
    }
    invoices = Invoice.objects.count()
    response = client.post(reverse("staff:finance-package-new"), data)
    assert response.status_code == 302 and response["Location"].endswith(f"?student={setup.child.pk}")
    package = SessionPackage.objects.get(course=setup.course)
    assert (package.sessions_purchased, package.sessions_remaining, package.price) == (8, 8, Decimal("120.00"))
    assert package.invoice_line.invoice.total == Decimal("120.00") and package.created_by == setup.users["office"]
    assert client.post(reverse("staff:finance-package-new"), data).status_code == 302  # the same form again
    assert SessionPackage.objects.filter(course=setup.course).count() == 1
    assert Invoice.objects.count() == invoices + 1
    # the key with another sale: refused, nothing sold
    before = state()
    response = client.post(reverse("staff:finance-package-new"), {**data, "sessions": "9"})
    assert response.status_code == 409 and "different request" in response.content.decode()
    assert state() == before


def test_a_student_can_be_chosen_by_typing_their_number(setup):
    data = {"student_text": setup.child.student_number, "sessions": "2", "price": "30.00", "idempotency_key": "typed"}
    response = client_for(setup.users["office"]).post(reverse("staff:finance-package-new"), data)
    assert response.status_code == 302
    assert SessionPackage.objects.filter(student=setup.child, sessions_purchased=2).exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sessions": "0"}, "sessions", "greater than or equal to 1"),
        ({"sessions": "1001"}, "sessions", "less than or equal to 1000"),
        ({"price": "0.00"}, "price", "greater than zero"),
        ({"price": "12.345"}, "price", "decimal places"),
        ({"student": ""}, "student", "required"),
        ({"expires_on": "2001-01-01"}, "expires_on", "in the past"),
        ({"course": "other-program"}, "course", "another programme"),
    ],
)
def test_package_bad_input_is_a_form_error_and_writes_nothing(change, field, message, setup):
    if change.get("course") == "other-program":
        change = {"course": CourseFactory().pk, "program": setup.program.pk}
    data = {"student": setup.child.pk, "sessions": "5", "price": "50.00", "idempotency_key": f"bad-{field}", **change}
    before = state()
    response = client_for(setup.users["finance"]).post(reverse("staff:finance-package-new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert state() == before


def test_cancelling_a_package_needs_a_reason_and_happens_once(setup):
    client = client_for(setup.users["finance"])
    url = reverse("staff:finance-package-cancel", args=[setup.package.pk])
    before = state()
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400 and response.context["form"].errors["reason"]
    assert state() == before
    assert client.post(url, {"reason": "Family moved"}).status_code == 302
    setup.package.refresh_from_db()
    assert setup.package.status == SessionPackage.Status.CANCELLED and setup.package.cancel_reason == "Family moved"
    invoice = setup.package.invoice_line.invoice
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CANCELLED  # no session used: its invoice goes with it
    before = state()
    response = client.post(url, {"reason": "Again"})
    assert response.status_code == 409 and "already cancelled" in response.content.decode()
    assert state() == before


def test_a_cancel_reason_as_long_as_the_form_takes_is_kept(setup):
    """The whole reason on the package (and its invoice) and in its history."""
    reason = "The family moved abroad " + "and asked to stop " * 15
    reason = reason[:300]
    url = reverse("staff:finance-package-cancel", args=[setup.package.pk])
    assert client_for(setup.users["finance"]).post(url, {"reason": reason}).status_code == 302
    setup.package.refresh_from_db()
    assert setup.package.cancel_reason == reason.strip()
    assert setup.package.history.first().history_change_reason == f"Cancelled: {reason.strip()}"
    assert len(reason.strip()) > 200


def test_the_student_page_links_to_their_packages(setup):
    link = f"{reverse('staff:finance-package-list')}?student={setup.child.pk}"
    body = client_for(setup.users["office"]).get(reverse("staff:student-detail", args=[setup.child.pk])).content
    assert link in body.decode()
    teacher = client_for(setup.users["instructor"]).get(reverse("staff:student-detail", args=[setup.child.pk]))
    assert link not in teacher.content.decode()


# -- carrying an invoice's balance forward -------------------------------------------------


def test_the_invoice_page_offers_carrying_forward_to_finance_staff_for_an_open_invoice(setup):
    url = reverse("staff:finance-invoice-detail", args=[setup.invoice.pk])
    button = reverse("staff:finance-invoice-carry-forward", args=[setup.invoice.pk])
    assert button in client_for(setup.users["finance"]).get(url).content.decode()
    assert button not in client_for(setup.users["office"]).get(url).content.decode()


def test_carrying_forward_moves_the_balance_with_the_reason_on_record(setup):
    invoice = setup.invoice
    invoice.refresh_from_db()
    balance = invoice.balance
    assert balance == Decimal("110.00")  # 150.00 less the 40.00 paid
    client = client_for(setup.users["finance"])
    due = timezone.localdate() + datetime.timedelta(days=30)
    response = client.post(
        reverse("staff:finance-invoice-carry-forward", args=[invoice.pk]),
        {"reason": "Agreed  payment\nplan", "due_date": due.isoformat()},
    )
    new = Invoice.objects.get(carried_from=invoice)
    assert response.status_code == 302 and response["Location"] == reverse(
        "staff:finance-invoice-detail", args=[new.pk]
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CARRIED_FORWARD
    assert (new.total, new.due_date, new.student) == (balance, due, setup.child)
    entry = LedgerEntry.objects.get(invoice=invoice, kind=LedgerEntry.Kind.CARRY_FORWARD)
    assert entry.description.endswith(": Agreed payment plan") and entry.created_by == setup.users["finance"]
    latest = invoice.history.first()
    assert latest.history_change_reason == "Balance carried forward: Agreed payment plan"
    assert latest.history_user == setup.users["finance"]


def _paid(setup):
    invoice = setup.other_invoice
    payment_record(actor=setup.users["finance"], student=setup.other_child, amount=invoice.balance, method="cash")
    return invoice


def _cancelled(setup):
    return invoice_cancel(invoice=setup.other_invoice, actor=setup.users["finance"], reason="Wrong child")


def _carried(setup):
    invoice_carry_forward(invoice=setup.other_invoice, actor=setup.users["finance"])
    return setup.other_invoice


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_paid, "paid invoice cannot be carried forward"),
        (_cancelled, "cancelled invoice cannot be carried forward"),
        (_carried, "already carried forward"),
    ],
)
def test_an_invoice_that_is_not_open_is_refused_with_409_and_nothing_changes(make, message, setup):
    invoice = make(setup)
    url = reverse("staff:finance-invoice-carry-forward", args=[invoice.pk])
    client = client_for(setup.users["finance"])
    assert "no open balance" in client.get(url).content.decode()
    before = state()
    response = client.post(url, {"reason": "Try"})
    assert response.status_code == 409
    assert message in " ".join(response.context["form"].non_field_errors())
    assert state() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"reason": "Plan", "due_date": "2001-01-01"}, "due_date"),
        ({"reason": "Plan", "due_date": "soon"}, "due_date"),
    ],
)
def test_carry_forward_bad_input_is_a_form_error_and_writes_nothing(data, field, setup):
    before = state()
    response = client_for(setup.users["finance"]).post(
        reverse("staff:finance-invoice-carry-forward", args=[setup.invoice.pk]), data
    )
    assert response.status_code == 400 and response.context["form"].errors[field]
    assert state() == before


def test_the_service_refuses_a_reason_too_long_for_the_ledger(setup):
    before = state()
    with pytest.raises(ValidationError) as raised:
        invoice_carry_forward(invoice=setup.invoice, actor=setup.users["finance"], reason="y" * 201)
    assert "reason" in raised.value.message_dict
    assert state() == before
    with pytest.raises(Conflict):
        invoice_carry_forward(invoice=_cancelled(setup), actor=setup.users["finance"], reason="z")


# -- lists at a fixed number of queries ----------------------------------------------------


def _grow_structures(setup, n):
    for _ in range(n):
        number = FeeType.objects.count()
        FeeStructureFactory(
            location=setup.location,
            fee_type=FeeTypeFactory(code=f"F{number}"),
            academic_year=AcademicYearFactory(),
            term=None,
            grade_level=GradeLevelFactory(),
            program=ProgramFactory(),
            course=CourseFactory(),
        )


def _grow_fee_types(setup, n):
    for _ in range(n):
        FeeTypeFactory(code=f"T{FeeType.objects.count()}")


def _grow_policies(setup, n):
    for index in range(n):
        location = LocationFactory()
        if index % 2:
            FinancePolicyFactory(location=location, late_fee_amount=Decimal("1.00"))


def _grow_packages(setup, n):
    for index in range(n):
        course = CourseFactory()
        SessionPackageFactory(
            student=StudentFactory(location=setup.location),
            sessions=4,
            price=Decimal("40.00"),
            course=course if index % 2 else None,
            program=course.program,
        )


@pytest.mark.parametrize(
    ("name", "grow"),
    [
        ("staff:finance-fee-structure-list", _grow_structures),
        ("staff:finance-fee-type-list", _grow_fee_types),
        ("staff:finance-policy-list", _grow_policies),
        ("staff:finance-package-list", _grow_packages),
    ],
)
def test_lists_take_a_fixed_number_of_queries(name, grow, setup, django_assert_max_num_queries):
    client = client_for(setup.users["admin"])
    url = reverse(name)
    client.get(url)  # warm-up: permissions are cached after the first request
    grow(setup, 2)
    small = _queries(client, url)
    grow(setup, 12)
    with django_assert_max_num_queries(14):
        assert client.get(url).status_code == 200
    assert _queries(client, url) == small
