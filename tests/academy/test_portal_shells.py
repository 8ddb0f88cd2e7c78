"""The staff portal and parent portal shells: sign-in, sign-out, who may enter which,
the layout, and CSRF on the login forms."""

import pytest
from django.test import Client
from django.urls import reverse

from academy.roles import FINANCE, INSTRUCTOR
from tests.factories.academy import PASSWORD, UserFactory, staff_user
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

STAFF_LOGIN = "/staff/login/"
STAFF_LOGOUT = "/staff/logout/"
STAFF_DASHBOARD = "/staff/"
PORTAL_LOGIN = "/portal/login/"
PORTAL_LOGOUT = "/portal/logout/"
PORTAL_DASHBOARD = "/portal/"


def _post_login(client, url, username, password=PASSWORD, **extra):
    return client.post(url, {"username": username, "password": password, **extra})


def _session_user_id(client):
    return client.session.get("_auth_user_id")


# --- URL names --------------------------------------------------------------------


def test_urls_are_named_in_the_staff_and_portal_namespaces():
    assert reverse("staff:login") == STAFF_LOGIN
    assert reverse("staff:logout") == STAFF_LOGOUT
    assert reverse("staff:dashboard") == STAFF_DASHBOARD
    assert reverse("portal:login") == PORTAL_LOGIN
    assert reverse("portal:logout") == PORTAL_LOGOUT
    assert reverse("portal:dashboard") == PORTAL_DASHBOARD


