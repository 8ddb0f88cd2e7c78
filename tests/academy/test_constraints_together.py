"""A model's constraints validate in one query (academy.common.constraints), with the
outcome of Django's own validation: the same errors in the same order, the same
constraints skipped for excluded fields, NULL passing; for the checks and for the unique
constraints, with and without a condition, of a new record and of a saved one."""

import copy
import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from academy.models import AcademicYear, Facility
from enrollment.models import Enrollment, WaitlistEntry
from finance import services
from finance.models import FeeStructure, Invoice, Payment
from grading.models import GradeScale
from tests.factories.academy import (
    AcademicYearFactory,
    FacilityFactory,
    ProgramFactory,
    SectionFactory,
    finance_user,
)
from tests.factories.enrollment import EnrollmentFactory, WaitlistEntryFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory, issue

pytestmark = pytest.mark.django_db


def errors_of(validate, instance, exclude=None):
    try:
        validate(instance, exclude=exclude)
    except ValidationError as error:
        return error.message_dict
    return None


def djangos(instance, exclude=None):
    models.Model.validate_constraints(instance, exclude=exclude)


def ours(instance, exclude=None):
    instance.validate_constraints(exclude=exclude)


def broken_copies(instance):
    """The instance with one value at a time set to something a check may refuse."""
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        if isinstance(field, models.DecimalField | models.IntegerField):
            values = [Decimal("-1"), Decimal("1000000")] if isinstance(field, models.DecimalField) else [-1, 10**6]
        elif isinstance(field, models.DateField):
            values = [datetime.date(2000, 1, 1), datetime.date(2100, 1, 1)]
        elif field.choices:
            values = ["not-a-choice", *[choice for choice, _label in field.flatchoices]]
        elif isinstance(field, models.CharField):
            values = ["", "X"]
        else:
            continue
        if field.null:
            values.append(None)
        for value in values:
            changed = copy.copy(instance)
            setattr(changed, field.attname, value)
            yield field.name, changed


@pytest.fixture
def records(family):
    _guardian, children = family
    cashier = finance_user(username="cashier")
    invoice = issue(children[0], "100.00", "20.00", actor=cashier)
    payment = services.payment_record(actor=cashier, student=children[0], amount="30.00", method="cash").payment
    return [Invoice.objects.get(pk=invoice.pk), Payment.objects.get(pk=payment.pk)]


def test_the_errors_are_djangos_for_every_value_a_check_may_refuse(records):
    compared = refused = 0
    for record in records:
        assert errors_of(ours, record) is None
        for name, changed in broken_copies(record):
            expected = errors_of(djangos, changed)
            assert errors_of(ours, changed) == expected, (type(record).__name__, name, getattr(changed, name))
            # a check over an excluded field is skipped, as Django skips it
            assert errors_of(ours, changed, exclude={name}) == errors_of(djangos, changed, exclude={name})
            compared += 1
            refused += expected is not None
    # the comparison met refusals, not only values every check accepts
    assert compared > 40 and refused > 10


def test_an_invoices_constraints_are_one_query(records):
    invoice = records[0]
    checks = sum(isinstance(c, models.CheckConstraint) for c in Invoice._meta.constraints)
    conditional = sum(
        isinstance(c, models.UniqueConstraint) and c.condition is not None for c in Invoice._meta.constraints
    )
    assert checks >= 5 and conditional >= 2
    with CaptureQueriesContext(connection) as django_queries:
        djangos(invoice)
    with CaptureQueriesContext(connection) as our_queries:
        ours(invoice)
    # Django: a savepoint, a query and a release per check and per conditional unique
    # constraint; here one query in one savepoint (the test runs inside a transaction)
    assert len(django_queries) == 3 * (checks + conditional)
    assert len(our_queries) == 3


# --- unique constraints ----------------------------------------------------------------


