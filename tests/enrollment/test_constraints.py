"""The seed's enrollment rules are database constraints: the database refuses a raw
write that breaks them (no service, no ``full_clean``)."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment.models import Enrollment, WaitlistEntry
from tests.factories.enrollment import EnrollmentFactory, WaitlistEntryFactory

pytestmark = pytest.mark.django_db


def refused(queryset, **changes):
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**changes)


@pytest.fixture
def enrollment(location):
    return EnrollmentFactory(student__location=location)


class TestEnrollmentConstraints:
    def test_a_second_active_enrollment_of_a_student_in_a_section(self, enrollment):
        with pytest.raises(IntegrityError), transaction.atomic():
            EnrollmentFactory(student=enrollment.student, section=enrollment.section, status="paused")

    def test_an_ended_enrollment_does_not_count_as_active(self, enrollment):
        Enrollment.objects.filter(pk=enrollment.pk).update(status="withdrawn", end_date=datetime.date(2025, 10, 1))
        again = EnrollmentFactory(student=enrollment.student, section=enrollment.section)
        assert again.pk

    def test_dates_in_order(self, enrollment):
        refused(Enrollment.objects.filter(pk=enrollment.pk), end_date=datetime.date(2025, 8, 31))

    def test_classes_start_on_or_after_the_enrollment_date(self, enrollment):
        day_before = enrollment.enrollment_date - datetime.timedelta(days=1)
        refused(Enrollment.objects.filter(pk=enrollment.pk), start_date=day_before)

    def test_an_ended_enrollment_has_an_end_date(self, enrollment):
        refused(Enrollment.objects.filter(pk=enrollment.pk), status="withdrawn")

    @pytest.mark.parametrize(
        "changes",
        [
            {"sessions_completed": 13, "sessions_remaining": -1},  # more completed than allocated
            {"sessions_remaining": 11},  # remaining is not allocated - completed
            {"sessions_allocated": 12, "sessions_completed": 2, "sessions_remaining": 12},
        ],
    )
    def test_session_counts_consistent(self, enrollment, changes):
        refused(Enrollment.objects.filter(pk=enrollment.pk), **changes)

    def test_status_valid(self, enrollment):
        refused(Enrollment.objects.filter(pk=enrollment.pk), status="dropped")

    def test_fees_non_negative(self, enrollment):
        refused(Enrollment.objects.filter(pk=enrollment.pk), enrollment_fee=Decimal("-1.00"))
        refused(Enrollment.objects.filter(pk=enrollment.pk), session_rate=Decimal("-0.01"))


class TestWaitlistConstraints:
    @pytest.fixture
    def entry(self, location):
        return WaitlistEntryFactory(student__location=location, position=1)

    def test_one_live_entry_per_student_and_section(self, entry):
        with pytest.raises(IntegrityError), transaction.atomic():
            WaitlistEntryFactory(student=entry.student, section=entry.section, position=2)

    def test_a_closed_entry_does_not_block_a_new_one(self, entry):
        WaitlistEntry.objects.filter(pk=entry.pk).update(status="removed")
        assert WaitlistEntryFactory(student=entry.student, section=entry.section, position=2).pk

    def test_one_live_entry_per_place_in_line(self, entry, location):
        with pytest.raises(IntegrityError), transaction.atomic():
            WaitlistEntryFactory(student__location=location, section=entry.section, position=1)

    def test_position_positive(self, entry):
        refused(WaitlistEntry.objects.filter(pk=entry.pk), position=0)

    def test_an_offer_needs_a_later_expiry(self, entry):
        now = timezone.now()
        refused(WaitlistEntry.objects.filter(pk=entry.pk), status="offered")
        refused(WaitlistEntry.objects.filter(pk=entry.pk), status="offered", offered_at=now, offer_expires_at=now)

    def test_an_accepted_entry_names_its_enrollment(self, entry):
        refused(WaitlistEntry.objects.filter(pk=entry.pk), status="accepted")
