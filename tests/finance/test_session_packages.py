"""Session packages (docs/rules.md): selling issues an invoice, attendance uses sessions,
corrections give them back, and the database keeps the counts consistent."""

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from finance import services
from finance.models import Invoice, LedgerEntry, SessionPackage
from finance.selectors import account_balance, ledger_verify, packages_for, session_package_list
from finance.services.packages import (
    package_cancel,
    package_restore,
    package_sell,
    package_use,
    packages_mark_expired,
)
from finance.tasks import packages_expire_task
from tests.factories.academy import CourseFactory, finance_user, staff_user
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeTypeFactory, SessionPackageFactory


@pytest.fixture
def tuition(db):
    return FeeTypeFactory(code="TUITION")


@pytest.fixture
def package(student, cashier, tuition):
    return package_sell(student=student, sessions=10, price="250.00", actor=cashier)


# --- selling ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_selling_issues_one_invoice_line_and_creates_the_package(student, cashier, tuition):
    course = CourseFactory()
    package = package_sell(
        student=student, sessions=8, price="200", actor=cashier, course=course, expires_on=timezone.localdate()
    )

    assert (package.sessions_purchased, package.sessions_used, package.sessions_remaining) == (8, 0, 8)
    assert package.price == D("200.00")
    assert package.status == SessionPackage.Status.ACTIVE
    assert package.course == course and package.program == course.program
    assert package.created_by == cashier
    line = package.invoice_line
    assert line.amount == D("200.00") and line.fee_type == tuition
    invoice = line.invoice
    assert invoice.student == student and invoice.total == D("200.00")
    assert invoice.status == Invoice.Status.PENDING and invoice.lines.count() == 1
    assert account_balance(student=student) == D("200.00")
    assert LedgerEntry.objects.filter(invoice_line=line).count() == 1
    assert package.history.count() == 1
    assert ledger_verify().problems == []


@pytest.mark.django_db
def test_the_package_invoice_is_paid_like_any_other(package, cashier):
    services.payment_record(actor=cashier, student=package.student, amount="250", method="cash")

    package.invoice_line.invoice.refresh_from_db()
    assert package.invoice_line.invoice.status == Invoice.Status.PAID
    assert account_balance(student=package.student) == D("0.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sessions": 0}, "sessions"),
        ({"sessions": -3}, "sessions"),
        ({"sessions": "5"}, "sessions"),
        ({"price": "0"}, "price"),
        ({"price": "-10"}, "price"),
        ({"price": "10.005"}, "price"),
        ({"price": "lots"}, "price"),
        ({"expires_on": timezone.localdate() - timedelta(days=1)}, "expires_on"),
    ],
)
def test_bad_sales_are_refused_and_write_nothing(student, cashier, tuition, kwargs, field):
    arguments = {"student": student, "sessions": 5, "price": "100", "actor": cashier} | kwargs

    with pytest.raises(ValidationError) as error:
        package_sell(**arguments)

    assert field in error.value.message_dict
    assert not SessionPackage.objects.exists() and not Invoice.objects.exists()


@pytest.mark.django_db
def test_a_course_of_another_programme_is_refused(student, cashier, tuition):
    course, other = CourseFactory(), CourseFactory()

    with pytest.raises(ValidationError, match="another programme"):
        package_sell(student=student, sessions=5, price="100", actor=cashier, course=course, program=other.program)


# --- using and giving back ----------------------------------------------------------------


@pytest.mark.django_db
def test_using_counts_down_and_exhausts(package, cashier):
    package = package_use(package=package, actor=cashier)
    assert (package.sessions_used, package.sessions_remaining, package.status) == (1, 9, "active")

    package = package_use(package=package, actor=cashier, sessions=9)

    package.refresh_from_db()
    assert (package.sessions_used, package.sessions_remaining, package.status) == (10, 0, "exhausted")
    with pytest.raises(Conflict) as error:
        package_use(package=package, actor=cashier)
    assert error.value.code == "package_exhausted"


@pytest.mark.django_db
def test_using_more_than_remain_is_refused_and_changes_nothing(package, cashier):
    package_use(package=package, actor=cashier, sessions=8)

    with pytest.raises(Conflict) as error:
        package_use(package=package, actor=cashier, sessions=3)

    assert error.value.code == "package_exhausted"
    package.refresh_from_db()
    assert (package.sessions_used, package.sessions_remaining) == (8, 2)


