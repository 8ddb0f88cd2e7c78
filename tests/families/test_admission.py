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


def test_admit_with_an_existing_guardian_creates_no_new_guardian(location, office, family):
    guardian, children = family
    guardians_before = Guardian.objects.count()
    student = services.student_admit(
        actor=office,
        student_data=student_data(location, first_name="Third"),
        primary=services.GuardianLinkSpec("primary", guardian=guardian, flags={"relation": "Mother"}),
    )
    assert Guardian.objects.count() == guardians_before
    link = StudentGuardian.objects.get(student=student)
    assert (link.guardian, link.relationship_type, link.relation) == (guardian, "primary", "Mother")
    assert set(guardian.student_links.values_list("student_id", flat=True)) == {c.pk for c in [*children, student]}


def test_admit_with_other_guardians_links_each_with_its_flags(location, office):
    grandma = GuardianFactory(last_name="Johnson")
    student = services.student_admit(
        actor=office,
        student_data=student_data(location),
        primary=services.GuardianLinkSpec("primary", data=guardian_data()),
        others=[
            services.GuardianLinkSpec(
                "secondary",
                data=guardian_data(first_name="Mike", email="mike@example.org"),
                flags={"relation": "Father"},
            ),
            services.GuardianLinkSpec(
                "emergency", guardian=grandma, flags={"relation": "Grandmother", "can_pick_up": False}
            ),
        ],
    )
    links = {link.relationship_type: link for link in student.guardian_links.select_related("guardian")}
    assert set(links) == {"primary", "secondary", "emergency"}
    assert links["secondary"].guardian.first_name == "Mike"
    assert not links["secondary"].can_authorize_medical and not links["secondary"].is_financially_responsible
    assert links["emergency"].guardian == grandma and not links["emergency"].can_pick_up
    assert all(link.created_by == office for link in links.values())


def test_a_guardian_listed_twice_in_one_admission_writes_nothing(location, office):
    guardian = GuardianFactory()
    with pytest.raises(ValidationError) as error:
        services.student_admit(
            actor=office,
            student_data=student_data(location),
            primary=services.GuardianLinkSpec("primary", guardian=guardian),
            others=[services.GuardianLinkSpec("secondary", guardian=guardian)],
        )
    assert error.value.message_dict == {"guardians[0]": ["This guardian is listed twice."]}
    assert not Student.all_objects.exists()
    assert not StudentGuardian.objects.exists()


def test_an_error_in_another_guardian_is_reported_under_its_index(location, office):
    with pytest.raises(ValidationError) as error:
        services.student_admit(
            actor=office,
            student_data=student_data(location),
            primary=services.GuardianLinkSpec("primary", data=guardian_data()),
            others=[
                services.GuardianLinkSpec("secondary", data=guardian_data(email="ok@example.org")),
                services.GuardianLinkSpec("emergency", data=guardian_data(email="bad")),
            ],
        )
    assert set(error.value.message_dict) == {"guardians[1].email"}
    assert not Student.all_objects.exists() and not Guardian.objects.exists()


@pytest.mark.parametrize(
    ("primary", "others", "key"),
    [
        (lambda: services.GuardianLinkSpec("secondary", data=guardian_data()), [], "primary_guardian"),
        (lambda: services.GuardianLinkSpec("primary"), [], "primary_guardian"),
        (
            lambda: services.GuardianLinkSpec("primary", data=guardian_data()),
            [services.GuardianLinkSpec("primary", data=guardian_data(email="two@example.org"))],
            "guardians",
        ),
    ],
    ids=["first-is-not-primary", "no-primary-guardian", "two-primaries"],
)
def test_an_admission_needs_exactly_one_primary_guardian(location, office, primary, others, key):
    with pytest.raises(ValidationError) as error:
        services.student_admit(actor=office, student_data=student_data(location), primary=primary(), others=others)
    assert key in error.value.message_dict
    assert not Student.all_objects.exists() and not Guardian.objects.exists()


def test_a_primary_guardian_who_may_not_authorise_medical_care_is_refused(location, office):
    with pytest.raises(ValidationError) as error:
        services.student_admit(
            actor=office,
            student_data=student_data(location),
            primary=services.GuardianLinkSpec("primary", data=guardian_data(), flags={"can_authorize_medical": False}),
        )
    assert "primary_guardian.can_authorize_medical" in error.value.message_dict
    assert not Student.all_objects.exists()


def test_a_primary_guardian_can_be_marked_not_financially_responsible(location, office):
    student = services.student_admit(
        actor=office,
        student_data=student_data(location),
        primary=services.GuardianLinkSpec("primary", data=guardian_data(), flags={"is_financially_responsible": False}),
    )
    link = student.guardian_links.get()
    assert link.can_authorize_medical and not link.is_financially_responsible


def test_unknown_link_fields_are_a_programming_error(location, office):
    with pytest.raises(ValueError, match="unknown link fields"):
        services.student_admit(
            actor=office,
            student_data=student_data(location),
            primary=services.GuardianLinkSpec("primary", data=guardian_data(), flags={"is_boss": True}),
        )
    assert not Student.all_objects.exists()


def test_an_existing_guardian_and_an_invalid_student_write_nothing(location, office, family):
    guardian, _ = family
    students_before = Student.all_objects.count()
    with pytest.raises(ValidationError) as error:
        services.student_admit(
            actor=office,
            student_data=student_data(location, last_name="", email="nope"),
            primary=services.GuardianLinkSpec("primary", guardian=guardian),
        )
    assert {"last_name", "email"} <= set(error.value.message_dict)
    assert Student.all_objects.count() == students_before


def test_admission_records_the_actor_on_every_row(location, office):
    student = services.student_admit(
        actor=office,
        student_data=student_data(location),
        primary=services.GuardianLinkSpec("primary", data=guardian_data()),
    )
    link = student.guardian_links.select_related("guardian").get()
    assert (student.created_by, student.updated_by) == (office, office)
    assert link.guardian.created_by == office
    assert link.history.get().history_user == office
    assert link.guardian.history.get().history_user == office
    assert student.history.get().history_change_reason == "Admitted"
