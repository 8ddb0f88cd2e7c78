"""Services on the links between students and guardians: link, update, unlink and the
primary-guardian swap, with their conflict codes."""

import pytest
from django.core.exceptions import ValidationError

from academy.common.exceptions import Conflict
from families import services
from families.models import StudentGuardian
from students.models import Student
from students.services import student_soft_delete
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def student(location):
    return StudentFactory(location=location)


def primary_of(student) -> StudentGuardian:
    return StudentGuardian.objects.get(student=student, relationship_type="primary")


def types_by_guardian(student) -> dict:
    return dict(StudentGuardian.objects.filter(student=student).values_list("guardian_id", "relationship_type"))


class TestLink:
    @pytest.mark.parametrize("relationship_type", ["secondary", "emergency"])
    def test_link_a_secondary_guardian_or_emergency_contact(self, student, office, relationship_type):
        uncle = GuardianFactory()
        link = services.student_guardian_link(
            actor=office,
            student=student,
            guardian=uncle,
            relationship_type=relationship_type,
            flags={"relation": "Uncle", "can_pick_up": False, "receives_communications": False},
        )
        link.refresh_from_db()
        assert (link.relationship_type, link.relation, link.can_pick_up, link.receives_communications) == (
            relationship_type,
            "Uncle",
            False,
            False,
        )
        assert link.created_by == office and link.history.get().history_user == office
        assert not link.can_authorize_medical  # only the primary is forced to authorise

    def test_a_second_primary_is_a_conflict(self, student, office):
        with pytest.raises(Conflict) as error:
            services.student_guardian_link(
                actor=office, student=student, guardian=GuardianFactory(), relationship_type="primary"
            )
        assert error.value.code == "primary_guardian_exists"
        assert student.guardian_links.count() == 1

    def test_linking_the_same_guardian_twice_is_a_conflict(self, student, office):
        primary = primary_of(student).guardian
        with pytest.raises(Conflict) as error:
            services.student_guardian_link(
                actor=office, student=student, guardian=primary, relationship_type="secondary"
            )
        assert error.value.code == "already_linked"
        assert types_by_guardian(student) == {primary.pk: "primary"}

    def test_an_unknown_relationship_type_is_invalid_input(self, student, office):
        with pytest.raises(ValidationError) as error:
            services.student_guardian_link(
                actor=office, student=student, guardian=GuardianFactory(), relationship_type="cousin"
            )
        assert "relationship_type" in error.value.message_dict
        assert student.guardian_links.count() == 1

    def test_a_deleted_student_cannot_get_new_guardians(self, student, office):
        student_soft_delete(student=student, actor=office, reason="Duplicate")
        with pytest.raises(Student.DoesNotExist):
            services.student_guardian_link(
                actor=office, student=student, guardian=GuardianFactory(), relationship_type="secondary"
            )


class TestUpdate:
    def test_change_flags_and_type_between_secondary_and_emergency(self, student, office):
        link = StudentGuardianFactory(student=student, relationship_type="secondary")
        services.student_guardian_update(
            link=link,
            actor=office,
            data={"relationship_type": "emergency", "relation": "Neighbour", "can_authorize_medical": True},
        )
        link.refresh_from_db()
        assert (link.relationship_type, link.relation, link.can_authorize_medical) == ("emergency", "Neighbour", True)
        assert link.history.first().history_user == office

    @pytest.mark.parametrize(("start", "target"), [("secondary", "primary"), ("primary", "secondary")])
    def test_primary_changes_only_through_the_swap(self, student, office, start, target):
        link = primary_of(student) if start == "primary" else StudentGuardianFactory(student=student)
        with pytest.raises(Conflict) as error:
            services.student_guardian_update(link=link, actor=office, data={"relationship_type": target})
        assert error.value.code == "primary_guardian_change"
        link.refresh_from_db()
        assert link.relationship_type == start

    def test_the_primary_guardian_keeps_the_medical_authority(self, student, office):
        link = primary_of(student)
        with pytest.raises(ValidationError) as error:
            services.student_guardian_update(link=link, actor=office, data={"can_authorize_medical": False})
        assert "can_authorize_medical" in error.value.message_dict
        link.refresh_from_db()
        assert link.can_authorize_medical

    def test_the_primary_guardians_other_flags_can_change(self, student, office):
        link = primary_of(student)
        services.student_guardian_update(
            link=link, actor=office, data={"relation": "Father", "is_financially_responsible": False}
        )
        link.refresh_from_db()
        assert (link.relationship_type, link.relation, link.is_financially_responsible) == ("primary", "Father", False)

    @pytest.mark.parametrize("field", ["student", "guardian", "created_by"])
    def test_the_ends_of_a_link_cannot_be_changed(self, student, office, field):
        link = StudentGuardianFactory(student=student)
        with pytest.raises(ValueError, match=field):
            services.student_guardian_update(link=link, actor=office, data={field: None})