@pytest.mark.django_db
def test_an_expired_package_cannot_be_used(student, cashier, tuition):
    package = SessionPackageFactory(student=student, expires_on=timezone.localdate() - timedelta(days=1))

    with pytest.raises(Conflict) as error:
        package_use(package=package, actor=cashier)

    assert error.value.code == "package_inactive"
    assert packages_mark_expired() == 1
    package.refresh_from_db()
    assert package.status == SessionPackage.Status.EXPIRED
    assert packages_mark_expired() == 0  # idempotent
    with pytest.raises(Conflict, match="expired or cancelled"):
        package_use(package=package, actor=cashier)


@pytest.mark.django_db
def test_restoring_gives_sessions_back_and_reopens_an_exhausted_package(package, cashier):
    package_use(package=package, actor=cashier, sessions=10)

    package = package_restore(package=package, actor=cashier)

    assert (package.sessions_used, package.sessions_remaining, package.status) == (9, 1, "active")
    package_use(package=package, actor=cashier)


@pytest.mark.django_db
def test_restoring_never_goes_above_purchased(package, cashier):
    package_use(package=package, actor=cashier, sessions=2)

    with pytest.raises(Conflict) as error:
        package_restore(package=package, actor=cashier, sessions=3)

    assert error.value.code == "package_nothing_to_restore"
    package.refresh_from_db()
    assert (package.sessions_used, package.sessions_remaining) == (2, 8)


@pytest.mark.django_db
def test_every_change_is_in_the_history_with_its_actor(package, cashier):
    package_use(package=package, actor=cashier)
    package_restore(package=package, actor=cashier, reason="Marked absent after all")

    latest = package.history.first()
    assert package.history.count() == 3
    assert latest.history_user == cashier and latest.history_change_reason == "Marked absent after all"


# --- cancelling ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancelling_an_unused_unpaid_package_cancels_its_invoice(package, cashier):
    package = package_cancel(package=package, actor=cashier, reason="Changed their mind")

    assert package.status == SessionPackage.Status.CANCELLED and package.cancelled_at is not None
    invoice = Invoice.objects.get(pk=package.invoice_line.invoice_id)
    assert invoice.status == Invoice.Status.CANCELLED
    assert account_balance(student=package.student) == D("0.00")
    assert ledger_verify().problems == []
    for use in (package_use, package_restore):
        with pytest.raises(Conflict) as error:
            use(package=package, actor=cashier)
        assert error.value.code == "package_inactive"
    with pytest.raises(Conflict):
        package_cancel(package=package, actor=cashier, reason="again")


@pytest.mark.django_db
def test_cancelling_a_used_package_keeps_its_invoice(package, cashier):
    package_use(package=package, actor=cashier, sessions=3)

    package_cancel(package=package, actor=cashier, reason="Moved away")

    assert Invoice.objects.get(pk=package.invoice_line.invoice_id).status == Invoice.Status.PENDING
    assert account_balance(student=package.student) == D("250.00")


@pytest.mark.django_db
def test_cancelling_the_invoice_of_an_unused_package_cancels_the_package(package, cashier):
    invoice = Invoice.objects.get(pk=package.invoice_line.invoice_id)

    services.invoice_cancel(invoice=invoice, actor=cashier, reason="Sold by mistake")

    package.refresh_from_db()
    assert package.status == SessionPackage.Status.CANCELLED
    assert package.cancel_reason == f"{invoice.invoice_number} cancelled: Sold by mistake"
    with pytest.raises(Conflict) as error:
        package_use(package=package, actor=cashier)
    assert error.value.code == "package_inactive"
    assert ledger_verify().problems == []


@pytest.mark.django_db
def test_the_invoice_of_a_used_package_cannot_be_cancelled(package, cashier):
    package_use(package=package, actor=cashier, sessions=2)
    invoice = Invoice.objects.get(pk=package.invoice_line.invoice_id)
    entries = LedgerEntry.objects.count()

    with pytest.raises(Conflict) as error:
        services.invoice_cancel(invoice=invoice, actor=cashier, reason="Sold by mistake")

    assert error.value.code == "package_in_use"
    invoice.refresh_from_db()
    package.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and package.status == SessionPackage.Status.ACTIVE
    assert LedgerEntry.objects.count() == entries


@pytest.mark.django_db
def test_cancelling_needs_a_reason(package, cashier):
    with pytest.raises(ValidationError):
        package_cancel(package=package, actor=cashier, reason=" ")
    package.refresh_from_db()
    assert package.status == SessionPackage.Status.ACTIVE


