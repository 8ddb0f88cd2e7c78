"""Import of legacy student lists: ``families.imports.students_import``, the
``import_students`` command and the staff upload page. Every row is checked with the
admission rules; problems are reported by line; a file is written whole or not at all."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from academy.common.models import NumberSequence
from families.imports import students_import
from families.models import Guardian, StudentGuardian
from notifications.models import Notification
from students.models import Student
from tests.factories.academy import PASSWORD, AcademicYearFactory, GradeLevelFactory, instructor_user, roles_ensure
from tests.factories.families import GuardianFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "first_name,last_name,date_of_birth,gender,location,grade_level,academic_year,status,"
    "guardian_first_name,guardian_last_name,guardian_email,guardian_phone,guardian_relation,"
    "guardian2_first_name,guardian2_last_name,guardian2_email,guardian2_phone,guardian2_type,guardian2_can_pick_up"
)
GOOD = f"""{HEADER}
Emma,Stone,2015-03-01,female,MAIN,Grade 1,2025-26,active,Sarah,Stone,sarah.stone@example.org,555-1000,Mother,,,,,,
Liam,Stone,2017-05-02,male,main,,,,Sarah,Stone,SARAH.STONE@example.org,555-1000,Mother,Tom,Stone,tom@example.org,555-1001,emergency,no
Noah,Known,2016-01-20,,MAIN,,,inactive,,,known@example.org,,Father,,,,,,
"""
# line 2 is fine; line 3 has a bad date; line 4 has everything wrong at once
BAD = f"""{HEADER}
Ava,Good,2015-03-01,female,MAIN,,,,Ann,Good,ann.good@example.org,555-2000,,,,,,,
Ben,Bad,2015-13-01,male,MAIN,,,,Bob,Bad,bob.bad@example.org,555-2001,,,,,,,
,Worse,2015-01-01,robot,NOWHERE,Grade 99,,zombie,Wendy,,not-an-email,,,,,,,secondary,maybe
"""


@pytest.fixture
def job_files(settings, tmp_path):
    settings.JOB_FILES_ROOT = tmp_path / "jobs"
    return settings.JOB_FILES_ROOT


@pytest.fixture(autouse=True)
def academy(db, location):
    roles_ensure()
    GradeLevelFactory(name="Grade 1", order=1)
    AcademicYearFactory(name="2025-26")
    GuardianFactory(first_name="Ken", last_name="Known", email="Known@Example.org")


def upload(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def counts() -> dict:
    return {
        "students": Student.all_objects.count(),
        "guardians": Guardian.objects.count(),
        "links": StudentGuardian.objects.count(),
        "history": Student.history.count() + Guardian.history.count() + StudentGuardian.history.count(),
        "numbers": list(NumberSequence.objects.order_by("key").values_list("key", "last_value")),
        "notifications": Notification.objects.count(),
    }


# --- the import itself ------------------------------------------------------------------


def test_a_good_file_admits_every_student_with_their_guardians(office):
    report = students_import(file=upload(GOOD), actor=office, dry_run=False)
    assert report.problems == [] and report.written and report.rows == 3
    emma, liam = (Student.objects.get(first_name=name) for name in ("Emma", "Liam"))
    assert emma.grade_level.name == "Grade 1" and emma.academic_year.name == "2025-26"
    assert emma.gender == "female" and emma.student_number.startswith("STU-")
    # siblings share the guardian created by the first row (e-mail matched in any case)
    sarah = Guardian.objects.get(email="sarah.stone@example.org")
    assert {link.student_id for link in sarah.student_links.all()} == {emma.pk, liam.pk}
    primary = emma.guardian_links.get()
    assert primary.relationship_type == "primary" and primary.can_authorize_medical and primary.relation == "Mother"
    tom_link = liam.guardian_links.get(guardian__email="tom@example.org")
    assert tom_link.relationship_type == "emergency" and tom_link.can_pick_up is False
    # an existing guardian is linked, not created again
    noah = Student.objects.get(first_name="Noah")
    assert noah.status == "inactive"
    assert noah.guardian_links.get().guardian.first_name == "Ken"
    assert Guardian.objects.filter(email__iexact="known@example.org").count() == 1
    # the history records who admitted them; no admission messages for legacy data
    assert emma.history.earliest().history_user == office
    assert Notification.objects.count() == 0
    assert [row.line for row in report.admitted] == [2, 3, 4]
    assert "(existing)" in report.admitted[2].guardians[0]


def test_bad_rows_are_reported_by_line_and_nothing_is_written(office):
    before = counts()
    report = students_import(file=upload(BAD), actor=office, dry_run=False)
    assert not report.ok and not report.written
    assert counts() == before  # not even the good row, and no number was used
    by_line: dict[int, dict[str, str]] = {}
    for problem in report.problems:
        by_line.setdefault(problem.line, {})[problem.column] = problem.message
    assert set(by_line) == {3, 4}
    assert "invalid date" in by_line[3]["date_of_birth"]
    # every problem of a row at once, named by the file's columns
    assert set(by_line[4]) >= {
        "first_name",
        "gender",
        "location",
        "grade_level",
        "status",
        "guardian_last_name",
        "guardian_email",
        "guardian_phone",
        "guardian2_can_pick_up",
    }
    assert "NOWHERE" in by_line[4]["location"]
    assert report.summary.endswith("nothing was written.")


def test_a_dry_run_checks_everything_and_writes_nothing(office):
    before = counts()
    report = students_import(file=upload(GOOD), actor=office, dry_run=True)
    assert report.ok and not report.written and len(report.admitted) == 3
    assert report.summary.startswith("Dry run")
    assert counts() == before
    bad = students_import(file=upload(BAD), actor=office, dry_run=True)
    assert {problem.line for problem in bad.problems} == {3, 4}
    assert counts() == before


def test_duplicates_within_the_file_and_against_the_database_are_refused(office):
    students_import(file=upload(GOOD), actor=office, dry_run=False)
    before = counts()
    again = students_import(file=upload(GOOD), actor=office, dry_run=False)
    assert {problem.line for problem in again.problems} == {2, 3, 4}
    assert "same name and date of birth" in again.problems[0].message
    assert counts() == before
    twice = HEADER + "\n" + "Zoe,Twin,2015-03-01,,MAIN,,,,Zed,Twin,zed@example.org,555,,,,,,,\n" * 2
    report = students_import(file=upload(twice), actor=office, dry_run=True)
    assert [problem.line for problem in report.problems] == [3]


def test_the_same_email_twice_in_one_row_is_reported(office):
    text = HEADER + "\nAl,One,2015-03-01,,MAIN,,,,Pat,One,pat@example.org,555,,Pat,One,pat@example.org,555,,\n"
    report = students_import(file=upload(text), actor=office, dry_run=False)
    assert report.problems and {problem.line for problem in report.problems} == {2}
    assert not Student.objects.filter(last_name="One").exists()


def test_header_problems_stop_before_any_row(office):
    report = students_import(file=upload("first_name,surname\nA,B\n"), actor=office, dry_run=False)
    messages = " ".join(problem.message for problem in report.problems)
    assert {problem.line for problem in report.problems} == {1}
    assert "Unknown column(s): surname" in messages
    assert "Missing required column(s): last_name, date_of_birth, location, guardian_email" in messages
    assert students_import(file=upload(""), actor=office, dry_run=True).problems[0].column == "header"


def test_a_file_that_is_not_utf8_is_reported(office):
    report = students_import(file=io.BytesIO("first_name\nJosé\n".encode("latin-1")), actor=office, dry_run=True)
    assert not report.ok and "UTF-8" in report.problems[0].message


def test_a_quoted_value_over_several_lines_keeps_line_numbers_right(office):
    text = (
        "first_name,last_name,date_of_birth,location,guardian_email,guardian_first_name,guardian_last_name,"
        "guardian_phone,medical_conditions\n"
        'Ivy,Long,2015-03-01,MAIN,ivy@example.org,I,Long,555,"asthma\nand hay fever"\n'
        "Jon,Bad,not-a-date,MAIN,jon@example.org,J,Bad,555,\n"
    )
    report = students_import(file=upload(text), actor=office, dry_run=True)
    assert [(problem.line, problem.column) for problem in report.problems] == [(4, "date_of_birth")]


def test_location_limited_staff_import_only_into_their_locations(other_office):
    report = students_import(file=upload(GOOD), actor=other_office, dry_run=True)
    assert {problem.column for problem in report.problems} == {"location"}


# --- the command ----------------------------------------------------------------------------


def test_command_dry_run_and_import(tmp_path):
    path = tmp_path / "students.csv"
    path.write_text(GOOD, encoding="utf-8")
    out = io.StringIO()
    call_command("import_students", str(path), "--dry-run", stdout=out)
    assert "Dry run" in out.getvalue() and not Student.objects.filter(last_name="Stone").exists()
    call_command("import_students", str(path), stdout=out)
    assert Student.objects.filter(last_name="Stone").count() == 2


def test_command_reports_problems_by_line_and_fails(tmp_path):
    path = tmp_path / "students.csv"
    path.write_text(BAD, encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_students", str(path), stderr=err)
    assert "line 3: date_of_birth:" in err.getvalue()
    assert "line 4: location:" in err.getvalue()
    assert not Student.objects.filter(last_name="Good").exists()
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_students", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="No active user"):
        call_command("import_students", str(path), "--actor", "nobody")


# --- the staff upload page ------------------------------------------------------------------

URL = "/staff/students/import/"


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def post_file(client, text: str, *, dry_run: bool):
    data = {"file": SimpleUploadedFile("students.csv", text.encode("utf-8"), content_type="text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(URL, data)


def test_the_page_is_mounted_under_its_name():
    assert reverse("staff:student-import") == URL


def test_office_staff_can_open_the_page(office):
    response = logged_in(office).get(URL)
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content and b"guardian_email" in response.content


def test_a_dry_run_upload_shows_the_report_and_writes_nothing(office, job_files, django_capture_on_commit_callbacks):
    before = counts()
    client = logged_in(office)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, BAD, dry_run=True)
    assert response.status_code == 302 and response["Location"].startswith("/staff/jobs/")
    html = client.get(response["Location"]).content.decode()
    assert 'data-testid="job-errors"' in html and "NOWHERE" in html and "invalid date" in html
    assert "line 4: location" in html
    assert counts() == before


def test_an_upload_without_dry_run_imports_the_file(office, job_files, django_capture_on_commit_callbacks):
    client = logged_in(office)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, GOOD, dry_run=False)
    assert response.status_code == 302
    assert "Admitted 3 students." in client.get(response["Location"]).content.decode()
    assert Student.objects.filter(last_name="Stone").count() == 2


def test_an_upload_without_a_file_is_a_form_error(office):
    before = counts()
    response = logged_in(office).post(URL, {"dry_run": "on"})
    assert response.status_code == 200 and b"field-error" in response.content
    assert counts() == before


def test_parents_are_sent_to_their_portal_and_anonymous_users_to_the_login(family):
    guardian, _ = family
    response = logged_in(guardian.portal_user).get(URL)
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    anonymous = Client().get(URL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("staff:login"))
    before = counts()
    assert post_file(Client(), GOOD, dry_run=False).status_code == 302
    assert counts() == before


def test_staff_without_the_add_student_permission_get_403(db):
    teacher = instructor_user(username="teacher")
    assert logged_in(teacher).get(URL).status_code == 403
    before = counts()
    assert post_file(logged_in(teacher), GOOD, dry_run=False).status_code == 403
    assert counts() == before


def test_csrf_is_enforced(office):
    client = Client(enforce_csrf_checks=True)
    client.login(username=office.username, password=PASSWORD)
    before = counts()
    response = post_file(client, GOOD, dry_run=False)
    assert response.status_code == 403
    assert counts() == before