def test_the_site_root_leads_to_the_staff_portal(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == STAFF_DASHBOARD


# --- staff portal --------------------------------------------------------------------


def test_anonymous_staff_dashboard_redirects_to_the_staff_login_with_next(client):
    response = client.get(STAFF_DASHBOARD)
    assert response.status_code == 302
    assert response["Location"] == f"{STAFF_LOGIN}?next=/staff/"


def test_the_staff_login_page_renders_a_form_with_a_csrf_token(client):
    response = client.get(STAFF_LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Staff sign-in" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="username"' in html and 'name="password"' in html
    # the layout ships our own CSS and htmx from static/, no CDN
    assert "/static/css/academy.css" in html
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "https://" not in html


@pytest.mark.parametrize("role", [None, FINANCE, INSTRUCTOR])
def test_staff_sign_in_and_land_on_the_dashboard(client, location, role):
    user = staff_user(username="clerk", locations=[location]) if role is None else staff_user(role=role)
    response = _post_login(client, STAFF_LOGIN, user.username)
    assert response.status_code == 302
    assert response["Location"] == STAFF_DASHBOARD
    assert _session_user_id(client) == str(user.pk)
    assert client.get(STAFF_DASHBOARD).status_code == 200


def test_staff_login_respects_a_safe_next_and_ignores_an_external_one(client, office):
    response = _post_login(client, STAFF_LOGIN, "office", next="/staff/?location=x")
    assert response["Location"] == "/staff/?location=x"
    client.logout()
    response = _post_login(client, STAFF_LOGIN, "office", next="https://evil.example.com/")
    assert response["Location"] == STAFF_DASHBOARD


def test_a_wrong_password_is_a_form_error_and_no_session(client, office):
    response = _post_login(client, STAFF_LOGIN, "office", password="not-the-password")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert _session_user_id(client) is None


def test_a_parent_cannot_use_the_staff_login(client, family):
    response = _post_login(client, STAFF_LOGIN, "parent")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This sign-in is for academy staff" in html
    assert response.context["form"].errors["__all__"] == [response.context["form"].error_messages["not_staff"]]
    assert _session_user_id(client) is None


def test_a_user_without_any_role_cannot_use_either_login(client):
    UserFactory(username="nobody")
    assert _post_login(client, STAFF_LOGIN, "nobody").status_code == 200
    assert _post_login(client, PORTAL_LOGIN, "nobody").status_code == 200
    assert _session_user_id(client) is None


def test_an_inactive_staff_user_cannot_sign_in(client, office):
    office.is_active = False
    office.save(update_fields=["is_active"])
    response = _post_login(client, STAFF_LOGIN, "office")
    assert response.status_code == 200
    assert _session_user_id(client) is None


def test_a_signed_in_parent_is_sent_from_the_staff_dashboard_to_the_portal(client, family):
    client.force_login(family[0].portal_user)
    response = client.get(STAFF_DASHBOARD)
    assert response.status_code == 302
    assert response["Location"] == PORTAL_DASHBOARD


def test_a_signed_in_user_without_a_role_gets_403_from_both_portals(client):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(STAFF_DASHBOARD).status_code == 403
    assert client.get(PORTAL_DASHBOARD).status_code == 403


def test_signed_in_staff_visiting_the_login_page_go_to_the_dashboard(client, office):
    client.force_login(office)
    response = client.get(STAFF_LOGIN)
    assert response.status_code == 302
    assert response["Location"] == STAFF_DASHBOARD


def test_staff_logout_is_post_only_and_ends_the_session(client, office):
    client.force_login(office)
    assert client.get(STAFF_LOGOUT).status_code == 405
    assert _session_user_id(client) == str(office.pk)
    response = client.post(STAFF_LOGOUT)
    assert response.status_code == 302
    assert response["Location"] == STAFF_LOGIN
    assert _session_user_id(client) is None
    assert client.get(STAFF_DASHBOARD).status_code == 302


def test_the_staff_layout_has_the_nav_user_menu_and_logout_form(client, office):
    client.force_login(office)
    html = client.get(STAFF_DASHBOARD).content.decode()
    assert 'class="topbar"' in html
    for label in ("Dashboard", "Students", "Guardians", "Academy structure"):
        assert f">{label}</a>" in html
    assert 'action="/staff/logout/"' in html
    assert "office" in html
    # office staff are not Django-admin users: no admin link
    assert 'href="/admin/"' not in html


def test_the_nav_follows_the_role(client):
    # given an instructor, who may view students and the structure but not guardians
    client.force_login(staff_user(role=INSTRUCTOR, username="teacher"))
    html = client.get(STAFF_DASHBOARD).content.decode()
    assert ">Students</a>" in html
    assert ">Academy structure</a>" in html
    assert ">Guardians</a>" not in html


def test_dashboard_counts_students_by_status_and_location_within_the_users_scope(
    client, office, location, other_location, academy_admin
):
    # given three students at the office's location (one withdrawn) and two elsewhere
    StudentFactory.create_batch(2, location=location)
    StudentFactory(location=location, status="withdrawn")
    StudentFactory.create_batch(2, location=other_location)

    client.force_login(office)
    counts = client.get(STAFF_DASHBOARD).context["counts"]
    assert counts["total"] == 3
    assert {value: n for value, _label, n in counts["by_status"]} == {
        "active": 2,
        "inactive": 0,
        "graduated": 0,
        "withdrawn": 1,
    }
    assert [(row["location__code"], row["total"]) for row in counts["by_location"]] == [("MAIN", 3)]

    # an unlimited administrator sees both locations
    client.force_login(academy_admin)
    counts = client.get(STAFF_DASHBOARD).context["counts"]
    assert counts["total"] == 5
    assert sorted((row["location__code"], row["total"]) for row in counts["by_location"]) == [
        ("MAIN", 3),
        ("NORTH", 2),
    ]


def test_soft_deleted_students_are_not_counted(client, office, location):
    from django.utils import timezone

    from students.models import Student

    _kept, gone = StudentFactory.create_batch(2, location=location)
    Student.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    client.force_login(office)
    assert client.get(STAFF_DASHBOARD).context["counts"]["total"] == 1


def test_the_location_switcher_filters_the_dashboard_to_one_of_the_users_locations(client, location, other_location):
    third = type(location).objects.create(code="WEST", name="West campus")
    user = staff_user(username="area-manager", locations=[location, other_location])
    StudentFactory.create_batch(2, location=location)
    StudentFactory(location=other_location)
    StudentFactory(location=third)
    client.force_login(user)

    response = client.get(STAFF_DASHBOARD)
    html = response.content.decode()
    assert 'id="location-switcher"' in html
    assert [loc.code for loc in response.context["staff_locations"]] == ["MAIN", "NORTH"]
    assert response.context["counts"]["total"] == 3

    response = client.get(STAFF_DASHBOARD, {"location": str(other_location.pk)})
    assert response.context["current_location"] == other_location
    assert response.context["counts"]["total"] == 1

    # a location outside the user's scope, or garbage, is ignored: never a 500, never a leak
    for value in (str(third.pk), "not-a-uuid"):
        response = client.get(STAFF_DASHBOARD, {"location": value})
        assert response.status_code == 200
        assert response.context["current_location"] is None
        assert response.context["counts"]["total"] == 3


def test_a_staff_user_with_one_location_gets_no_switcher(client, office):
    client.force_login(office)
    html = client.get(STAFF_DASHBOARD).content.decode()
    assert 'id="location-switcher"' not in html
    assert "Main campus" in html


# --- parent portal ---------------------------------------------------------------------


def test_anonymous_portal_dashboard_redirects_to_the_portal_login_with_next(client):
    response = client.get(PORTAL_DASHBOARD)
    assert response.status_code == 302
    assert response["Location"] == f"{PORTAL_LOGIN}?next=/portal/"


def test_a_parent_signs_in_and_sees_exactly_their_children(client, family, other_family):
    _guardian, children = family
    response = _post_login(client, PORTAL_LOGIN, "parent")
    assert response.status_code == 302
    assert response["Location"] == PORTAL_DASHBOARD

    response = client.get(PORTAL_DASHBOARD)
    assert response.status_code == 200
    assert sorted(child.pk for child in response.context["children"]) == sorted(child.pk for child in children)
    html = response.content.decode()
    for child in children:
        assert child.student_number in html
        assert child.full_name in html
    assert other_family[1][0].student_number not in html
    assert "Main campus" in html


def test_the_portal_shows_grade_and_status_of_each_child(client, location):
    from tests.factories.academy import GradeLevelFactory, parent_user
    from tests.factories.families import GuardianFactory

    grade = GradeLevelFactory(name="Grade 4")
    guardian = GuardianFactory(portal_user=parent_user(username="mum"), first_name="Maria")
    StudentFactory(location=location, grade_level=grade, status="inactive", primary_guardian=guardian)
    client.force_login(guardian.portal_user)
    html = client.get(PORTAL_DASHBOARD).content.decode()
    assert "Hello, Maria" in html
    assert "Grade 4" in html
    assert "Inactive" in html


def test_staff_cannot_use_the_parent_login(client, office):
    response = _post_login(client, PORTAL_LOGIN, "office")
    assert response.status_code == 200
    assert "This sign-in is for parents and guardians" in response.content.decode()
    assert _session_user_id(client) is None


def test_a_parent_whose_guardian_account_is_suspended_cannot_sign_in(client, family):
    guardian, _children = family
    type(guardian).objects.filter(pk=guardian.pk).update(account_status="suspended")
    response = _post_login(client, PORTAL_LOGIN, "parent")
    assert response.status_code == 200
    assert _session_user_id(client) is None


def test_a_parent_role_without_a_guardian_record_cannot_sign_in(client):
    from tests.factories.academy import parent_user

    parent_user(username="lonely")
    response = _post_login(client, PORTAL_LOGIN, "lonely")
    assert response.status_code == 200
    assert "This sign-in is for parents and guardians" in response.content.decode()


def test_signed_in_staff_are_sent_from_the_portal_to_the_staff_dashboard(client, office):
    client.force_login(office)
    response = client.get(PORTAL_DASHBOARD)
    assert response.status_code == 302
    assert response["Location"] == STAFF_DASHBOARD


def test_portal_logout_is_post_only_and_ends_the_session(client, family):
    client.force_login(family[0].portal_user)
    assert client.get(PORTAL_LOGOUT).status_code == 405
    response = client.post(PORTAL_LOGOUT)
    assert response["Location"] == PORTAL_LOGIN
    assert _session_user_id(client) is None
    assert client.get(PORTAL_DASHBOARD).status_code == 302


def test_a_signed_in_parent_visiting_the_portal_login_goes_to_the_dashboard(client, family):
    client.force_login(family[0].portal_user)
    response = client.get(PORTAL_LOGIN)
    assert response.status_code == 302
    assert response["Location"] == PORTAL_DASHBOARD


# --- CSRF ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [STAFF_LOGIN, PORTAL_LOGIN])
def test_login_forms_refuse_a_post_without_a_csrf_token(url, office, family):
    client = Client(enforce_csrf_checks=True)
    username = "office" if url == STAFF_LOGIN else "parent"
    response = _post_login(client, url, username)
    assert response.status_code == 403
    assert _session_user_id(client) is None


@pytest.mark.parametrize("url", [STAFF_LOGIN, PORTAL_LOGIN])
def test_login_forms_accept_a_post_with_the_csrf_token(url, office, family):
    client = Client(enforce_csrf_checks=True)
    client.get(url)
    token = client.cookies["csrftoken"].value
    username = "office" if url == STAFF_LOGIN else "parent"
    response = _post_login(client, url, username, csrfmiddlewaretoken=token)
    assert response.status_code == 302
    assert _session_user_id(client) is not None


def test_logout_refuses_a_post_without_a_csrf_token(office):
    client = Client(enforce_csrf_checks=True)
    client.force_login(office)
    assert client.post(STAFF_LOGOUT).status_code == 403
    assert _session_user_id(client) == str(office.pk)