# --- selectors ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_packages_for_lists_usable_ones_oldest_expiring_first(student, tuition):
    today = timezone.localdate()
    course = CourseFactory()
    never = SessionPackageFactory(student=student)
    late = SessionPackageFactory(student=student, expires_on=today + timedelta(days=30), course=course)
    soon = SessionPackageFactory(student=student, expires_on=today + timedelta(days=3))
    for_programme = SessionPackageFactory(student=student, program=course.program)
    SessionPackageFactory(student=student, course=CourseFactory())  # another course
    SessionPackageFactory(student=student, expires_on=today - timedelta(days=1))  # expired by date
    exhausted = SessionPackageFactory(student=student, sessions=1)
    package_use(package=exhausted, actor=None)
    SessionPackageFactory()  # another student

    assert list(packages_for(student=student, course=course)) == [soon, late, never, for_programme]
    assert len(packages_for(student=student)) == 5


@pytest.mark.django_db
def test_package_list_is_scoped_to_the_students_a_user_may_see(student, other_location, tuition):
    mine = SessionPackageFactory(student=student)
    SessionPackageFactory(student=StudentFactory(location=other_location))
    office = staff_user(locations=[student.location])

    assert list(session_package_list(user=office)) == [mine]
    assert session_package_list(user=finance_user()).count() == 2


# --- database guarantees ------------------------------------------------------------------


def _raw_update(package, **values):
    with transaction.atomic():
        SessionPackage.objects.filter(pk=package.pk).update(**values)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "values",
    [
        {"sessions_remaining": 7},  # remaining != purchased - used
        {"sessions_used": 11, "sessions_remaining": -1},  # used > purchased
        {"sessions_used": 12, "sessions_purchased": 10, "sessions_remaining": 0},
        {"sessions_purchased": 0, "sessions_remaining": 0, "status": "exhausted"},
        {"price": D("0.00")},
        {"status": "exhausted"},  # exhausted with sessions left
        {"status": "lost"},
        {"status": "cancelled"},  # cancelled without a date
    ],
)
def test_the_database_refuses_inconsistent_counts(package, values):
    with pytest.raises(IntegrityError):
        _raw_update(package, **values)


@pytest.mark.django_db
def test_the_database_refuses_negative_counts(package):
    with pytest.raises(IntegrityError):
        _raw_update(package, sessions_used=-1, sessions_remaining=11)


# --- concurrency --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_uses_of_ten_sessions_use_exactly_ten(location):
    student = StudentFactory(location=location)
    actor = finance_user(username="desk")
    FeeTypeFactory(code="TUITION")
    package = package_sell(student=student, sessions=10, price="100", actor=actor)
    used, refused, errors = [], [], []
    barrier = threading.Barrier(20)

    def attend():
        try:
            barrier.wait()
            package_use(package=package, actor=actor)
            used.append(1)
        except Conflict as error:
            refused.append(error.code)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attend) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(used) == 10 and refused == ["package_exhausted"] * 10
    package.refresh_from_db()
    assert (package.sessions_used, package.sessions_remaining, package.status) == (10, 0, "exhausted")
    assert package.history.count() == 11


# --- API ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_sells_lists_and_cancels_packages(client_for, student, cashier, tuition):
    client = client_for(cashier)

    response = client.post(
        "/api/v1/session-packages/",
        {"student": str(student.pk), "sessions": 5, "price": "75.50"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sessions_purchased"], body["sessions_used"], body["sessions_remaining"]) == (5, 0, 5)
    assert body["price"] == "75.50" and body["status"] == "active" and body["invoice_number"].startswith("INV-")
    listed = client.get("/api/v1/session-packages/").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    cancel = f"/api/v1/session-packages/{body['id']}/cancel/"
    assert client.post(cancel, {"reason": "Duplicate"}, format="json").json()["status"] == "cancelled"
    again = client.post(cancel, {"reason": "Duplicate"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "package_inactive"
    bad = client.post(
        "/api/v1/session-packages/", {"student": str(student.pk), "sessions": 0, "price": "1"}, format="json"
    )
    assert bad.status_code == 400 and "sessions" in bad.json()


@pytest.mark.django_db
def test_the_package_list_has_a_fixed_query_count(
    client_for, location, cashier, tuition, django_assert_max_num_queries
):
    client = client_for(cashier)
    SessionPackageFactory(student=StudentFactory(location=location))
    with django_assert_max_num_queries(12) as few:
        client.get("/api/v1/session-packages/")
    for _ in range(4):
        SessionPackageFactory(student=StudentFactory(location=location), course=CourseFactory())

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/session-packages/")

    assert response.status_code == 200 and response.json()["count"] == 5


@pytest.mark.django_db
def test_the_daily_task_expires_packages(student, tuition):
    package = SessionPackageFactory(student=student, expires_on=timezone.localdate() - timedelta(days=1))
    assert packages_expire_task() == 1
    package.refresh_from_db()
    assert package.status == SessionPackage.Status.EXPIRED
