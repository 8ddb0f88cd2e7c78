"""Guardian services: create, update, and the parent-portal login."""

import pytest
from django.core.exceptions import ValidationError

from academy.roles import PARENT
from families import services
from families.models import Guardian
from families.selectors import guardian_for_user, students_visible_to
from tests.factories.academy import UserFactory, admin_user, parent_user, staff_user
from tests.factories.families import GuardianFactory

pytestmark = pytest.mark.django_db


def guardian_data(**overrides):
    data = {"first_name": " Sarah ", "last_name": "Johnson", "email": " Sarah@Example.ORG ", "phone": "555-0124"}
    data.update(overrides)
    return data


class TestGuardianCreateAndUpdate:
    def test_create_numbers_and_normalises_the_guardian(self, office):
        guardian = services.guardian_create(actor=office, data=guardian_data(preferred_communication="sms"))
        guardian.refresh_from_db()
        assert guardian.guardian_number.startswith("PAR-") and guardian.guardian_number.endswith("-0001")
        assert (guardian.first_name, guardian.email, guardian.preferred_communication) == (
            "Sarah",
            "sarah@example.org",
            "sms",
        )
        assert guardian.created_by == office and guardian.history.get().history_user == office

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"email": "not-an-email"}, "email"),
            ({"phone": ""}, "phone"),
            ({"first_name": "  "}, "first_name"),
            ({"preferred_communication": "pigeon"}, "preferred_communication"),
            ({"account_status": "banned"}, "account_status"),
            ({"last_name": "x" * 101}, "last_name"),
        ],
    )
    def test_invalid_input_creates_nothing_and_uses_no_number(self, office, overrides, field):
        with pytest.raises(ValidationError) as error:
            services.guardian_create(actor=office, data=guardian_data(**overrides))
        assert field in error.value.message_dict
        assert not Guardian.objects.exists()
        assert services.guardian_create(actor=office, data=guardian_data()).guardian_number.endswith("-0001")

    def test_an_email_in_use_is_refused_whatever_its_case(self, office):
        GuardianFactory(email="sarah@example.org")
        with pytest.raises(ValidationError, match="already has this email"):
            services.guardian_create(actor=office, data=guardian_data(email="SARAH@example.org"))

    def test_fields_the_service_owns_cannot_be_set(self, office):
        with pytest.raises(ValueError, match="portal_user"):
            services.guardian_create(actor=office, data=guardian_data(portal_user=None))
        guardian = GuardianFactory()
        with pytest.raises(ValueError, match="guardian_number"):
            services.guardian_update(guardian=guardian, actor=office, data={"guardian_number": "PAR-1"})

    def test_update_changes_and_records_why(self, office):
        guardian = GuardianFactory(phone="555-0000")
        services.guardian_update(
            guardian=guardian, actor=office, data={"phone": " 555-9999 ", "account_status": "inactive"}, reason="Moved"
        )
        guardian.refresh_from_db()
        assert (guardian.phone, guardian.account_status) == ("555-9999", "inactive")
        latest = guardian.history.first()
        assert (latest.history_user, latest.history_change_reason) == (office, "Moved")

    def test_invalid_update_changes_nothing(self, office):
        guardian = GuardianFactory(email="keep@example.org")
        with pytest.raises(ValidationError):
            services.guardian_update(guardian=guardian, actor=office, data={"email": "broken"})
        guardian.refresh_from_db()
        assert guardian.email == "keep@example.org"


class TestPortalUser:
    def test_a_login_becomes_a_parent_who_sees_their_children(self, office, family):
        _, children = family
        login = UserFactory(username="dad")
        other_guardian = GuardianFactory()
        for child in children:
            services.student_guardian_link(
                actor=office, student=child, guardian=other_guardian, relationship_type="secondary"
            )
        assert not login.is_parent
        services.guardian_set_portal_user(guardian=other_guardian, user=login, actor=office)
        login = type(login).objects.get(pk=login.pk)
        assert PARENT in login.role_names and login.is_parent
        assert guardian_for_user(login) == other_guardian
        assert set(students_visible_to(login)) == set(children)
        assert other_guardian.history.first().history_user == office

    @pytest.mark.parametrize("make_staff", [lambda: staff_user(username="clerk"), lambda: admin_user(username="boss")])
    def test_a_staff_login_cannot_be_a_portal_login(self, office, make_staff):
        guardian = GuardianFactory()
        with pytest.raises(ValidationError) as error:
            services.guardian_set_portal_user(guardian=guardian, user=make_staff(), actor=office)
        assert "portal_user" in error.value.message_dict
        guardian.refresh_from_db()
        assert guardian.portal_user is None

    def test_one_login_belongs_to_one_guardian(self, office, family):
        guardian, _ = family
        other = GuardianFactory()
        with pytest.raises(ValidationError, match="already belongs"):
            services.guardian_set_portal_user(guardian=other, user=guardian.portal_user, actor=office)
        other.refresh_from_db()
        assert other.portal_user is None

    def test_setting_the_same_login_again_is_allowed(self, office, family):
        guardian, _ = family
        services.guardian_set_portal_user(guardian=guardian, user=guardian.portal_user, actor=office)
        guardian.refresh_from_db()
        assert guardian.portal_user.username == "parent"

    def test_removing_the_login_hides_the_children(self, office, family):
        guardian, _ = family
        login = guardian.portal_user
        services.guardian_set_portal_user(guardian=guardian, user=None, actor=office)
        guardian.refresh_from_db()
        assert guardian.portal_user is None
        assert not students_visible_to(login).exists()

    def test_a_guardian_can_move_to_a_new_login(self, office, family):
        guardian, children = family
        old_login = guardian.portal_user
        new_login = parent_user(username="parent-new")
        services.guardian_set_portal_user(guardian=guardian, user=new_login, actor=office)
        assert set(students_visible_to(new_login)) == set(children)
        assert not students_visible_to(old_login).exists()
