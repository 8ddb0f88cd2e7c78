"""Staff portal guardian pages (``families.staff_guardian_views``): the list, a guardian's
page with its profile, children and history tabs, edit, link / unlink a child, change a
child's primary guardian and the invitation to the parent portal.

Who may do what: office staff of the location, office staff of another location (the
guardian is out of their scope: 404, and never a row of their list), an academy admin,
finance staff (may view guardians, not change them), an instructor (no guardian
permission), a parent and an anonymous visitor."""

import datetime

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from academy.roles import FINANCE, INSTRUCTOR
from families.models import Guardian, StudentGuardian
from families.services import guardian_update
from tests.factories.academy import staff_user
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory

pytestmark = pytest.mark.django_db

LIST = "/staff/guardians/"


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def guardian(family):
    return family[0]


@pytest.fixture
def children(family):
    return family[1]


@pytest.fixture
def second(location, guardian, children):
    """A second guardian of the family's first child (secondary), with no portal login."""
    other = GuardianFactory(first_name="Mark", last_name="Johnson", email="mark.johnson@example.org")
    link = StudentGuardianFactory(student=children[0], guardian=other, relationship_type="secondary", relation="Father")
    return other, link


@pytest.fixture
def finance(location):
    return staff_user(role=FINANCE, username="finance", locations=[location])


@pytest.fixture
def instructor(location):
    return staff_user(role=INSTRUCTOR, username="teacher", locations=[location])


def _urls(guardian: Guardian, link: StudentGuardian) -> dict[str, str]:
    return {
        "detail": reverse("staff:guardian-detail", kwargs={"pk": guardian.pk}),
        "children": reverse("staff:guardian-detail", kwargs={"pk": guardian.pk}) + "?tab=children",
        "history": reverse("staff:guardian-detail", kwargs={"pk": guardian.pk}) + "?tab=history",
        "edit": reverse("staff:guardian-edit", kwargs={"pk": guardian.pk}),
        "link": reverse("staff:guardian-link", kwargs={"pk": guardian.pk}),
        "unlink": reverse("staff:guardian-unlink", kwargs={"pk": guardian.pk, "link_pk": link.pk}),
        "make-primary": reverse(
            "staff:guardian-make-primary", kwargs={"pk": guardian.pk, "student_pk": link.student_id}
        ),
        "invite": reverse("staff:guardian-invite", kwargs={"pk": guardian.pk}),
    }


def _snapshot():
    """Everything the guardian pages could write."""
    return (
        sorted(Guardian.objects.values_list("pk", "first_name", "last_name", "email", "portal_user_id", "updated_at")),
        sorted(
            StudentGuardian.objects.values_list("pk", "student_id", "guardian_id", "relationship_type", "updated_at")
        ),
        Guardian.history.count(),
        StudentGuardian.history.count(),
    )


def _html(response) -> str:
    return response.content.decode()


# --- URL names and navigation ------------------------------------------------------------


def test_url_names(guardian, second):
    other, link = second
    assert reverse("staff:guardian-list") == LIST
    urls = _urls(other, link)
    assert urls["detail"] == f"/staff/guardians/{other.pk}/"
    assert urls["edit"] == f"/staff/guardians/{other.pk}/edit/"
    assert urls["link"] == f"/staff/guardians/{other.pk}/link/"
    assert urls["unlink"] == f"/staff/guardians/{other.pk}/unlink/{link.pk}/"
    assert urls["make-primary"] == f"/staff/guardians/{other.pk}/make-primary/{link.student_id}/"


def test_the_nav_links_to_the_guardian_list_and_marks_it_current(client, office, guardian):
    client.force_login(office)
    html = _html(client.get(LIST))
    assert f'<a href="{LIST}" aria-current="page">Guardians</a>' in html
    html = _html(client.get(f"{LIST}{guardian.pk}/"))
    assert f'<a href="{LIST}" aria-current="page">Guardians</a>' in html
    html = _html(client.get("/staff/"))
    assert f'<a href="{LIST}">Guardians</a>' in html


# --- permission matrix: pages -------------------------------------------------------------

