"""The parent portal's pages: dashboard, child page, my details and the messages inbox.

Permission matrix for every page (the child's guardian, another guardian, staff,
anonymous), what a parent may and may not see of a child, the details form, CSRF on
every POST form, and fixed query counts on the dashboard and the inbox."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from families.models import Guardian, StudentGuardian
from notifications import services as notification_services
from notifications.models import Notification
from tests.factories.academy import PASSWORD, GradeLevelFactory, parent_user
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory

pytestmark = pytest.mark.django_db

PORTAL_LOGIN = "/portal/login/"


def message_to(user, title="Term starts on Monday", text="Please bring the reading folder."):
    """An in-app message to ``user`` through the real notify() service."""
    recipient = notification_services.Recipient(name=user.username, user=user, channels=())
    context = {
        "guardian_name": "Parent",
        "student_name": title,
        "location_name": "Main campus",
        "student_number": text,
    }
    return notification_services.notify(kind="student_admitted", recipients=[recipient], context=context).created[0]


@pytest.fixture
def parent(family):
    return family[0].portal_user


@pytest.fixture
def other_parent(other_family):
    return other_family[0].portal_user


def _pages(family, notification):
    child = family[1][0]
    return {
        "dashboard": "/portal/",
        "child": f"/portal/children/{child.pk}/",
        "my_details": "/portal/my-details/",
        "notifications": "/portal/notifications/",
        "notification": f"/portal/notifications/{notification.pk}/",
    }


# --- URL names ---------------------------------------------------------------------


def test_portal_urls_are_named(family):
    child = family[1][0]
    assert reverse("portal:child", kwargs={"pk": child.pk}) == f"/portal/children/{child.pk}/"
    assert reverse("portal:my_details") == "/portal/my-details/"
    assert reverse("portal:notifications") == "/portal/notifications/"
    assert reverse("portal:notifications_mark_all_read") == "/portal/notifications/mark-all-read/"
    assert reverse("portal:password_reset") == "/portal/password-reset/"


# --- permission matrix --------------------------------------------------------------


@pytest.mark.parametrize("page", ["dashboard", "child", "my_details", "notifications", "notification"])
def test_the_childs_guardian_may_open_every_page(client, family, parent, page):
    url = _pages(family, message_to(parent))[page]
    client.force_login(parent)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("page", ["child", "notification"])
def test_another_guardian_gets_the_sites_404_for_someone_elses_child_or_message(
    client, family, parent, other_parent, page
):
    url = _pages(family, message_to(parent))[page]
    client.force_login(other_parent)
    response = client.get(url)
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.parametrize("page", ["dashboard", "my_details", "notifications"])
def test_another_guardian_sees_only_their_own_on_the_shared_pages(client, family, parent, other_parent, page):
    url = _pages(family, message_to(parent, title="For the Johnsons only"))[page]
    client.force_login(other_parent)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    guardian, children = family
    for child in children:
        assert child.student_number not in html
    assert guardian.email not in html
    assert "For the Johnsons only" not in html


@pytest.mark.parametrize("page", ["dashboard", "child", "my_details", "notifications", "notification"])
def test_staff_are_sent_to_the_staff_portal(client, family, parent, office, page):
    url = _pages(family, message_to(parent))[page]
    client.force_login(office)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == "/staff/"


@pytest.mark.parametrize("page", ["dashboard", "child", "my_details", "notifications", "notification"])
def test_anonymous_visitors_are_sent_to_the_portal_login(client, family, parent, page):
    url = _pages(family, message_to(parent))[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{PORTAL_LOGIN}?next={url}"


@pytest.mark.parametrize("page", ["dashboard", "child", "my_details", "notifications"])
def test_a_suspended_guardian_sees_nothing(client, family, parent, page):
    url = _pages(family, message_to(parent))[page]
    Guardian.objects.filter(pk=family[0].pk).update(account_status="suspended")
    client.force_login(parent)
    assert client.get(url).status_code == 403


def test_an_unknown_child_or_message_is_404(client, parent):
    client.force_login(parent)
    assert client.get(f"/portal/children/{uuid.uuid4()}/").status_code == 404
    assert client.get(f"/portal/notifications/{uuid.uuid4()}/").status_code == 404
    assert client.get("/portal/children/not-a-uuid/").status_code == 404


def test_a_soft_deleted_child_is_gone_from_the_portal(client, family, parent):
    from django.utils import timezone

    from students.models import Student

    child = family[1][0]
    Student.objects.filter(pk=child.pk).update(deleted_at=timezone.now())
    client.force_login(parent)
    assert client.get(f"/portal/children/{child.pk}/").status_code == 404
    assert child.student_number not in client.get("/portal/").content.decode()


# --- dashboard ------------------------------------------------------------------------


def test_the_dashboard_links_each_child_to_their_page_and_shows_the_unread_count(client, family, parent):
    _guardian, children = family
    message_to(parent)
    message_to(parent)
    client.force_login(parent)
    response = client.get("/portal/")
    html = response.content.decode()
    for child in children:
        assert f'href="/portal/children/{child.pk}/"' in html
    assert response.context["unread_count"] == 2
    assert 'data-testid="unread-count">2<' in html
    assert 'href="/portal/notifications/"' in html
    assert "You have 2 unread messages" in html


def test_no_unread_badge_when_everything_is_read(client, parent):
    notification_services.notification_mark_read(notification=message_to(parent), user=parent)
    client.force_login(parent)
    html = client.get("/portal/").content.decode()
    assert 'data-testid="unread-count"' not in html


@pytest.mark.parametrize("children", [1, 6])
def test_the_dashboard_has_a_fixed_query_count(client, location, django_assert_max_num_queries, children):
    grade = GradeLevelFactory(name="Grade 3")
    guardian = GuardianFactory(portal_user=parent_user(username="many"))
    for _ in range(children):
        StudentFactory(location=location, grade_level=grade, primary_guardian=guardian)
    for _ in range(children):
        message_to(guardian.portal_user)
    client.force_login(guardian.portal_user)
    # session, user, permissions (2), groups, locations, guardian, unread count, children, primary links
    with django_assert_max_num_queries(10):
        response = client.get("/portal/")
    assert len(response.context["children"]) == children


# --- child page -----------------------------------------------------------------------


@pytest.fixture
def detailed_child(location, family):
    """A child of ``family`` with medical details and staff-only notes, and a second,
    secondary guardian who may not authorise medical care."""
    _guardian, children = family
    child = children[0]
    type(child).objects.filter(pk=child.pk).update(
        internal_notes="STAFF ONLY: fee dispute with father",
        referral_source="Billboard on Main Street",
        allergies="Peanuts",
        medications="Inhaler before swimming",
        medical_conditions="Asthma",
        emergency_contact_name="Grandma Rose",
        emergency_contact_phone="555-0199",
        city="Springfield",
        preferred_name="Em",
    )
    child.refresh_from_db()
    stepdad = GuardianFactory(portal_user=parent_user(username="stepdad"), first_name="Tom")
    StudentGuardianFactory(
        student=child,
        guardian=stepdad,
        relationship_type="secondary",
        relation="Stepfather",
        can_authorize_medical=False,
    )
    return child, stepdad


def test_the_child_page_shows_what_a_parent_may_see(client, parent, detailed_child):
    child, _stepdad = detailed_child
    client.force_login(parent)
    response = client.get(f"/portal/children/{child.pk}/")
    html = response.content.decode()
    for text in (child.full_name, child.student_number, "Main campus", "Grandma Rose", "555-0199", "Springfield"):
        assert text in html
    assert ("Preferred name", "Em") in response.context["profile"]
    assert "15 March 2015" in html  # date of birth


def test_staff_only_fields_are_never_shown(client, parent, detailed_child):
    child, stepdad = detailed_child
    for user in (parent, stepdad.portal_user):
        client.force_login(user)
        response = client.get(f"/portal/children/{child.pk}/")
        html = response.content.decode()
        assert "STAFF ONLY" not in html
        assert "fee dispute" not in html
        assert "Billboard" not in html
        # not even loaded from the database
        assert "internal_notes" in response.context["child"].get_deferred_fields()


def test_medical_details_need_the_right_to_authorise_medical_care(client, parent, detailed_child):
    child, stepdad = detailed_child
    # the primary guardian may authorise medical care: they see the medical section
    client.force_login(parent)
    html = client.get(f"/portal/children/{child.pk}/").content.decode()
    assert 'data-testid="child-medical"' in html
    for text in ("Peanuts", "Inhaler before swimming", "Asthma"):
        assert text in html

    # the stepfather may not: the same page without any medical detail
    client.force_login(stepdad.portal_user)
    response = client.get(f"/portal/children/{child.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="child-medical"' not in html
    for text in ("Peanuts", "Inhaler", "Asthma"):
        assert text not in html

    # once the office gives him the right, he sees them
    StudentGuardian.objects.filter(student=child, guardian=stepdad).update(can_authorize_medical=True)
    assert "Peanuts" in client.get(f"/portal/children/{child.pk}/").content.decode()


def test_a_secondary_guardian_sees_only_the_child_they_are_linked_to(client, family, detailed_child):
    child, stepdad = detailed_child
    sibling = family[1][1]
    client.force_login(stepdad.portal_user)
    assert [c.pk for c in client.get("/portal/").context["children"]] == [child.pk]
    assert client.get(f"/portal/children/{sibling.pk}/").status_code == 404


# --- my details -----------------------------------------------------------------------


def _details(guardian, **changes):
    data = {
        "email": guardian.email,
        "phone": guardian.phone,
        "address_line1": guardian.address_line1,
        "address_line2": guardian.address_line2,
        "city": guardian.city,
        "state": guardian.state,
        "country": guardian.country,
        "postal_code": guardian.postal_code,
        "preferred_communication": guardian.preferred_communication,
    }
    data.update(changes)
    return data


def test_my_details_shows_the_guardians_own_details(client, family, parent):
    guardian = family[0]
    client.force_login(parent)
    response = client.get("/portal/my-details/")
    html = response.content.decode()
    assert guardian.email in html and guardian.phone in html
    assert response.context["form"]["preferred_communication"].value() == "email"
    # what the office owns is not a field
    for name in ("guardian_number", "account_status", "first_name", "last_name"):
        assert f'name="{name}"' not in html


def test_a_parent_updates_contact_details_and_preferences_through_the_service(client, family, parent):
    guardian = family[0]
    client.force_login(parent)
    response = client.post(
        "/portal/my-details/",
        _details(guardian, phone="555-7777", city="Shelbyville", preferred_communication="sms"),
    )
    assert response.status_code == 302
    assert response["Location"] == "/portal/my-details/"
    guardian.refresh_from_db()
    assert (guardian.phone, guardian.city, guardian.preferred_communication) == ("555-7777", "Shelbyville", "sms")
    history = guardian.history.first()
    assert history.history_user == parent
    assert history.history_change_reason == "Updated in the parent portal"
    assert "Your details are saved." in client.get("/portal/my-details/").content.decode()


def test_a_parent_cannot_change_what_the_office_owns(client, family, parent):
    guardian = family[0]
    client.force_login(parent)
    response = client.post(
        "/portal/my-details/",
        _details(
            guardian,
            phone="555-8888",
            account_status="suspended",
            guardian_number="PAR-1999-9999",
            first_name="Mallory",
            portal_user="",
        ),
    )
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.phone == "555-8888"
    assert guardian.account_status == "active"
    assert guardian.guardian_number != "PAR-1999-9999"
    assert guardian.first_name != "Mallory"
    assert guardian.portal_user == parent


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"phone": ""}, "phone", "This field is required."),
        ({"preferred_communication": "pigeon"}, "preferred_communication", "Select a valid choice."),
        ({"postal_code": "9" * 21}, "postal_code", "at most 20 characters"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(client, family, parent, changes, field, message):
    guardian = family[0]
    before = guardian.history.count()
    client.force_login(parent)
    response = client.post("/portal/my-details/", _details(guardian, city="Changed", **changes))
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    assert 'class="field-error"' in response.content.decode()
    guardian.refresh_from_db()
    assert guardian.city != "Changed"
    assert guardian.history.count() == before


def test_an_email_change_needs_the_current_password(client, family, parent):
    guardian = family[0]
    client.force_login(parent)
    response = client.post("/portal/my-details/", _details(guardian, email="new@example.org"))
    assert response.status_code == 200
    assert response.context["form"].errors["current_password"] == [
        "Enter your current password to change your e-mail address."
    ]
    response = client.post(
        "/portal/my-details/", _details(guardian, email="new@example.org", current_password="wrong-password")
    )
    assert response.context["form"].errors["current_password"] == ["This is not your current password."]
    guardian.refresh_from_db()
    assert guardian.email != "new@example.org"

    response = client.post(
        "/portal/my-details/", _details(guardian, email="New@Example.org", current_password=PASSWORD)
    )
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.email == "new@example.org"


def test_another_guardians_email_is_a_field_error_from_the_service(client, family, other_family, parent):
    guardian = family[0]
    client.force_login(parent)
    response = client.post(
        "/portal/my-details/", _details(guardian, email=other_family[0].email.upper(), current_password=PASSWORD)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Another guardian already has this email address."]
    guardian.refresh_from_db()
    assert guardian.email != other_family[0].email


def test_saving_unchanged_details_writes_nothing(client, family, parent):
    guardian = family[0]
    before = guardian.history.count()
    client.force_login(parent)
    response = client.post("/portal/my-details/", _details(guardian), follow=True)
    assert "Nothing to save" in response.content.decode()
    assert guardian.history.count() == before


# --- notifications inbox -------------------------------------------------------------


def test_the_inbox_lists_own_messages_newest_first_with_unread_ones_marked(client, parent, other_parent):
    first = message_to(parent, title="First message")
    second = message_to(parent, title="Second message")
    Notification.objects.filter(pk=first.pk).update(created_at=second.created_at.replace(year=2020))
    notification_services.notification_mark_read(notification=first, user=parent)
    message_to(other_parent, title="Not for you")
    client.force_login(parent)
    response = client.get("/portal/notifications/")
    page = response.context["page"]
    assert [n.pk for n in page.object_list] == [second.pk, first.pk]
    html = response.content.decode()
    assert html.index("Second message") < html.index("First message")
    assert html.count('data-testid="unread-badge"') == 1
    assert "Not for you" not in html


def test_the_inbox_is_paginated(client, parent):
    for number in range(23):
        message_to(parent, title=f"Message {number}")
    client.force_login(parent)
    first = client.get("/portal/notifications/")
    assert len(first.context["page"].object_list) == 20
    assert 'rel="next"' in first.content.decode()
    second = client.get("/portal/notifications/", {"page": 2})
    assert len(second.context["page"].object_list) == 3
    # a page number out of range or garbage shows a page, never a 500
    assert client.get("/portal/notifications/", {"page": 99}).status_code == 200
    assert client.get("/portal/notifications/", {"page": "x"}).status_code == 200


@pytest.mark.parametrize("messages", [2, 25])
def test_the_inbox_has_a_fixed_query_count(client, parent, django_assert_max_num_queries, messages):
    for _ in range(messages):
        message_to(parent)
    client.force_login(parent)
    # session, user, permissions (2), groups, locations, guardian, unread count, page count, page rows
    with django_assert_max_num_queries(10):
        response = client.get("/portal/notifications/")
    assert len(response.context["page"].object_list) == min(messages, 20)


def test_opening_a_message_marks_it_read(client, parent):
    notification = message_to(parent, title="Open me")
    client.force_login(parent)
    assert client.get("/portal/").context["unread_count"] == 1
    response = client.get(f"/portal/notifications/{notification.pk}/")
    assert response.status_code == 200
    assert "Open me" in response.content.decode()
    notification.refresh_from_db()
    assert notification.status == Notification.Status.READ
    assert notification.read_at is not None
    assert client.get("/portal/").context["unread_count"] == 0
    # opening it again changes nothing
    read_at = notification.read_at
    client.get(f"/portal/notifications/{notification.pk}/")
    notification.refresh_from_db()
    assert notification.read_at == read_at


def test_opening_someone_elses_message_leaves_it_unread(client, parent, other_parent):
    notification = message_to(parent)
    client.force_login(other_parent)
    assert client.get(f"/portal/notifications/{notification.pk}/").status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_a_deleted_message_is_404(client, parent):
    from django.utils import timezone

    notification = message_to(parent)
    Notification.objects.filter(pk=notification.pk).update(deleted_at=timezone.now())
    client.force_login(parent)
    assert client.get(f"/portal/notifications/{notification.pk}/").status_code == 404


def test_only_safe_action_links_are_shown(client, parent):
    safe = message_to(parent)
    Notification.objects.filter(pk=safe.pk).update(action_url="/portal/my-details/")
    unsafe = message_to(parent)
    Notification.objects.filter(pk=unsafe.pk).update(action_url="javascript:alert(1)")
    client.force_login(parent)
    assert 'href="/portal/my-details/"' in client.get(f"/portal/notifications/{safe.pk}/").content.decode()
    assert "javascript:" not in client.get(f"/portal/notifications/{unsafe.pk}/").content.decode()


def test_mark_all_read_is_a_post_and_touches_only_own_messages(client, parent, other_parent):
    mine = [message_to(parent) for _ in range(3)]
    theirs = message_to(other_parent)
    client.force_login(parent)
    assert client.get("/portal/notifications/mark-all-read/").status_code == 405
    assert Notification.objects.unread().filter(recipient=parent).count() == 3

    response = client.post("/portal/notifications/mark-all-read/")
    assert response.status_code == 302
    assert response["Location"] == "/portal/notifications/"
    assert not Notification.objects.unread().filter(pk__in=[n.pk for n in mine]).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert "3 messages marked as read." in client.get("/portal/notifications/").content.decode()


def test_mark_all_read_is_for_parents_only(client, office):
    client.force_login(office)
    assert client.post("/portal/notifications/mark-all-read/")["Location"] == "/staff/"
    client.logout()
    assert client.post("/portal/notifications/mark-all-read/")["Location"].startswith(PORTAL_LOGIN)


# --- CSRF -------------------------------------------------------------------------------


def _csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_the_details_form_refuses_a_post_without_a_csrf_token(family, parent):
    guardian = family[0]
    client = _csrf_client(parent)
    response = client.post("/portal/my-details/", _details(guardian, phone="555-0000"))
    assert response.status_code == 403
    guardian.refresh_from_db()
    assert guardian.phone != "555-0000"


def test_the_details_form_accepts_a_post_with_the_csrf_token(family, parent):
    guardian = family[0]
    client = _csrf_client(parent)
    html = client.get("/portal/my-details/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    token = client.cookies["csrftoken"].value
    response = client.post("/portal/my-details/", _details(guardian, phone="555-0000", csrfmiddlewaretoken=token))
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.phone == "555-0000"


def test_mark_all_read_refuses_a_post_without_a_csrf_token(parent):
    notification = message_to(parent)
    client = _csrf_client(parent)
    assert client.post("/portal/notifications/mark-all-read/").status_code == 403
    notification.refresh_from_db()
    assert notification.read_at is None

    client.get("/portal/notifications/")
    token = client.cookies["csrftoken"].value
    assert client.post("/portal/notifications/mark-all-read/", {"csrfmiddlewaretoken": token}).status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is not None


# --- layout ------------------------------------------------------------------------------


def test_the_portal_layout_has_the_nav_and_no_cdn(client, parent):
    client.force_login(parent)
    html = client.get("/portal/").content.decode()
    for href in ('href="/portal/"', 'href="/portal/notifications/"', 'href="/portal/my-details/"'):
        assert href in html
    assert 'aria-current="page">My children<' in html
    assert "https://" not in html


def test_the_login_page_offers_a_password_reset(client):
    html = client.get(PORTAL_LOGIN).content.decode()
    assert 'href="/portal/password-reset/"' in html
    assert "Forgot your password?" in html
