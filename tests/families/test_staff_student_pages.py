"""The staff portal's student pages: who may open them, what they show, and that every
form either saves everything through the services or nothing."""

import csv
import datetime
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from academy.roles import INSTRUCTOR
from families.models import Guardian, StudentGuardian
from students.models import Student
from tests.factories.academy import GradeLevelFactory, LocationFactory, SectionFactory, staff_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def student(family):
    return family[1][0]


@pytest.fixture
def other_student(other_location):
    return StudentFactory(location=other_location, last_name="Northman")


# -- who may open what ---------------------------------------------------------------

PAGES = [
    ("staff:student-list", False),
    ("staff:student-export", False),
    ("staff:student-admit", False),
    ("staff:student-detail", True),
    ("staff:student-edit", True),
    ("staff:student-delete", True),
]


@pytest.mark.parametrize(("name", "per_student"), PAGES)
def test_permission_matrix(name, per_student, student, office, other_office, academy_admin, family, other_family):
    url = reverse(name, args=[student.pk] if per_student else [])
    instructor = staff_user(role=INSTRUCTOR, username="teacher")  # teaches the student
    EnrollmentFactory(student=student, section=SectionFactory(location=student.location, instructor=instructor))
    not_their_teacher = staff_user(role=INSTRUCTOR, username="teacher2")  # teaches somebody else
    EnrollmentFactory(
        student=family[1][1], section=SectionFactory(location=student.location, instructor=not_their_teacher)
    )
    assert client_for(academy_admin).get(url).status_code == 200
    if name == "staff:student-delete":  # deleting a student record is for academy admins only
        assert client_for(office).get(url).status_code == 403
        assert client_for(other_office).get(url).status_code == 403
    else:
        assert client_for(office).get(url).status_code == 200
        # staff of another location: a student they cannot see does not exist for them
        assert client_for(other_office).get(url).status_code == (404 if per_student else 200)
    # parents are sent to their portal, whoever's child it is
    for parent in (family[0].portal_user, other_family[0].portal_user):
        response = client_for(parent).get(url)
        assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    response = client_for(None).get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))
    # an instructor may view students but not admit, edit or delete them
    expected = 200 if name in ("staff:student-list", "staff:student-export", "staff:student-detail") else 403
    assert client_for(instructor).get(url).status_code == expected
    # and only the students they teach: another one does not exist for them
    expected = 404 if name == "staff:student-detail" else expected
    assert client_for(not_their_teacher).get(url).status_code == expected