@pytest.fixture
def unique_records(family, location, other_location):
    """Rows of the models with unique constraints, several of each, in states that meet a
    constraint's condition and states that do not."""
    _guardian, children = family
    cashier = finance_user(username="cashier")
    first = issue(children[0], "100.00", actor=cashier, billing_period="2030-01")
    issue(children[1], "50.00", actor=cashier, billing_period="2030-01")
    issue(children[0], "20.00", actor=cashier)
    Invoice.objects.filter(pk=first.pk).update(accounting_ref="ACC-1")
    section = SectionFactory(location=location)
    student = StudentFactory(location=location)
    EnrollmentFactory(
        student=student, section=section, status=Enrollment.Status.WITHDRAWN, end_date=datetime.date(2025, 10, 1)
    )
    EnrollmentFactory(student=student, section=section, status=Enrollment.Status.ENROLLED)
    EnrollmentFactory(section=section, status=Enrollment.Status.PAUSED)
    WaitlistEntryFactory(student=student, section=section, status=WaitlistEntry.Status.REMOVED, position=1)
    WaitlistEntryFactory(section=section, position=1)
    offered = timezone.now()
    WaitlistEntryFactory(
        section=section,
        position=2,
        status=WaitlistEntry.Status.OFFERED,
        offered_at=offered,
        offer_expires_at=offered + datetime.timedelta(days=2),
    )
    tuition = FeeTypeFactory(code="TUITION")
    FeeStructureFactory(location=location, fee_type=tuition, is_active=False)
    FeeStructureFactory(location=location, fee_type=tuition)
    FeeStructureFactory(location=other_location, fee_type=tuition)
    AcademicYearFactory(
        name="2040-41", start_date=datetime.date(2040, 9, 1), end_date=datetime.date(2041, 6, 30), is_current=False
    )
    if not AcademicYear.objects.filter(is_current=True).exists():
        AcademicYearFactory(
            name="2041-42", start_date=datetime.date(2041, 9, 1), end_date=datetime.date(2042, 6, 30), is_current=True
        )
    program = ProgramFactory()
    GradeScale.objects.create(name="Programme scale", program=program)
    GradeScale.objects.create(name="Location scale", location=location)
    GradeScale.objects.create(name="Both", program=program, location=location)
    if not GradeScale.objects.filter(is_default=True).exists():
        GradeScale.objects.create(name="Default", is_default=True)
    return [Invoice, Enrollment, WaitlistEntry, FeeStructure, AcademicYear, GradeScale]


def unique_clashes(instance):
    """The instance with the fields of each unique constraint copied from another row,
    then each field its condition refers to set to the values other rows hold."""
    model = type(instance)
    others = list(model._default_manager.exclude(pk=instance.pk))
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or not constraint.fields:
            continue
        referred = Q(constraint.condition).referenced_base_fields - set(constraint.fields)
        for other in others:
            changed = copy.copy(instance)
            for name in constraint.fields:
                attname = model._meta.get_field(name).attname
                setattr(changed, attname, getattr(other, attname))
            yield constraint.name, changed
            for name in referred:
                field = model._meta.get_field(name)
                values = {getattr(row, field.attname) for row in others} | ({None} if field.null else set())
                for value in values:
                    varied = copy.copy(changed)
                    setattr(varied, field.attname, value)
                    yield constraint.name, varied


def as_new(instance):
    new = copy.copy(instance)
    new._state = copy.copy(instance._state)
    new._state.adding = True
    new.pk = None if not instance._meta.pk.has_default() else instance._meta.pk.get_default()
    return new


def test_the_errors_are_djangos_for_every_clash_a_unique_constraint_may_refuse(unique_records):
    compared = 0
    refused = set()
    for model in unique_records:
        for record in model._default_manager.all():
            assert errors_of(ours, record) == errors_of(djangos, record)
            for name, changed in unique_clashes(record):
                for candidate in (changed, as_new(changed)):
                    expected = errors_of(djangos, candidate)
                    assert errors_of(ours, candidate) == expected, (model.__name__, name, vars(candidate))
                    compared += 1
                    if expected is not None:
                        refused.add(name)
                # a constraint over an excluded field is skipped, as Django skips it
                excluded = {next(c.fields[0] for c in model._meta.constraints if c.name == name)}
                assert errors_of(ours, changed, exclude=excluded) == errors_of(djangos, changed, exclude=excluded)
    # every unique constraint of these models over plain fields, with or without a
    # condition, was met refusing a clash, not only passing (the fee structure's is over a
    # generated field, which Django validates itself: compared above all the same)
    assert compared > 200
    assert refused >= {
        "invoice_once_per_student_period",
        "invoice_accounting_ref_unique",
        "one_active_enrollment_per_student_section",
        "one_live_waitlist_entry_per_student_section",
        "waitlist_position_unique_per_section",
        "one_current_academic_year",
        "one_default_grade_scale",
        "grade_scale_unique_per_program_location",
        "grade_scale_unique_per_program",
        "grade_scale_unique_per_location",
    }, refused


def test_only_plain_unique_constraints_are_one_bare_query_as_in_django(location):
    facility = FacilityFactory(location=location, code="POOL")
    clash = Facility(location=location, code="POOL", name="Another pool")
    assert [type(c) for c in Facility._meta.constraints] == [models.UniqueConstraint]

    with CaptureQueriesContext(connection) as django_queries:
        expected = errors_of(djangos, clash)
    with CaptureQueriesContext(connection) as our_queries:
        found = errors_of(ours, clash)

    assert expected is not None and found == expected
    # no savepoint around it: Django's exists() has none either
    assert len(django_queries) == len(our_queries) == 1
    assert errors_of(ours, facility) is None
