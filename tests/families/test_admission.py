import pytest
from django.core.exceptions import ValidationError

from academy.common.exceptions import Conflict
from families import services
from families.models import Guardian, StudentGuardian
from students.models import Student
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = pytest.mark.django_db


def student_data(location, **overrides):
    data = {
        "first_name": "Emma",
        "last_name": "Johnson",
        "date_of_birth": "2015-03-15",
        "enrollment_date": "2025-09-01",
        "location": location,
    }
    data.update(overrides)
    return data


def guardian_data(**overrides):
    data = {"first_name": "Sarah", "last_name": "Johnson", "email": "Sarah.Johnson@Example.org", "phone": "555-0124"}
    data.update(overrides)
    return data


def test_admit_with_new_primary_guardian_writes_student_guardian_and_link(location, office):
    student = services.student_admit(
        actor=office,
        student_data=student_data(location),
        primary=services.GuardianLinkSpec("primary", data=guardian_data(), flags={"relation": "Mother"}),
    )
    assert student.student_number.startswith("STU-2025-")
    link = StudentGuardian.objects.get(student=student)
    assert link.relationship_type == "primary"
    assert link.can_authorize_medical and link.is_financially_responsible
    assert link.guardian.email == "sarah.johnson@example.org"
    assert link.guardian.guardian_number.startswith("PAR-")
    assert student.history.first().history_user == office


def test_admit_with_invalid_guardian_writes_nothing(location, office):
    with pytest.raises(ValidationError) as error:
        services.student_admit(
            actor=office,
            student_data=student_data(location),
            primary=services.GuardianLinkSpec("primary", data=guardian_data(email="not-an-email")),
        )
    assert "primary_guardian.email" in error.value.message_dict
    assert not Student.all_objects.exists() and not Guardian.objects.exists()


def test_admit_reports_student_and_guardian_errors_together(location, office):
    with pytest.raises(ValidationError) as error:
        services.student_admit(
            actor=office,
            student_data=student_data(location, first_name="", date_of_birth="2030-01-01"),
            primary=services.GuardianLinkSpec("primary", data=guardian_data(phone="")),
        )
    assert {"first_name", "primary_guardian.phone"} <= set(error.value.message_dict)


def test_primary_guardian_change_swaps_atomically(location, office):
    student = StudentFactory(location=location)
    old_primary = student.guardian_links.get().guardian
    new_guardian = GuardianFactory()
    services.primary_guardian_change(student=student, guardian=new_guardian, actor=office)
    links = {link.guardian_id: link for link in student.guardian_links.all()}
    assert links[new_guardian.pk].relationship_type == "primary"
    assert links[new_guardian.pk].can_authorize_medical
    assert links[old_primary.pk].relationship_type == "secondary"


def test_unlinking_the_primary_guardian_is_refused(location, office):
    student = StudentFactory(location=location)
    with pytest.raises(Conflict) as error:
        services.student_guardian_unlink(link=student.guardian_links.get(), actor=office)
    assert error.value.code == "primary_guardian_required"
    assert student.guardian_links.count() == 1
