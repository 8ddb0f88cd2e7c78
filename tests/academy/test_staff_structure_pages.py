"""Staff portal academy-structure pages (``academy.staff_structure_views``): read-only
lists of locations, years and terms, grade levels, programs and courses, and sections
with their seats. Locations and sections are limited to the user's locations."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from academy.roles import INSTRUCTOR
from tests.factories.academy import (
    AcademicYearFactory,
    CourseFactory,
    FacilityFactory,
    GradeLevelFactory,
    ProgramFactory,
    SectionFactory,
    TermFactory,
    admin_user,
    staff_user,
)

pytestmark = pytest.mark.django_db

PAGES = {
    "staff:structure": "/staff/structure/",
    "staff:structure-locations": "/staff/structure/locations/",
    "staff:structure-years": "/staff/structure/years/",
    "staff:structure-grades": "/staff/structure/grades/",
    "staff:structure-programs": "/staff/structure/programs/",
    "staff:structure-sections": "/staff/structure/sections/",
}
PERMISSION = {
    "staff:structure": "view_location",
    "staff:structure-locations": "view_location",
    "staff:structure-years": "view_academicyear",
    "staff:structure-grades": "view_gradelevel",
    "staff:structure-programs": "view_program",
    "staff:structure-sections": "view_section",
}


@pytest.fixture
def structure(location, other_location):
    """A year with two terms, a grade ladder, a program with two courses and a section
    at each location."""
    year = AcademicYearFactory()
    autumn = TermFactory(academic_year=year, name="Autumn")
    spring = TermFactory(
        academic_year=year, name="Spring", start_date=datetime.date(2026, 1, 5), end_date=datetime.date(2026, 3, 27)
    )
    grade_2 = GradeLevelFactory(name="Grade 2", order=2)
    grade_1 = GradeLevelFactory(name="Grade 1", order=1, next_grade=grade_2)
    program = ProgramFactory(code="SWIM", name="Swimming")
    club = CourseFactory(program=program, code="SWIM-CLUB", title="Swimming Club", grade_level=grade_1)
    CourseFactory(program=program, code="SWIM-ADV", title="Advanced Swimming")
    pool = FacilityFactory(location=location, code="POOL", name="Main pool")
    main = SectionFactory(course=club, term=autumn, location=location, code="A", facility=pool, capacity=12)
    north = SectionFactory(course=club, term=spring, location=other_location, code="N", capacity=8)
    return {"year": year, "terms": (autumn, spring), "grades": (grade_1, grade_2), "sections": (main, north)}


@pytest.fixture
def instructor(location):
    return staff_user(role=INSTRUCTOR, username="teacher", locations=[location])


def _html(response) -> str:
    return response.content.decode()


def test_url_names():
    for name, path in PAGES.items():
        assert reverse(name) == path


# --- permission matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_staff_of_any_role_with_the_view_permission_open_every_page(
    client, office, other_office, academy_admin, instructor, structure, name
):
    for user in (office, other_office, academy_admin, instructor):
        client.force_login(user)
        assert client.get(PAGES[name]).status_code == 200, (user, name)


@pytest.mark.parametrize("name", PAGES)
def test_a_parent_is_sent_to_the_portal_and_anonymous_to_the_staff_login(client, family, name):
    response = client.get(PAGES[name])
    assert response.status_code == 302
    assert response["Location"] == f"/staff/login/?next={PAGES[name]}"
    client.force_login(family[0].portal_user)
    response = client.get(PAGES[name])
    assert response.status_code == 302
    assert response["Location"] == "/portal/"


@pytest.mark.parametrize("name", PAGES)
def test_staff_without_the_view_permission_get_403(client, instructor, name):
    # given the instructors' role loses the permission of this page
    Group.objects.get(name=INSTRUCTOR).permissions.remove(
        Permission.objects.get(content_type__app_label="academy", codename=PERMISSION[name])
    )
    client.force_login(instructor)
    assert client.get(PAGES[name]).status_code == 403


def test_the_overview_links_only_to_the_pages_the_user_may_open(client, instructor):
    Group.objects.get(name=INSTRUCTOR).permissions.remove(
        Permission.objects.get(content_type__app_label="academy", codename="view_section")
    )
    client.force_login(instructor)
    html = _html(client.get(PAGES["staff:structure"]))
    for name in ("staff:structure-locations", "staff:structure-years", "staff:structure-programs"):
        assert f'href="{PAGES[name]}"' in html
    assert 'href="/staff/structure/sections/"' not in html


def test_structure_pages_are_read_only(client, academy_admin, structure):
    client.force_login(academy_admin)
    for path in PAGES.values():
        assert client.post(path).status_code == 405, path


# --- what the pages show ----------------------------------------------------------------------


def test_locations_are_limited_to_the_users_locations(client, office, academy_admin, location, structure):
    client.force_login(office)
    response = client.get(PAGES["staff:structure-locations"])
    assert [loc.code for loc in response.context["locations"]] == ["MAIN"]
    html = _html(response)
    assert "Main pool" in html and "North campus" not in html.split("<main")[1].split("</main>")[0]

    client.force_login(academy_admin)
    response = client.get(PAGES["staff:structure-locations"])
    assert sorted(loc.code for loc in response.context["locations"]) == ["MAIN", "NORTH"]


def test_years_show_their_terms_in_order(client, office, structure):
    client.force_login(office)
    response = client.get(PAGES["staff:structure-years"])
    (year,) = response.context["years"]
    assert [term.name for term in year.terms.all()] == ["Autumn", "Spring"]
    html = _html(response)
    assert "2025-26" in html and "Current" in html and html.index("<td>Autumn</td>") < html.index("<td>Spring</td>")


def test_grades_show_the_ladder(client, office, structure):
    client.force_login(office)
    response = client.get(PAGES["staff:structure-grades"])
    assert [grade.name for grade in response.context["grades"]] == ["Grade 1", "Grade 2"]
    html = _html(response)
    assert "Graduates" in html  # grade 2 is the last one


def test_programs_show_their_courses(client, office, structure):
    client.force_login(office)
    response = client.get(PAGES["staff:structure-programs"])
    (program,) = response.context["programs"]
    assert [course.code for course in program.courses.all()] == ["SWIM-ADV", "SWIM-CLUB"]
    assert "Swimming Club" in _html(response)


def test_sections_are_scoped_and_show_capacity_and_seats_left(
    client, office, other_office, academy_admin, structure, other_location
):
    main, north = structure["sections"]
    client.force_login(office)
    response = client.get(PAGES["staff:structure-sections"])
    assert [(row["section"], row["enrolled"], row["seats_left"]) for row in response.context["rows"]] == [(main, 0, 12)]
    html = _html(response)
    assert "SWIM-CLUB-A" in html and "SWIM-CLUB-N" not in html and "Main pool" in html

    client.force_login(other_office)
    assert [row["section"] for row in client.get(PAGES["staff:structure-sections"]).context["rows"]] == [north]

    client.force_login(academy_admin)
    response = client.get(PAGES["staff:structure-sections"])
    assert [row["section"] for row in response.context["rows"]] == [main, north]


def test_sections_filter_by_term_and_location(client, academy_admin, location, other_location, structure):
    main, north = structure["sections"]
    autumn, spring = structure["terms"]
    client.force_login(academy_admin)
    url = PAGES["staff:structure-sections"]
    assert [row["section"] for row in client.get(url, {"term": spring.pk}).context["rows"]] == [north]
    assert [row["section"] for row in client.get(url, {"location": location.pk}).context["rows"]] == [main]
    assert client.get(url, {"term": autumn.pk, "location": other_location.pk}).context["rows"] == []


def test_a_location_out_of_scope_is_a_filter_error_not_a_leak(client, office, other_location, structure):
    main, _north = structure["sections"]
    client.force_login(office)
    response = client.get(PAGES["staff:structure-sections"], {"location": other_location.pk, "term": "nonsense"})
    assert response.status_code == 200
    assert [row["section"] for row in response.context["rows"]] == [main]
    html = _html(response)
    assert "Select a valid choice" in html and "SWIM-CLUB-N" not in html


def test_a_full_section_says_so(client, office, location, structure):
    SectionFactory(location=location, capacity=0, code="Z")
    client.force_login(office)
    assert ">Full</span>" in _html(client.get(PAGES["staff:structure-sections"]))


# --- admin links and navigation ------------------------------------------------------------------


def test_edit_in_admin_links_only_for_django_admin_users(client, office, structure):
    superuser = admin_user(username="root", is_staff=True, is_superuser=True)
    main, _north = structure["sections"]
    client.force_login(superuser)
    html = _html(client.get(PAGES["staff:structure-sections"]))
    assert 'href="/admin/academy/section/"' in html
    assert f'href="/admin/academy/section/{main.pk}/change/"' in html

    client.force_login(office)
    for path in PAGES.values():
        html = _html(client.get(path))
        assert "Edit in admin" not in html and "/admin/" not in html, path


def test_the_nav_links_to_the_structure_and_marks_it_current(client, office):
    client.force_login(office)
    html = _html(client.get(PAGES["staff:structure-grades"]))
    assert '<a href="/staff/structure/" aria-current="page">Academy structure</a>' in html
    assert '<a href="/staff/structure/grades/" aria-current="page">Grade levels</a>' in html
    html = _html(client.get("/staff/"))
    assert '<a href="/staff/structure/">Academy structure</a>' in html


# --- fixed query counts -----------------------------------------------------------------------------


def _grow(location, other_location, n: int) -> None:
    """``n`` more of everything: locations with facilities, years with terms, grades,
    programs with courses and sections."""
    for i in range(n):
        tag = f"{n}-{i}"
        FacilityFactory(location=location)
        FacilityFactory(location=other_location)
        year = AcademicYearFactory(
            name=f"19{n:02d}-{i}",
            start_date=datetime.date(1900 + n, 8, 1),
            end_date=datetime.date(1901 + n, 7, 31),
            is_current=False,
        )
        for t in range(2):
            TermFactory(
                academic_year=year,
                name=f"T{t}",
                start_date=datetime.date(1900 + n, 9 + t, 1),
                end_date=datetime.date(1900 + n, 9 + t, 28),
            )
        GradeLevelFactory(name=f"Level {tag}", order=100 + n * 10 + i)
        program = ProgramFactory()
        CourseFactory.create_batch(2, program=program)
        SectionFactory(location=location, course=CourseFactory(program=program), instructor=staff_user())
        SectionFactory(location=other_location)


@pytest.mark.parametrize("name", PAGES)
def test_query_count_does_not_grow_with_the_rows(
    client, office, location, other_location, structure, django_assert_max_num_queries, name
):
    # session, user, the switcher's locations, then the page's own reads
    expected = {
        "staff:structure": 3,
        "staff:structure-locations": 5,  # locations, facilities
        "staff:structure-years": 5,  # years, terms
        "staff:structure-grades": 4,
        "staff:structure-programs": 5,  # programs, courses
        "staff:structure-sections": 7,  # term and location choices, count, page
    }[name]
    client.force_login(office)
    client.get(PAGES[name])  # warm the caches (grants) as on any later request
    with django_assert_max_num_queries(expected):
        assert client.get(PAGES[name]).status_code == 200
    _grow(location, other_location, 12)
    client.get(PAGES[name])  # new users (instructors) renewed the cached grants: warm again
    with django_assert_max_num_queries(expected):
        response = client.get(PAGES[name])
    if name == "staff:structure-sections":
        assert len(response.context["rows"]) == 13  # this location's only
