"""Roles as groups with permissions (academy.roles / academy.services.roles_sync), and
the one function that decides which locations a staff user sees."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission

from academy.roles import ACADEMY_ADMIN, ALL_ROLES, DOMAIN_APPS, FINANCE, INSTRUCTOR, OFFICE_STAFF, PARENT
from academy.selectors import location_ids_visible_to, location_list
from academy.services import roles_sync, user_assign_role
from tests.factories.academy import (
    LocationFactory,
    UserFactory,
    admin_user,
    finance_user,
    instructor_user,
    parent_user,
    staff_user,
)

pytestmark = pytest.mark.django_db

FOUNDATION_APPS = ("academy", "students", "families")


def group_permissions(role: str) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def all_permissions_snapshot() -> dict[str, set[str]]:
    return {role: group_permissions(role) for role in ALL_ROLES}


class TestRolesSync:
    def test_every_role_exists_after_migrate(self):
        assert set(Group.objects.values_list("name", flat=True)) >= set(ALL_ROLES)

    def test_office_staff_manage_students_and_guardians_but_not_the_structure(self):
        roles_sync()
        perms = group_permissions(OFFICE_STAFF)
        assert {"students.add_student", "students.change_student", "families.add_guardian"} <= perms
        assert {"families.delete_studentguardian", "academy.view_location", "academy.view_section"} <= perms
        assert "academy.add_location" not in perms
        assert "academy.change_section" not in perms
        assert "students.delete_student" not in perms  # students are soft deleted by a service
        assert not any(perm.startswith("auth.") for perm in perms)

    def test_academy_admin_holds_every_permission_of_the_domain_apps(self):
        roles_sync()
        domain = {
            f"{app_label}.{codename}"
            for app_label, codename in Permission.objects.filter(content_type__app_label__in=DOMAIN_APPS).values_list(
                "content_type__app_label", "codename"
            )
        }
        assert {"academy.add_location", "students.delete_student", "families.change_studentguardian"} <= domain
        assert group_permissions(ACADEMY_ADMIN) == domain

    def test_finance_and_instructors_only_read_the_structure_students_and_families(self):
        roles_sync()
        assert "students.view_student" in group_permissions(FINANCE)
        assert "families.view_guardian" in group_permissions(FINANCE)
        assert "students.view_student" in group_permissions(INSTRUCTOR)
        for role in (FINANCE, INSTRUCTOR):
            foundation = {p for p in group_permissions(role) if p.split(".")[0] in FOUNDATION_APPS}
            assert foundation and all(p.split(".")[1].startswith("view_") for p in foundation), role

    def test_parents_hold_no_model_permission(self):
        roles_sync()
        assert group_permissions(PARENT) == set()

    def test_sync_is_idempotent(self):
        roles_sync()
        first = all_permissions_snapshot()
        roles_sync()
        assert all_permissions_snapshot() == first
        assert Group.objects.filter(name__in=ALL_ROLES).count() == len(ALL_ROLES)

    def test_sync_restores_a_deleted_group_and_removes_stray_permissions(self):
        roles_sync()
        expected = all_permissions_snapshot()
        Group.objects.get(name=FINANCE).delete()
        office = Group.objects.get(name=OFFICE_STAFF)
        office.permissions.add(Permission.objects.get(content_type__app_label="academy", codename="add_location"))
        office.permissions.remove(Permission.objects.get(content_type__app_label="students", codename="add_student"))
        roles_sync()
        assert all_permissions_snapshot() == expected

    def test_users_get_the_permissions_of_their_role(self):
        roles_sync()
        office = staff_user(username="office")
        assert office.has_perm("students.add_student")
        assert office.has_perm("families.add_guardian")
        assert not office.has_perm("academy.add_location")
        admin = admin_user(username="boss")
        assert admin.has_perm("academy.add_location")
        assert not parent_user(username="mum").has_perm("students.view_student")


class TestUserRoles:
    def test_assign_role_adds_the_group_and_refreshes_the_role_names(self):
        user = UserFactory(username="newbie")
        assert not user.is_academy_staff and user.role_names == frozenset()
        user_assign_role(user=user, role=INSTRUCTOR)
        assert user.role_names == {INSTRUCTOR}
        assert user.is_academy_staff and not user.is_parent

    def test_an_unknown_role_is_refused(self):
        user = UserFactory(username="newbie")
        with pytest.raises(ValueError, match="unknown role"):
            user_assign_role(user=user, role="Janitor")
        assert not user.groups.exists()

    @pytest.mark.parametrize(
        ("make_user", "staff", "parent"),
        [
            (lambda: staff_user(username="o"), True, False),
            (lambda: finance_user(username="f"), True, False),
            (lambda: instructor_user(username="i"), True, False),
            (lambda: admin_user(username="a"), True, False),
            (lambda: parent_user(username="p"), False, True),
            (lambda: UserFactory(username="nobody"), False, False),
            (lambda: UserFactory(username="root", is_superuser=True), True, False),
            (lambda: staff_user(username="gone", is_active=False), False, False),
            (lambda: UserFactory(username="both", roles=[PARENT, OFFICE_STAFF]), True, False),
        ],
    )
    def test_staff_and_parent_flags(self, make_user, staff, parent):
        user = make_user()
        assert (user.is_academy_staff, user.is_parent) == (staff, parent)


class TestLocationScope:
    def test_unlimited_staff_see_every_location(self, location, other_location):
        office = staff_user(username="everywhere")
        assert location_ids_visible_to(office) is None
        assert set(location_list(user=office)) == {location, other_location}

    def test_limited_staff_see_their_locations(self, office, location, other_location):
        assert location_ids_visible_to(office) == {location.pk}
        assert list(location_list(user=office)) == [location]

    def test_a_superuser_sees_everything_even_with_limits(self, location, other_location):
        root = UserFactory(username="root", is_superuser=True, locations=[location])
        assert location_ids_visible_to(root) is None

    @pytest.mark.parametrize("kind", ["parent", "no_role", "anonymous", "inactive_staff"])
    def test_non_staff_see_no_location(self, kind, location):
        user = {
            "parent": lambda: parent_user(username="p"),
            "no_role": lambda: UserFactory(username="nobody"),
            "anonymous": AnonymousUser,
            "inactive_staff": lambda: staff_user(username="gone", is_active=False),
        }[kind]()
        assert location_ids_visible_to(user) == set()
        assert not location_list(user=user).exists()

    def test_limits_to_several_locations(self):
        a, b, c = (LocationFactory(code=code) for code in ("A", "B", "C"))
        office = staff_user(username="two", locations=[a, b])
        assert set(location_list(user=office)) == {a, b}
        assert c not in location_list(user=office)