class TestUnlink:
    def test_unlink_a_secondary_guardian(self, student, office):
        link = StudentGuardianFactory(student=student)
        services.student_guardian_unlink(link=link, actor=office)
        assert not StudentGuardian.objects.filter(pk=link.pk).exists()
        deleted = StudentGuardian.history.filter(id=link.pk, history_type="-").get()
        assert (deleted.history_user, deleted.history_change_reason) == (office, "Unlinked")
        assert student.guardian_links.count() == 1

    def test_the_primary_guardian_cannot_be_unlinked(self, student, office):
        with pytest.raises(Conflict) as error:
            services.student_guardian_unlink(link=primary_of(student), actor=office)
        assert error.value.code == "primary_guardian_required"
        assert primary_of(student)

    @pytest.mark.parametrize("status", ["inactive", "withdrawn", "graduated"])
    def test_the_primary_of_a_student_who_left_cannot_be_unlinked_either(self, location, office, status):
        student = StudentFactory(location=location, status=status)
        with pytest.raises(Conflict):
            services.student_guardian_unlink(link=primary_of(student), actor=office)

    def test_a_guardian_of_a_deleted_student_can_still_be_unlinked(self, student, office):
        link = StudentGuardianFactory(student=student)
        student_soft_delete(student=student, actor=office, reason="Duplicate")
        services.student_guardian_unlink(link=link, actor=office)
        assert not StudentGuardian.objects.filter(pk=link.pk).exists()


class TestPrimarySwap:
    def test_a_new_guardian_becomes_primary_and_the_old_one_secondary(self, student, office):
        old = primary_of(student).guardian
        new = GuardianFactory()
        link = services.primary_guardian_change(student=student, guardian=new, actor=office, relation="Stepfather")
        assert types_by_guardian(student) == {old.pk: "secondary", new.pk: "primary"}
        assert (link.relation, link.can_authorize_medical) == ("Stepfather", True)

    def test_an_existing_secondary_guardian_becomes_primary_with_medical_authority(self, student, office):
        old = primary_of(student).guardian
        secondary = StudentGuardianFactory(student=student, can_authorize_medical=False, relation="Aunt")
        link = services.primary_guardian_change(student=student, guardian=secondary.guardian, actor=office)
        assert link.pk == secondary.pk
        link.refresh_from_db()
        assert (link.relationship_type, link.can_authorize_medical, link.relation) == ("primary", True, "Aunt")
        assert types_by_guardian(student) == {old.pk: "secondary", secondary.guardian_id: "primary"}

    def test_an_emergency_contact_can_become_primary(self, student, office):
        contact = StudentGuardianFactory(student=student, relationship_type="emergency")
        services.primary_guardian_change(student=student, guardian=contact.guardian, actor=office)
        assert primary_of(student).guardian == contact.guardian

    def test_making_the_primary_primary_again_changes_nothing(self, student, office):
        current = primary_of(student)
        history_rows = StudentGuardian.history.count()
        assert services.primary_guardian_change(student=student, guardian=current.guardian, actor=office) == current
        assert StudentGuardian.history.count() == history_rows

    def test_swap_back_and_forth_keeps_exactly_one_primary(self, student, office):
        first = primary_of(student).guardian
        second = GuardianFactory()
        for guardian in (second, first, second):
            services.primary_guardian_change(student=student, guardian=guardian, actor=office)
            assert StudentGuardian.objects.filter(student=student, relationship_type="primary").count() == 1
        assert types_by_guardian(student) == {first.pk: "secondary", second.pk: "primary"}

    def test_the_swap_is_recorded_with_the_actor(self, student, office):
        old_link = primary_of(student)
        services.primary_guardian_change(student=student, guardian=GuardianFactory(), actor=office)
        demoted = old_link.history.first()
        assert (demoted.history_user, demoted.history_change_reason, demoted.relationship_type) == (
            office,
            "No longer primary",
            "secondary",
        )

    def test_a_student_without_a_primary_gets_one(self, location, office):
        # an inactive student whose primary was removed outside the services (legacy data)
        student = StudentFactory(location=location, status="inactive")
        StudentGuardian.objects.filter(student=student).delete()
        guardian = GuardianFactory()
        services.primary_guardian_change(student=student, guardian=guardian, actor=office)
        assert primary_of(student).guardian == guardian
