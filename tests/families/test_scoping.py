"""Who sees which students and guardians: ``families.selectors.students_visible_to`` and
the selectors built on it. The matrix: unlimited staff, location-limited staff, the
child's guardian, another guardian, a suspended guardian, anonymous, a user with no role."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from families import selectors, services
from families.models import Guardian
from students.models import Student
from students.services import student_change_status, student_soft_delete
from tests.factories.academy import UserFactory, finance_user, instructor_user, parent_user, staff_user
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(location, other_location, family, other_family):
    """The Johnsons' two children and the Garcias' child at the main location, and a
    child at the north location."""
    johnson, johnson_children = family
    garcia, garcia_children = other_family
    north_child = StudentFactory(location=other_location, last_name="North")
    return {
        "johnson": johnson,
        "garcia": garcia,
        "johnson_children": set(johnson_children),
        "garcia_children": set(garcia_children),
        "main": set(johnson_children) | set(garcia_children),
        "north": {north_child},
        "everyone": set(johnson_children) | set(garcia_children) | {north_child},
    }


def visible(user):
    return set(selectors.students_visible_to(user))


class TestStudentsVisibleTo:
    def test_unlimited_staff_see_every_location(self, world):
        assert visible(staff_user(username="head-office")) == world["everyone"]

    def test_finance_staff_are_scoped_the_same_way(self, world, location):
        assert visible(finance_user(username="unlimited")) == world["everyone"]
        assert visible(finance_user(username="limited", locations=[location])) == world["main"]

    def test_an_instructor_who_teaches_nobody_sees_nobody(self, world, location):
        # the students they teach: tests/families/test_instructor_scope.py
        assert visible(instructor_user(username="unlimited")) == set()
        assert visible(instructor_user(username="limited", locations=[location])) == set()

    def test_location_limited_staff_see_their_locations_only(self, world, office, other_office):
        assert visible(office) == world["main"]
        assert visible(other_office) == world["north"]

    def test_staff_limited_to_several_locations_see_them_all(self, world, location, other_location):
        assert visible(staff_user(username="both", locations=[location, other_location])) == world["everyone"]

    def test_a_guardian_sees_their_own_children(self, world):
        assert visible(world["johnson"].portal_user) == world["johnson_children"]

    def test_another_guardian_sees_only_theirs(self, world):
        assert visible(world["garcia"].portal_user) == world["garcia_children"]

    def test_a_secondary_guardian_and_an_emergency_contact_see_the_child(self, world):
        child = next(iter(world["garcia_children"]))
        for kind in ("secondary", "emergency"):
            login = parent_user(username=f"{kind}-login")
            StudentGuardianFactory(student=child, guardian=GuardianFactory(portal_user=login), relationship_type=kind)
            assert visible(login) == {child}

    def test_a_guardian_of_children_in_two_families_sees_each_child_once(self, world, office):
        johnson = world["johnson"]
        garcia_child = next(iter(world["garcia_children"]))
        services.student_guardian_link(
            actor=office, student=garcia_child, guardian=johnson, relationship_type="emergency"
        )
        children = list(selectors.students_visible_to(johnson.portal_user))
        assert len(children) == len(set(children)) == 3
        assert set(children) == world["johnson_children"] | {garcia_child}

    @pytest.mark.parametrize("status", ["suspended", "inactive"])
    def test_a_guardian_whose_account_is_not_active_sees_nothing(self, world, office, status):
        johnson = world["johnson"]
        services.guardian_update(guardian=johnson, actor=office, data={"account_status": status})
        assert visible(johnson.portal_user) == set()
        assert selectors.guardian_for_user(johnson.portal_user) is None

    def test_a_parent_login_without_a_guardian_record_sees_nothing(self, world):
        assert visible(parent_user(username="lonely")) == set()

    def test_anonymous_sees_nothing(self, world):
        assert visible(AnonymousUser()) == set()
        assert visible(None) == set()

    def test_a_user_without_a_role_sees_nothing(self, world):
        assert visible(UserFactory(username="nobody")) == set()

    def test_a_deactivated_staff_user_sees_nothing(self, world):
        assert visible(staff_user(username="left", is_active=False)) == set()

    def test_a_parent_who_is_also_staff_is_scoped_as_staff(self, world, location):
        login = UserFactory(username="both-hats", roles=["Parent", "Office staff"], locations=[location])
        GuardianFactory(portal_user=login)
        assert visible(login) == world["main"]

    def test_deleted_students_are_hidden_from_everybody(self, world, office):
        child = next(iter(world["johnson_children"]))
        student_soft_delete(student=child, actor=office, reason="Duplicate")
        for user in (staff_user(username="head-office"), office, world["johnson"].portal_user):
            assert child not in visible(user)

    def test_students_who_left_stay_visible(self, world, office):
        child = next(iter(world["johnson_children"]))
        student_change_status(student=child, status="withdrawn", actor=office)
        assert child in visible(office)
        assert child in visible(world["johnson"].portal_user)


class TestStudentSelectors:
    def test_student_get_answers_only_within_scope(self, world, office, other_office):
        child = next(iter(world["johnson_children"]))
        assert selectors.student_get(user=office, pk=child.pk) == child
        assert selectors.student_get(user=world["johnson"].portal_user, pk=child.pk) == child
        for outsider in (other_office, world["garcia"].portal_user, AnonymousUser()):
            with pytest.raises(Student.DoesNotExist):
                selectors.student_get(user=outsider, pk=child.pk)

    def test_student_list_carries_the_primary_guardian(self, world, office):
        rows = {student.pk: student for student in selectors.student_list(user=office)}
        for child in world["johnson_children"]:
            assert [link.guardian for link in rows[child.pk].primary_links] == [world["johnson"]]

    def test_student_list_has_a_fixed_query_count(self, world, location):
        head_office = staff_user(username="head-office")
        list(selectors.student_list(user=head_office))  # the first read of the grants fills the cache
        counts = []
        for extra in (0, 10):
            for _ in range(extra):
                StudentGuardianFactory(student=StudentFactory(location=location), relationship_type="emergency")
            user = type(head_office).objects.get(pk=head_office.pk)  # a fresh user, as in each request
            with CaptureQueriesContext(connection) as queries:
                rows = list(selectors.student_list(user=user))
                for row in rows:
                    _ = (row.location.name, row.grade_level, row.academic_year, row.primary_links[0].guardian.email)
            counts.append(len(queries))
        assert len(rows) == len(world["everyone"]) + 10
        assert counts[0] == counts[1], counts

    def test_student_guardians_are_those_of_a_visible_student(self, world, office, other_office):
        child = next(iter(world["garcia_children"]))
        links = selectors.student_guardians(user=office, student_pk=child.pk)
        assert [link.guardian for link in links] == [world["garcia"]]
        with pytest.raises(Student.DoesNotExist):
            selectors.student_guardians(user=other_office, student_pk=child.pk)
        with pytest.raises(Student.DoesNotExist):
            selectors.student_guardians(user=world["johnson"].portal_user, student_pk=child.pk)

    def test_student_guardian_list_is_scoped(self, world, office, other_office):
        assert {link.student for link in selectors.student_guardian_list(user=office)} == world["main"]
        assert {link.student for link in selectors.student_guardian_list(user=other_office)} == world["north"]
        parent_links = selectors.student_guardian_list(user=world["johnson"].portal_user)
        assert {link.student for link in parent_links} == world["johnson_children"]
        assert not selectors.student_guardian_list(user=AnonymousUser()).exists()

    def test_guardian_children(self, world):
        assert set(selectors.guardian_children(guardian=world["johnson"])) == world["johnson_children"]


class TestGuardiansVisibleTo:
    def test_unlimited_staff_see_every_guardian(self, world):
        assert set(selectors.guardians_visible_to(staff_user(username="head-office"))) == set(Guardian.objects.all())

    def test_limited_staff_see_guardians_of_their_students_and_those_they_created(self, world, other_office):
        north_guardians = {link.guardian for child in world["north"] for link in child.guardian_links.all()}
        assert set(selectors.guardians_visible_to(other_office)) == north_guardians
        created = services.guardian_create(
            actor=other_office,
            data={"first_name": "New", "last_name": "Parent", "email": "new@example.org", "phone": "555-1"},
        )
        assert set(selectors.guardians_visible_to(other_office)) == north_guardians | {created}

    def test_a_guardian_linked_to_many_students_is_listed_once(self, world, office):
        guardians = list(selectors.guardians_visible_to(office))
        assert len(guardians) == len(set(guardians)) == 2

    def test_a_parent_sees_only_their_own_record(self, world):
        assert list(selectors.guardians_visible_to(world["johnson"].portal_user)) == [world["johnson"]]

    def test_anonymous_and_role_less_users_see_no_guardian(self, world):
        assert not selectors.guardians_visible_to(AnonymousUser()).exists()
        assert not selectors.guardians_visible_to(UserFactory(username="nobody")).exists()

    def test_guardian_search_within_scope(self, world, office, other_office):
        assert list(selectors.guardian_list(user=office, search="johnson")) == [world["johnson"]]
        assert list(selectors.guardian_list(user=other_office, search="johnson")) == []


@pytest.mark.django_db
def test_a_suspended_guardian_sees_not_even_their_own_record(family):
    from families.selectors import guardians_visible_to

    guardian, _children = family
    assert list(guardians_visible_to(guardian.portal_user)) == [guardian]
    Guardian.objects.filter(pk=guardian.pk).update(account_status="suspended")
    assert not guardians_visible_to(guardian.portal_user).exists()
