"""Number series (academy.common.numbering): STU-YYYY-NNNN and friends, consecutive,
without gaps, and safe under concurrent admissions."""

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from academy.common.models import NumberSequence
from academy.common.numbering import (
    GUARDIAN_NUMBERS,
    INVOICE_NUMBERS,
    STUDENT_NUMBERS,
    number_block,
    number_next,
)
from families.services import GuardianLinkSpec, student_admit
from students.models import Student
from tests.factories.academy import LocationFactory, staff_user

SEPT = datetime.date(2025, 9, 1)


def student_data(location, n):
    return {
        "first_name": f"Student{n}",
        "last_name": "Concurrent",
        "date_of_birth": "2015-03-15",
        "enrollment_date": "2025-09-01",
        "location": location,
    }


def guardian_data(n):
    return {"first_name": "Pat", "last_name": f"Parent{n}", "email": f"parent{n}@example.org", "phone": "555-0100"}


@pytest.mark.django_db
class TestFormatAndOrder:
    def test_student_numbers_have_the_year_and_four_digits(self):
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0001"
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0002"

    def test_each_prefix_and_year_is_its_own_series(self):
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0001"
        assert number_next(GUARDIAN_NUMBERS, on=SEPT) == "PAR-2025-0001"
        assert number_next(STUDENT_NUMBERS, on=datetime.date(2026, 1, 5)) == "STU-2026-0001"
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0002"
        assert set(NumberSequence.objects.values_list("key", "last_value")) == {
            ("STU-2025", 2),
            ("PAR-2025", 1),
            ("STU-2026", 1),
        }

    def test_invoice_numbers_have_six_digits(self):
        assert number_next(INVOICE_NUMBERS, on=SEPT) == "INV-2025-000001"

    def test_without_a_date_the_current_year_is_used(self):
        assert number_next(STUDENT_NUMBERS) == f"STU-{timezone.localdate().year}-0001"

    def test_numbers_beyond_the_width_keep_growing(self):
        NumberSequence.objects.create(key="STU-2025", last_value=9999)
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-10000"


@pytest.mark.django_db
class TestNoGaps:
    def test_a_rolled_back_transaction_returns_its_number(self):
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0001"
        with pytest.raises(RuntimeError, match="boom"), transaction.atomic():
            assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0002"
            raise RuntimeError("boom")
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0002"

    def test_a_rolled_back_first_number_leaves_no_series_behind(self):
        with pytest.raises(RuntimeError), transaction.atomic():
            number_next(STUDENT_NUMBERS, on=SEPT)
            raise RuntimeError("boom")
        assert not NumberSequence.objects.filter(key="STU-2025").exists()
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0001"

    def test_a_failed_admission_consumes_no_student_number(self, location, office):
        with pytest.raises(ValidationError):
            student_admit(
                actor=office,
                student_data=student_data(location, 1),
                primary=GuardianLinkSpec("primary", data=guardian_data(1) | {"email": "not-an-email"}),
            )
        student = student_admit(
            actor=office,
            student_data=student_data(location, 2),
            primary=GuardianLinkSpec("primary", data=guardian_data(2)),
        )
        assert student.student_number == "STU-2025-0001"
        assert student.guardian_links.get().guardian.guardian_number.endswith("-0001")


@pytest.mark.django_db
class TestNumberBlock:
    def test_a_block_is_consecutive_and_the_series_continues_after_it(self):
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0001"
        block = number_block(STUDENT_NUMBERS, 5, on=SEPT)
        assert block == [f"STU-2025-{n:04d}" for n in range(2, 7)]
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0007"

    def test_a_block_on_a_new_series_starts_at_one(self):
        assert number_block(GUARDIAN_NUMBERS, 3, on=SEPT) == ["PAR-2025-0001", "PAR-2025-0002", "PAR-2025-0003"]

    @pytest.mark.parametrize("count", [0, -3])
    def test_an_empty_block_reserves_nothing(self, count):
        assert number_block(STUDENT_NUMBERS, count, on=SEPT) == []
        assert number_next(STUDENT_NUMBERS, on=SEPT) == "STU-2025-0001"

    def test_a_rolled_back_block_is_returned(self):
        with pytest.raises(RuntimeError), transaction.atomic():
            number_block(STUDENT_NUMBERS, 100, on=SEPT)
            raise RuntimeError("boom")
        assert number_block(STUDENT_NUMBERS, 2, on=SEPT) == ["STU-2025-0001", "STU-2025-0002"]


@pytest.mark.django_db(transaction=True)
def test_numbers_are_refused_outside_a_transaction():
    # given autocommit (no transaction that would store the numbered row)
    assert not connection.in_atomic_block
    # then no number is handed out: it could never be given back
    with pytest.raises(RuntimeError, match="inside the transaction"):
        number_next(STUDENT_NUMBERS, on=SEPT)
    with pytest.raises(RuntimeError):
        number_block(STUDENT_NUMBERS, 3, on=SEPT)
    assert not NumberSequence.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_admissions_get_unique_gapless_numbers():
    """8 threads x 10 admissions at once, each thread on its own connection, plus one
    failed admission per thread: 80 students numbered exactly 1..80."""
    threads_count, per_thread = 8, 10
    location = LocationFactory(code="MAIN")
    office = staff_user(username="office")
    barrier = threading.Barrier(threads_count)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def admit_many(thread_index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(per_thread):
                n = thread_index * 100 + i
                if i == per_thread // 2:
                    # a failed admission in the middle: its number goes back to the series
                    with pytest.raises(ValidationError):
                        student_admit(
                            actor=office,
                            student_data=student_data(location, n + 50),
                            primary=GuardianLinkSpec("primary", data=guardian_data(n + 50) | {"phone": ""}),
                        )
                student = student_admit(
                    actor=office,
                    student_data=student_data(location, n),
                    primary=GuardianLinkSpec("primary", data=guardian_data(n)),
                )
                with lock:
                    numbers.append(student.student_number)
        except BaseException as error:  # reported by the main thread
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=admit_many, args=(index,)) for index in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    expected = [f"STU-2025-{n:04d}" for n in range(1, threads_count * per_thread + 1)]
    assert sorted(numbers) == expected
    assert sorted(Student.all_objects.values_list("student_number", flat=True)) == expected
    assert NumberSequence.objects.get(key="STU-2025").last_value == threads_count * per_thread
    guardian_series = GUARDIAN_NUMBERS.key(timezone.localdate().year)
    assert NumberSequence.objects.get(key=guardian_series).last_value == threads_count * per_thread