VIEW_PAGES = ("detail", "children", "history")
WRITE_PAGES = ("edit", "link", "unlink")


@pytest.mark.parametrize("page", [*VIEW_PAGES, *WRITE_PAGES])
def test_office_of_the_location_and_an_academy_admin_open_every_page(client, office, academy_admin, second, page):
    other, link = second
    url = _urls(other, link)[page]
    for user in (office, academy_admin):
        client.force_login(user)
        assert client.get(url).status_code == 200, (user, page)


@pytest.mark.parametrize("page", [*VIEW_PAGES, *WRITE_PAGES])
def test_office_of_another_location_gets_404_for_a_guardian_out_of_scope(client, other_office, second, page):
    other, link = second
    client.force_login(other_office)
    assert client.get(_urls(other, link)[page]).status_code == 404


@pytest.mark.parametrize("page", [*VIEW_PAGES, *WRITE_PAGES])
def test_a_parent_is_sent_to_the_portal(client, guardian, second, page):
    other, link = second
    client.force_login(guardian.portal_user)
    response = client.get(_urls(other, link)[page])
    assert response.status_code == 302
    assert response["Location"] == "/portal/"


@pytest.mark.parametrize("page", [*VIEW_PAGES, *WRITE_PAGES])
def test_anonymous_is_sent_to_the_staff_login(client, second, page):
    other, link = second
    url = _urls(other, link)[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/?next=")


@pytest.mark.parametrize("page", [*VIEW_PAGES, *WRITE_PAGES])
def test_an_instructor_without_guardian_permissions_gets_403(client, instructor, second, page):
    other, link = second
    client.force_login(instructor)
    assert client.get(_urls(other, link)[page]).status_code == 403


def test_finance_staff_may_view_guardians_but_not_change_them(client, finance, second):
    other, link = second
    urls = _urls(other, link)
    client.force_login(finance)
    for page in VIEW_PAGES:
        assert client.get(urls[page]).status_code == 200, page
    assert client.get(LIST).status_code == 200
    for page in WRITE_PAGES:
        assert client.get(urls[page]).status_code == 403, page
    # and the detail page offers none of the write actions
    html = _html(client.get(urls["children"]))
    assert "Make primary" not in html and "Unlink</a>" not in html and "Invite to the parent portal" not in html


def test_list_permission_matrix(client, office, other_office, academy_admin, instructor, guardian):
    client.force_login(office)
    assert client.get(LIST).status_code == 200
    client.force_login(academy_admin)
    assert client.get(LIST).status_code == 200
    client.force_login(other_office)
    assert client.get(LIST).status_code == 200
    client.force_login(instructor)
    assert client.get(LIST).status_code == 403
    client.force_login(guardian.portal_user)
    assert client.get(LIST)["Location"] == "/portal/"
    client.logout()
    assert client.get(LIST)["Location"] == f"/staff/login/?next={LIST}"


def test_a_guardian_that_does_not_exist_is_404(client, office):
    client.force_login(office)
    assert client.get("/staff/guardians/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- permission matrix: writes -------------------------------------------------------------


def _posts(urls: dict[str, str]) -> list[tuple[str, dict]]:
    return [
        (urls["edit"], {"first_name": "Changed", "reason": "test"}),
        (urls["link"], {"relationship_type": "secondary"}),
        (urls["unlink"], {}),
        (urls["make-primary"], {}),
        (urls["invite"], {}),
    ]


def test_writes_need_the_change_permissions(client, finance, instructor, second):
    other, link = second
    before = _snapshot()
    for user in (finance, instructor):
        client.force_login(user)
        for url, data in _posts(_urls(other, link)):
            assert client.post(url, data).status_code == 403, (user, url)
    assert _snapshot() == before
    assert mail.outbox == []


def test_writes_on_a_guardian_out_of_scope_are_404(client, other_office, second):
    other, link = second
    before = _snapshot()
    client.force_login(other_office)
    for url, data in _posts(_urls(other, link)):
        assert client.post(url, data).status_code == 404, url
    assert _snapshot() == before


def test_writes_by_a_parent_or_anonymous_are_redirected(client, guardian, second):
    other, link = second
    before = _snapshot()
    for url, data in _posts(_urls(other, link)):
        assert client.post(url, data)["Location"].startswith("/staff/login/")
    client.force_login(guardian.portal_user)
    for url, data in _posts(_urls(other, link)):
        assert client.post(url, data)["Location"] == "/portal/"
    assert _snapshot() == before


def test_csrf_is_enforced_on_every_post(office, second, children):
    other, link = second
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(office)
    before = _snapshot()
    for url, data in _posts(_urls(other, link)):
        assert csrf_client.post(url, data).status_code == 403, url
    assert _snapshot() == before
    assert mail.outbox == []


def test_make_primary_and_invite_are_post_only(client, office, second):
    other, link = second
    urls = _urls(other, link)
    client.force_login(office)
    assert client.get(urls["make-primary"]).status_code == 405
    assert client.get(urls["invite"]).status_code == 405


# --- the list ---------------------------------------------------------------------------------


def _rows(response) -> list[str]:
    return [guardian.guardian_number for guardian in response.context["page"].object_list]


def test_list_shows_the_guardians_in_scope_with_their_children_count(
    client, office, other_office, academy_admin, location, other_location, guardian, children, second
):
    other, _link = second
    # a guardian of a child at the other location only
    north = GuardianFactory(last_name="Northman")
    StudentFactory(location=other_location, primary_guardian=north)
    # the family's guardian also has a child at the other location
    StudentFactory(location=other_location, primary_guardian=guardian)

    client.force_login(office)
    response = client.get(LIST)
    counts = {g.guardian_number: g.children_count for g in response.context["page"].object_list}
    assert counts == {guardian.guardian_number: 2, other.guardian_number: 1}
    assert north.guardian_number not in _html(response)

    client.force_login(other_office)
    counts = {g.guardian_number: g.children_count for g in client.get(LIST).context["page"].object_list}
    assert counts == {guardian.guardian_number: 1, north.guardian_number: 1}

    client.force_login(academy_admin)
    counts = {g.guardian_number: g.children_count for g in client.get(LIST).context["page"].object_list}
    assert counts[guardian.guardian_number] == 3
    assert len(counts) == 3


def test_list_search_filters_and_the_htmx_partial(client, office, guardian, second):
    other, _link = second
    Guardian.objects.filter(pk=other.pk).update(account_status="inactive")
    client.force_login(office)

    response = client.get(LIST, {"search": "mark johnson"})
    assert _rows(response) == [other.guardian_number]
    assert "<html" in _html(response)  # without JavaScript: the whole page

    response = client.get(
        LIST, {"search": other.email.upper()}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="guardian-results"
    )
    assert _rows(response) == [other.guardian_number]
    html = _html(response)
    assert "<html" not in html and 'data-testid="guardian-table"' in html  # htmx: the table only
    assert "HX-Request" in response["Vary"]  # so a browser cache never serves the table as the page

    assert _rows(client.get(LIST, {"account_status": "inactive"})) == [other.guardian_number]
    assert _rows(client.get(LIST, {"account_status": "active"})) == [guardian.guardian_number]


def test_list_bad_filters_are_shown_not_a_500(client, office, guardian):
    client.force_login(office)
    response = client.get(LIST, {"account_status": "nonsense", "ordering": "password", "page": "x"})
    assert response.status_code == 200
    assert "Select a valid choice" in _html(response)


def test_list_sorts_by_a_column_both_ways_and_pages(client, office, location):
    guardians = [GuardianFactory(last_name=f"Zed{n:02d}") for n in range(30)]
    for g in guardians:
        StudentFactory(location=location, primary_guardian=g)
    client.force_login(office)

    response = client.get(LIST, {"ordering": "last_name"})
    page = response.context["page"]
    assert page.paginator.count == 30 and len(page.object_list) == 25
    assert [g.last_name for g in page.object_list][:2] == ["Zed00", "Zed01"]
    assert 'aria-sort="ascending"' in _html(response)

    response = client.get(LIST, {"ordering": "-last_name"})
    assert [g.last_name for g in response.context["page"].object_list][:2] == ["Zed29", "Zed28"]
    assert 'aria-sort="descending"' in _html(response)

    response = client.get(LIST, {"ordering": "-last_name", "page": 2})
    assert [g.last_name for g in response.context["page"].object_list] == [f"Zed{n:02d}" for n in range(4, -1, -1)]
    assert "ordering=-last_name&amp;page=1" in _html(response)


def test_the_location_switcher_narrows_the_list(client, academy_admin, location, other_location, guardian):
    north = GuardianFactory(last_name="Northman")
    StudentFactory(location=other_location, primary_guardian=north)
    client.force_login(academy_admin)
    assert sorted(_rows(client.get(LIST))) == sorted([guardian.guardian_number, north.guardian_number])
    assert _rows(client.get(LIST, {"location": other_location.pk})) == [north.guardian_number]


@pytest.mark.parametrize("user_fixture", ["office", "academy_admin"])
def test_list_query_count_does_not_grow_with_the_rows(
    client, request, location, django_assert_max_num_queries, user_fixture
):
    client.force_login(request.getfixturevalue(user_fixture))

    def make(n):
        for _ in range(n):
            g = GuardianFactory()
            StudentFactory.create_batch(2, location=location, primary_guardian=g)

    # session, user, the switcher's locations, the count and the page (children counts
    # are a subquery of the page's query)
    make(2)
    client.get(LIST)  # warm the caches (grants) as on any later request
    with django_assert_max_num_queries(5):
        assert len(client.get(LIST).context["page"].object_list) == 2
    make(30)
    with django_assert_max_num_queries(5):
        page = client.get(LIST, {"search": "example", "ordering": "-created_at"}).context["page"]
    assert len(page.object_list) == 25 and all(g.children_count == 2 for g in page.object_list)
    with django_assert_max_num_queries(5):  # the htmx partial: the same reads, the table only
        client.get(LIST, {"page": 2}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="guardian-results")


# --- the detail page -----------------------------------------------------------------------


def test_profile_and_children_tabs(client, office, guardian, children, second, other_location):
    other, link = second
    StudentFactory(location=other_location, primary_guardian=guardian)  # out of the office's scope
    client.force_login(office)

    html = _html(client.get(f"{LIST}{guardian.pk}/"))
    assert guardian.email in html and guardian.guardian_number in html
    assert "Invite to the parent portal" not in html and "Send a new portal invitation" in html  # has a login

    response = client.get(f"{LIST}{guardian.pk}/", {"tab": "children"})
    links = response.context["links"]
    assert {link.student for link in links} == set(children)
    assert response.context["hidden_children"] == 1
    html = _html(response)
    for child in children:
        assert f'href="/staff/students/{child.pk}/"' in html
    assert "1 more child at locations you do not look after" in html
    # the primary cannot be unlinked from here; a secondary can, and can be made primary
    assert "make another guardian primary first" in html

    html = _html(client.get(f"{LIST}{other.pk}/", {"tab": "children"}))
    assert "Father" in html and "Secondary" in html
    assert f'action="/staff/guardians/{other.pk}/make-primary/{link.student_id}/"' in html
    assert f'href="/staff/guardians/{other.pk}/unlink/{link.pk}/"' in html


def test_detail_query_count_does_not_grow_with_children_or_history(
    client, office, location, guardian, django_assert_max_num_queries
):
    client.force_login(office)
    url = f"{LIST}{guardian.pk}/"
    client.get(url)
    counts = {}
    for tab in ("profile", "children", "history"):
        with django_assert_max_num_queries(10) as captured:
            client.get(url, {"tab": tab, "as_of": "2024-01-01"})
        counts[tab] = len(captured)
    for n in range(8):
        StudentFactory(location=location, primary_guardian=GuardianFactory()).guardian_links.create(
            guardian=guardian, relationship_type="secondary"
        )
        guardian_update(guardian=guardian, actor=office, data={"city": f"City {n}"}, reason=f"move {n}")
    for tab in ("profile", "children", "history"):
        with django_assert_max_num_queries(counts[tab]):
            client.get(url, {"tab": tab, "as_of": "2024-01-01"})


# --- history -------------------------------------------------------------------------------


def test_history_shows_who_changed_what_and_why_and_the_record_as_of_a_day(client, office, guardian):
    office.first_name, office.last_name = "Olive", "Office"
    office.save()
    # given the guardian was created a week ago (their history says so)
    week_ago = timezone.now() - datetime.timedelta(days=7)
    guardian.history.update(history_date=week_ago)
    old_phone = guardian.phone

    client.force_login(office)
    response = client.post(
        f"{LIST}{guardian.pk}/edit/",
        {
            **_form_data(guardian),
            "phone": "555-9999",
            "reason": "New number given at the front desk",
        },
    )
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.phone == "555-9999"

    response = client.get(f"{LIST}{guardian.pk}/", {"tab": "history"})
    newest = response.context["history"][0]
    assert newest.who == "Olive Office"
    assert newest.reason == "New number given at the front desk"
    assert [(c.label, c.old, c.new) for c in newest.changes] == [("Phone", old_phone, "555-9999")]
    html = _html(response)
    assert "Olive Office" in html and "New number given at the front desk" in html and "555-9999" in html

    # as of three days ago: the earlier phone number
    day = (timezone.localdate() - datetime.timedelta(days=3)).isoformat()
    response = client.get(f"{LIST}{guardian.pk}/", {"tab": "history", "as_of": day})
    assert dict(response.context["as_of_fields"])["Phone"] == old_phone
    # before the guardian existed: said so
    day = (timezone.localdate() - datetime.timedelta(days=30)).isoformat()
    response = client.get(f"{LIST}{guardian.pk}/", {"tab": "history", "as_of": day})
    assert response.context["as_of_fields"] is None
    assert "did not exist yet" in _html(response)
    # today: the new one
    response = client.get(f"{LIST}{guardian.pk}/", {"tab": "history", "as_of": timezone.localdate().isoformat()})
    assert dict(response.context["as_of_fields"])["Phone"] == "555-9999"


def test_a_bad_as_of_date_is_a_field_error(client, office, guardian):
    client.force_login(office)
    response = client.get(f"{LIST}{guardian.pk}/", {"tab": "history", "as_of": "31/02/2025"})
    assert response.status_code == 200
    assert "as_of" not in response.context or response.context.get("as_of") is None
    assert response.context["as_of_form"].errors["as_of"] == ["Enter a valid date."]
    assert "Enter a valid date." in _html(response)


# --- edit ----------------------------------------------------------------------------------


def _form_data(guardian: Guardian) -> dict:
    return {
        "salutation": guardian.salutation,
        "first_name": guardian.first_name,
        "last_name": guardian.last_name,
        "email": guardian.email,
        "phone": guardian.phone,
        "address_line1": "",
        "address_line2": "",
        "city": "",
        "state": "",
        "country": "",
        "postal_code": "",
        "account_status": guardian.account_status,
        "preferred_communication": guardian.preferred_communication,
        "reason": "Corrected",
    }


def test_edit_saves_through_the_service_with_the_reason(client, office, guardian):
    client.force_login(office)
    data = {**_form_data(guardian), "city": "Springfield", "preferred_communication": "sms", "reason": "Moved"}
    response = client.post(f"{LIST}{guardian.pk}/edit/", data)
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}{guardian.pk}/"
    guardian.refresh_from_db()
    assert (guardian.city, guardian.preferred_communication, guardian.updated_by) == ("Springfield", "sms", office)
    record = guardian.history.first()
    assert (record.history_user, record.history_change_reason) == (office, "Moved")
    assert "saved" in _html(client.get(response["Location"]))


def test_edit_with_nothing_changed_writes_nothing(client, office, guardian):
    client.force_login(office)
    before = _snapshot()
    response = client.post(f"{LIST}{guardian.pk}/edit/", _form_data(guardian))
    assert response.status_code == 302
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"account_status": "deleted"}, "account_status", "Select a valid choice."),
        ({"phone": "1" * 21}, "phone", "Ensure this value has at most 20 characters"),
        ({"reason": ""}, "reason", "This field is required."),
    ],
)
def test_edit_bad_input_shows_field_errors_and_writes_nothing(client, office, guardian, changes, field, message):
    client.force_login(office)
    before = _snapshot()
    response = client.post(f"{LIST}{guardian.pk}/edit/", {**_form_data(guardian), "city": "Elsewhere", **changes})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert message.split(" (")[0].replace("'", "&#x27;") in _html(response)
    assert _snapshot() == before