def test_other_location_staff_do_not_see_the_student_in_the_list(student, other_student, other_office):
    body = client_for(other_office).get(reverse("staff:student-list")).content.decode()
    assert other_student.student_number in body
    assert student.student_number not in body


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("staff:student-edit", {"student-first_name": "X"}),
        ("staff:student-status", {"status": "inactive"}),
        ("staff:student-delete", {"reason": "dup", "confirm": "on"}),
    ],
)
def test_csrf_is_enforced_on_every_form(name, data, student, academy_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(academy_admin)
    assert client.post(reverse(name, args=[student.pk]), data).status_code == 403
    assert client.post(reverse("staff:student-admit"), {}).status_code == 403
    student.refresh_from_db()
    assert student.status == "active" and student.deleted_at is None


# -- list, search, filters, sorting, export --------------------------------------------


def test_list_searches_filters_sorts_and_pages(office, location):
    grade = GradeLevelFactory(name="Grade 3")
    StudentFactory(location=location, first_name="Ana", last_name="Zeta", grade_level=grade)
    StudentFactory(location=location, first_name="Ben", last_name="Alpha", status="inactive")
    for index in range(30):
        StudentFactory(location=location, first_name=f"Kid{index}", last_name="Middle")
    client = client_for(office)
    url = reverse("staff:student-list")

    body = client.get(url, {"search": "zeta"}).content.decode()
    assert "Zeta, Ana" in body and "Alpha" not in body
    body = client.get(url, {"status": "inactive"}).content.decode()
    assert "Alpha, Ben" in body and "Zeta" not in body
    body = client.get(url, {"grade_level": grade.pk}).content.decode()
    assert "Zeta, Ana" in body and "Middle" not in body

    first = client.get(url, {"ordering": "-last_name"}).content.decode()
    assert first.index("Zeta, Ana") < first.index("Middle")
    assert "Alpha, Ben" not in first  # on the second page
    assert "Page 1 of 2" in first
    second = client.get(url, {"ordering": "-last_name", "page": 2}).content.decode()
    assert "Alpha, Ben" in second


def test_search_as_you_type_returns_only_the_table(office, student):
    response = client_for(office).get(
        reverse("staff:student-list"), {"search": student.last_name}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert student.student_number in body
    assert "<html" not in body and 'data-testid="student-table"' in body


def test_the_status_filter_offers_all_statuses_by_name(office, student):
    body = client_for(office).get(reverse("staff:student-list")).content.decode()
    status_select = body[body.index('name="status"') :].split("</select>")[0]
    assert '<option value="" selected>All</option>' in status_select
    assert "---------" not in status_select


def test_a_bad_filter_is_an_error_on_the_page_not_a_500(office, student):
    response = client_for(office).get(reverse("staff:student-list"), {"status": "nonsense"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert student.student_number not in response.content.decode()


def test_export_streams_the_filtered_list_as_csv(office, family, location):
    guardian, children = family
    StudentFactory(location=location, last_name="Elsewhere", status="inactive")
    response = client_for(office).get(reverse("staff:student-export"), {"status": "active"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["student_number"] for row in rows) == sorted(child.student_number for child in children)
    row = rows[0]
    assert row["primary_guardian"] == guardian.full_name
    assert row["primary_guardian_email"] == guardian.email
    assert row["location"] == location.code


def test_export_of_another_locations_staff_has_none_of_our_students(other_office, family):
    response = client_for(other_office).get(reverse("staff:student-export"))
    content = b"".join(response.streaming_content).decode()
    assert all(child.student_number not in content for child in family[1])


# -- query counts ------------------------------------------------------------------


def _make_students(location, count):
    for _ in range(count):
        StudentFactory(location=location)


@pytest.mark.parametrize("name", ["staff:student-list", "staff:dashboard"])
def test_list_pages_take_a_fixed_number_of_queries(name, office, location, django_assert_max_num_queries):
    client = client_for(office)
    _make_students(location, 3)
    client.get(reverse(name))  # warm the grants cache like any second request
    with django_assert_max_num_queries(12) as small:
        assert client.get(reverse(name)).status_code == 200
    _make_students(location, 30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse(name)).status_code == 200


def test_export_takes_a_fixed_number_of_queries(office, location, django_assert_max_num_queries):
    client = client_for(office)
    _make_students(location, 3)
    client.get(reverse("staff:student-list"))
    with django_assert_max_num_queries(10) as small:
        b"".join(client.get(reverse("staff:student-export")).streaming_content)
    _make_students(location, 30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        b"".join(client.get(reverse("staff:student-export")).streaming_content)


# -- detail, history ------------------------------------------------------------------


def test_detail_tabs_show_the_profile_guardians_and_history(office, family):
    guardian, (student, _) = family
    client = client_for(office)
    url = reverse("staff:student-detail", args=[student.pk])
    assert student.student_number in client.get(url).content.decode()
    assert guardian.full_name in client.get(url, {"tab": "guardians"}).content.decode()
    assert "Created" in client.get(url, {"tab": "history"}).content.decode()


def test_history_shows_who_changed_what_and_the_record_as_of_a_day(office, student):
    old_city = student.city
    client = client_for(office)
    response = client.post(
        reverse("staff:student-edit", args=[student.pk]),
        {**_student_form_data(student), "student-city": "Lisbon", "reason": "Moved house"},
    )
    assert response.status_code == 302
    body = client.get(reverse("staff:student-detail", args=[student.pk]), {"tab": "history"}).content.decode()
    assert "Moved house" in body and "Lisbon" in body and office.get_username() in body
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    body = client.get(
        reverse("staff:student-detail", args=[student.pk]), {"tab": "history", "as_of": yesterday.isoformat()}
    ).content.decode()
    assert "did not exist yet" in body
    today = client.get(
        reverse("staff:student-detail", args=[student.pk]), {"tab": "history", "as_of": datetime.date.today()}
    ).content.decode()
    assert "Lisbon" in today.split('data-testid="as-of"')[1].split("</dl>")[0]
    assert old_city != "Lisbon"


# -- admission -----------------------------------------------------------------------


def _admission_data(location, **overrides):
    data = {
        "student-first_name": "Maya",
        "student-last_name": "Okafor",
        "student-date_of_birth": "2016-04-02",
        "student-location": str(location.pk),
        "primary-mode": "new",
        "primary-relation": "mother",
        "primary_new-first_name": "Ada",
        "primary_new-last_name": "Okafor",
        "primary_new-email": "ada.okafor@example.org",
        "primary_new-phone": "555-0101",
        "primary_new-preferred_communication": "email",
        "other-mode": "none",
        "other-relationship_type": "secondary",
    }
    data.update(overrides)
    return data


def test_admission_with_a_new_guardian_saves_everything(office, location):
    response = client_for(office).post(reverse("staff:student-admit"), _admission_data(location))
    student = Student.objects.get(last_name="Okafor")
    assert response.status_code == 302 and response["Location"] == reverse("staff:student-detail", args=[student.pk])
    link = StudentGuardian.objects.get(student=student)
    assert link.relationship_type == "primary" and link.guardian.email == "ada.okafor@example.org"
    assert link.relation == "mother"
    assert student.history.first().history_user == office


def test_admission_with_an_existing_primary_and_a_new_second_guardian(office, location, family):
    guardian = family[0]
    data = _admission_data(
        location,
        **{
            "primary-mode": "existing",
            "primary-existing": str(guardian.pk),
            "primary_new-email": "",
            "other-mode": "new",
            "other-relationship_type": "emergency",
            "other_new-first_name": "Uncle",
            "other_new-last_name": "Bob",
            "other_new-email": "bob@example.org",
            "other_new-phone": "555-0199",
            "other_new-preferred_communication": "sms",
        },
    )
    response = client_for(office).post(reverse("staff:student-admit"), data)
    assert response.status_code == 302
    student = Student.objects.get(first_name="Maya")
    types = dict(StudentGuardian.objects.filter(student=student).values_list("guardian__email", "relationship_type"))
    assert types == {guardian.email: "primary", "bob@example.org": "emergency"}


def test_admission_errors_show_next_to_the_fields_and_nothing_is_saved(office, location, family):
    before = (Student.all_objects.count(), Guardian.objects.count(), StudentGuardian.objects.count())
    data = _admission_data(
        location,
        **{"student-date_of_birth": "", "primary_new-email": family[0].email},  # a taken guardian email
    )
    response = client_for(office).post(reverse("staff:student-admit"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was saved" in body and "This field is required" in body
    assert (Student.all_objects.count(), Guardian.objects.count(), StudentGuardian.objects.count()) == before


def test_a_service_refusal_is_shown_and_nothing_is_saved(office, location, family):
    """The form is fine; the service refuses (another guardian has this email)."""
    before = (Student.all_objects.count(), Guardian.objects.count())
    data = _admission_data(location, **{"primary_new-email": family[0].email.upper()})
    response = client_for(office).post(reverse("staff:student-admit"), data)
    assert response.status_code == 400
    assert "Another guardian already has this email address." in response.content.decode()
    assert (Student.all_objects.count(), Guardian.objects.count()) == before


def test_an_office_cannot_admit_into_a_location_it_cannot_see(office, other_location):
    response = client_for(office).post(reverse("staff:student-admit"), _admission_data(other_location))
    assert response.status_code == 400
    assert not Student.all_objects.filter(last_name="Okafor").exists()


def test_the_existing_guardian_list_is_scoped(office, other_location):
    stranger = GuardianFactory(last_name="Stranger")
    StudentFactory(location=other_location, primary_guardian=stranger)
    body = client_for(office).get(reverse("staff:student-admit")).content.decode()
    assert "Stranger" not in body


# -- edit, status, delete ----------------------------------------------------------------


def _student_form_data(student) -> dict:
    fields = ("first_name", "last_name", "date_of_birth", "city", "homeroom", "gender", "email", "phone")
    data = {f"student-{name}": getattr(student, name) or "" for name in fields}
    data["student-location"] = str(student.location_id)
    data["student-enrollment_date"] = student.enrollment_date.isoformat()
    data["student-date_of_birth"] = student.date_of_birth.isoformat()
    return data


def test_edit_with_a_bad_value_saves_nothing(office, student):
    data = {**_student_form_data(student), "student-date_of_birth": "2999-01-01", "student-city": "Nowhere"}
    response = client_for(office).post(reverse("staff:student-edit", args=[student.pk]), data)
    assert response.status_code == 400
    assert "Date of birth cannot be in the future." in response.content.decode()
    student.refresh_from_db()
    assert student.city != "Nowhere"


def test_status_change_and_a_refused_transition(office, student):
    client = client_for(office)
    url = reverse("staff:student-status", args=[student.pk])
    client.post(url, {"status": "graduated", "reason": "Finished"})
    student.refresh_from_db()
    assert student.status == "graduated"
    response = client.post(url, {"status": "active"}, follow=True)
    student.refresh_from_db()
    assert student.status == "graduated"
    assert "Choose one of the statuses offered" in response.content.decode()
    assert client.get(url).status_code == 405


def test_soft_delete_needs_a_reason_and_confirmation(academy_admin, student):
    client = client_for(academy_admin)
    url = reverse("staff:student-delete", args=[student.pk])
    response = client.post(url, {"reason": "Duplicate"})
    assert response.status_code == 400
    student.refresh_from_db()
    assert student.deleted_at is None
    response = client.post(url, {"reason": "Duplicate", "confirm": "on"})
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.deleted_at is not None
    assert client.get(reverse("staff:student-detail", args=[student.pk])).status_code == 404
    table = client.get(reverse("staff:student-list")).content.decode().split('data-testid="student-table"')[1]
    assert student.student_number not in table


def test_dashboard_chart_counts_this_months_admissions(office, location):
    today = timezone.localdate()
    StudentFactory(location=location, enrollment_date=today)
    StudentFactory(location=location, enrollment_date=today - datetime.timedelta(days=400))  # too long ago
    StudentFactory(location=LocationFactory(code="FAR"), enrollment_date=today)  # not visible to this office
    body = client_for(office).get(reverse("staff:dashboard")).content.decode()
    assert 'data-testid="admissions-chart"' in body
    assert "1 in the last twelve months, 1 this month" in body
    assert f"<title>{today:%B %Y}: 1</title>" in body


def test_export_cells_cannot_run_as_spreadsheet_formulas(office, location):
    StudentFactory(location=location, first_name="=HYPERLINK(1)", last_name="-Dash", preferred_name="@me")
    response = client_for(office).get(reverse("staff:student-export"))
    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert (row["first_name"], row["last_name"], row["preferred_name"]) == ("'=HYPERLINK(1)", "'-Dash", "'@me")


def test_dashboard_counts_students_by_grade(office, location):
    first, third = GradeLevelFactory(name="Grade 1", order=1), GradeLevelFactory(name="Grade 3", order=3)
    for grade in (third, first, first, None):
        StudentFactory(location=location, grade_level=grade)
    body = client_for(office).get(reverse("staff:dashboard")).content.decode()
    table = body.split('data-testid="students-by-grade"')[1].split("</table>")[0]
    cells = [cell.split("</td>")[0] for cell in table.split("<td")[1:]]
    assert [c.split(">", 1)[1] for c in cells] == ["Grade 1", "2", "Grade 3", "1", "No grade", "1"]