def test_edit_an_email_another_guardian_has_is_an_error_at_the_email_field(client, office, guardian, second):
    other, _link = second
    client.force_login(office)
    before = _snapshot()
    data = {**_form_data(guardian), "first_name": "Rejected", "email": other.email.upper()}
    response = client.post(f"{LIST}{guardian.pk}/edit/", data)
    assert response.status_code == 400
    assert response.context["form"].errors == {"email": ["Another guardian already has this email address."]}
    # the page still names the saved guardian, not the rejected input
    assert f">{guardian.full_name}</a>" in _html(response)
    assert _snapshot() == before


# --- link / unlink / make primary ------------------------------------------------------------------


def test_link_page_finds_students_in_scope_only(client, office, location, other_location, second):
    other, _link = second
    mine = StudentFactory(location=location, first_name="Zoe", last_name="Quill")
    theirs = StudentFactory(location=other_location, first_name="Zack", last_name="Quill")
    client.force_login(office)
    url = f"{LIST}{other.pk}/link/"

    response = client.get(url, {"q": "quill"})
    assert [s.pk for s in response.context["candidates"]] == [mine.pk]
    assert theirs.student_number not in _html(response)

    response = client.get(url, {"q": "quill"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="student-candidates")
    html = _html(response)
    assert "<html" not in html and f'value="{mine.pk}"' in html


def test_link_a_child_with_flags(client, office, location, second):
    other, _link = second
    child = StudentFactory(location=location)
    client.force_login(office)
    response = client.post(
        f"{LIST}{other.pk}/link/",
        {
            "student": child.pk,
            "relationship_type": "emergency",
            "relation": "Uncle",
            "can_pick_up": "on",
            "receives_communications": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}{other.pk}/?tab=children"
    link = StudentGuardian.objects.get(student=child, guardian=other)
    assert (link.relationship_type, link.relation, link.created_by) == ("emergency", "Uncle", office)
    assert (link.can_pick_up, link.can_authorize_medical, link.receives_communications) == (True, False, False)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"relationship_type": "secondary", "student": ""}, "student", "Choose a student."),
        ({"relationship_type": "primary"}, "relationship_type", "Select a valid choice."),
        ({"relationship_type": "secondary", "relation": "x" * 51}, "relation", "at most 50 characters"),
        ({"relationship_type": "secondary", "student": "not-a-uuid"}, "student", "is not a valid UUID"),
        (
            {"relationship_type": "secondary", "student": "00000000-0000-0000-0000-000000000000"},
            "student",
            "Choose one of the students",
        ),
    ],
)
def test_link_bad_input_shows_field_errors_and_writes_nothing(client, office, location, second, data, field, message):
    other, _link = second
    child = StudentFactory(location=location)
    data = {"student": child.pk, **data}
    client.force_login(office)
    before = _snapshot()
    response = client.post(f"{LIST}{other.pk}/link/", data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert _snapshot() == before


def test_a_student_out_of_scope_cannot_be_linked(client, office, other_location, second):
    other, _link = second
    theirs = StudentFactory(location=other_location)
    client.force_login(office)
    before = _snapshot()
    response = client.post(f"{LIST}{other.pk}/link/", {"student": theirs.pk, "relationship_type": "secondary"})
    assert response.status_code == 400
    assert response.context["form"].errors["student"] == ["Choose one of the students found by the search."]
    assert _snapshot() == before


def test_linking_an_already_linked_child_is_refused_at_the_top(client, office, second):
    other, link = second
    client.force_login(office)
    before = _snapshot()
    response = client.post(f"{LIST}{other.pk}/link/", {"student": link.student_id, "relationship_type": "emergency"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["This guardian is already linked to the student."]
    html = _html(response)
    assert html.index("This guardian is already linked") < html.index('data-testid="link-form"')
    assert _snapshot() == before


def test_unlink_asks_for_confirmation_then_unlinks(client, office, second):
    other, link = second
    client.force_login(office)
    url = f"{LIST}{other.pk}/unlink/{link.pk}/"
    response = client.get(url)
    assert response.status_code == 200
    assert link.student.full_name in _html(response)
    assert StudentGuardian.objects.filter(pk=link.pk).exists()

    response = client.post(url)
    assert response.status_code == 302
    assert not StudentGuardian.objects.filter(pk=link.pk).exists()
    record = StudentGuardian.history.filter(id=link.pk).first()
    assert (record.history_type, record.history_user, record.history_change_reason) == ("-", office, "Unlinked")


def test_unlinking_the_primary_guardian_is_refused_at_the_top_and_writes_nothing(client, office, guardian, children):
    primary = StudentGuardian.objects.get(student=children[0], guardian=guardian)
    client.force_login(office)
    before = _snapshot()
    response = client.post(f"{LIST}{guardian.pk}/unlink/{primary.pk}/")
    assert response.status_code == 409
    html = _html(response)
    assert "A student must keep a primary guardian" in html
    assert html.index('data-testid="unlink-errors"') < html.index('data-testid="unlink-form"')
    assert _snapshot() == before


def test_a_link_of_another_guardian_or_child_out_of_scope_is_404(client, office, guardian, second, other_location):
    _other, link = second
    theirs = StudentFactory(location=other_location, primary_guardian=guardian)
    hidden = theirs.guardian_links.get()
    client.force_login(office)
    # the link belongs to another guardian
    assert client.get(f"{LIST}{guardian.pk}/unlink/{link.pk}/").status_code == 404
    # the child is at a location the office does not look after
    assert client.get(f"{LIST}{guardian.pk}/unlink/{hidden.pk}/").status_code == 404
    assert client.post(f"{LIST}{guardian.pk}/make-primary/{theirs.pk}/").status_code == 404


def test_make_primary_swaps_the_primary_guardian(client, office, guardian, second):
    other, link = second
    client.force_login(office)
    response = client.post(f"{LIST}{other.pk}/make-primary/{link.student_id}/")
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}{other.pk}/?tab=children"
    links = {sg.guardian_id: sg for sg in StudentGuardian.objects.filter(student_id=link.student_id)}
    assert links[other.pk].relationship_type == "primary" and links[other.pk].can_authorize_medical
    assert links[guardian.pk].relationship_type == "secondary"
    assert "is now the primary guardian" in _html(client.get(response["Location"]))

    # again: nothing to do, nothing written
    before = _snapshot()
    response = client.post(f"{LIST}{other.pk}/make-primary/{link.student_id}/", follow=True)
    assert "already the primary guardian" in _html(response)
    assert _snapshot() == before


# --- invitation ------------------------------------------------------------------------------------


def test_invite_creates_a_login_and_sends_the_email(client, office, second, django_capture_on_commit_callbacks):
    other, _link = second
    client.force_login(office)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{LIST}{other.pk}/invite/")
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.portal_user is not None and other.portal_user.username == "mark.johnson@example.org"
    assert [message.to for message in mail.outbox] == [["mark.johnson@example.org"]]
    assert "http://testserver/portal/invitation/" in mail.outbox[0].body
    assert "invitation to the parent portal was sent to mark.johnson@example.org" in _html(
        client.get(response["Location"])
    )


def test_invite_refused_shows_the_reason_and_writes_nothing(client, office, second, django_capture_on_commit_callbacks):
    other, _link = second
    Guardian.objects.filter(pk=other.pk).update(account_status="suspended")
    client.force_login(office)
    before = _snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{LIST}{other.pk}/invite/", follow=True)
    assert "The invitation was not sent: Only an active guardian can be invited" in _html(response)
    assert _snapshot() == before
    assert mail.outbox == []
