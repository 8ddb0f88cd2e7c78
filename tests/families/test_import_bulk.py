"""The student import in bulk: rows checked in chunks at a fixed number of queries,
admitted in one transaction (all or nothing), run from the staff page as a job with
progress and a line-by-line report."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from academy.common.models import NumberSequence
from academy.jobs import job_run
from academy.models import Job
from families.imports import students_import
from families.jobs import STUDENT_IMPORT
from families.models import Guardian, StudentGuardian
from students.models import Student
from tests.factories.academy import (
    PASSWORD,
    AcademicYearFactory,
    GradeLevelFactory,
    finance_user,
    instructor_user,
    roles_ensure,
)
from tests.factories.academy import admin_user as make_admin
from tests.factories.families import GuardianFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "first_name,last_name,date_of_birth,location,grade_level,academic_year,email,"
    "guardian_first_name,guardian_last_name,guardian_email,guardian_phone,"
    "guardian2_first_name,guardian2_last_name,guardian2_email,guardian2_phone"
)
URL = "/staff/students/import/"


@pytest.fixture(autouse=True)
def academy(db, location, settings, tmp_path):
    settings.JOB_FILES_ROOT = tmp_path / "jobs"
    roles_ensure()
    GradeLevelFactory(name="Grade 1", order=1)
    AcademicYearFactory(name="2025-26")
    GuardianFactory(first_name="Ken", last_name="Known", email="known@example.org")


def rows(count: int, *, bad_line: int | None = None) -> str:
    """``count`` good rows (every third family shares a guardian with the row before,
    every fourth links the known guardian as second guardian); ``bad_line``'s date of
    birth is not a date."""
    out = [HEADER]
    for index in range(count):
        line = index + 2
        born = "2015-13-01" if line == bad_line else f"20{10 + index % 8}-0{1 + index % 9}-1{index % 9}"
        family = index - 1 if index % 3 == 2 else index
        second = "Ken,Known,KNOWN@example.org,555-9" if index % 4 == 0 else ",,,"
        out.append(
            f"Kid{index},Family{family},{born},MAIN,Grade 1,2025-26,kid{index}@example.org,"
            f"Pat{family},Family{family},pat{family}@example.org,555-{family},{second}"
        )
    return "\n".join(out) + "\n"


def upload(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def counts() -> dict:
    return {
        "students": Student.all_objects.count(),
        "guardians": Guardian.objects.count(),
        "links": StudentGuardian.objects.count(),
        "history": Student.history.count() + Guardian.history.count() + StudentGuardian.history.count(),
        "numbers": list(NumberSequence.objects.order_by("key").values_list("key", "last_value")),
    }


def queries_of(callable_) -> int:
    with CaptureQueriesContext(connection) as captured:
        callable_()
    return len(captured.captured_queries)


# --- checking and admitting in bulk ---------------------------------------------------------


def test_checking_a_chunk_takes_the_same_queries_for_20_and_300_rows(office, django_assert_max_num_queries):
    # given files of 20 and 300 rows (one chunk each)
    small = queries_of(lambda: students_import(file=upload(rows(20)), actor=office, dry_run=True))
    # then the larger one takes no more queries than the small one
    with django_assert_max_num_queries(small):
        report = students_import(file=upload(rows(300)), actor=office, dry_run=True)
    assert report.ok and len(report.admitted) == 300 and small <= 12
    # and every further chunk costs the same few queries
    two_chunks = queries_of(lambda: students_import(file=upload(rows(300)), actor=office, dry_run=True, chunk_size=150))
    assert two_chunks - small <= 3


def test_admitting_takes_the_same_queries_for_5_and_20_rows(office, django_assert_max_num_queries):
    # (20 rows fit in one INSERT per table on SQLite too, whose statements take at most 999 values)
    small = queries_of(lambda: students_import(file=upload(rows(5)), actor=office, dry_run=False))
    Student.all_objects.all().delete()
    with django_assert_max_num_queries(small):
        report = students_import(file=upload(rows(20).replace("Kid", "Child")), actor=office, dry_run=False)
    assert report.written and len(report.admitted) == 20


def test_a_file_is_admitted_with_guardians_links_numbers_and_history(office):
    before = Student.all_objects.count()
    report = students_import(file=upload(rows(12)), actor=office, dry_run=False)
    assert report.written and Student.all_objects.count() == before + 12
    # numbers from the gapless series, in line order
    numbers = [row.student_number for row in report.admitted]
    assert [int(number.rsplit("-", 1)[1]) for number in numbers] == list(range(1, 13))
    # brothers and sisters share the guardian the first of them created; the known one is linked
    kid2 = Student.objects.get(first_name="Kid2")
    kid1 = Student.objects.get(first_name="Kid1")
    assert kid2.guardian_links.get(relationship_type="primary").guardian == kid1.guardian_links.get().guardian
    kid0 = Student.objects.get(first_name="Kid0")
    known = kid0.guardian_links.get(relationship_type="secondary")
    assert (
        known.guardian.first_name == "Ken" and Guardian.objects.filter(email__iexact="known@example.org").count() == 1
    )
    primary = kid0.guardian_links.get(relationship_type="primary")
    assert primary.can_authorize_medical and primary.is_financially_responsible
    # every row has its history, with who and why
    assert kid0.history.get().history_user == office and kid0.history.get().history_change_reason == "Admitted"
    assert primary.guardian.history.get().history_change_reason == "Created"
    assert primary.history.get().history_change_reason == "Linked as primary"
    assert StudentGuardian.history.filter(history_user=office).count() == StudentGuardian.objects.count()


def test_one_bad_row_in_1000_writes_nothing_and_the_report_names_its_line(office):
    before = counts()
    report = students_import(file=upload(rows(1000, bad_line=777)), actor=office, dry_run=False)
    assert not report.written
    assert [(problem.line, problem.column) for problem in report.problems] == [(777, "date_of_birth")]
    assert "line 777: date_of_birth:" in report.as_text()
    assert counts() == before  # not a student, a guardian, a link, a history row or a number


def test_duplicates_across_chunks_are_found(office):
    text = rows(4) + "Kid0,Family0,2010-01-10,MAIN,,,,Pat0,Family0,pat0@example.org,555-0,,,,\n"
    report = students_import(file=upload(text), actor=office, dry_run=True, chunk_size=2)
    assert [(problem.line, problem.message) for problem in report.problems] == [
        (6, "Line 2 of this file has the same name, date of birth and location.")
    ]


def test_progress_is_reported_after_every_chunk(office):
    seen = []
    students_import(
        file=upload(rows(25)), actor=office, dry_run=True, chunk_size=10, progress=lambda done, _: seen.append(done)
    )
    assert seen == [0, 10, 20, 25]


# --- the job ------------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def post_file(client, text: str, *, dry_run: bool = False):
    data = {"file": SimpleUploadedFile("students.csv", text.encode("utf-8"), content_type="text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(URL, data)


def test_the_upload_answers_with_the_job_which_admits_the_file_and_offers_the_report(
    office, django_capture_on_commit_callbacks
):
    client = logged_in(office)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, rows(30))
    job = Job.objects.get(kind=STUDENT_IMPORT)
    assert response.status_code == 302 and response["Location"] == f"/staff/jobs/{job.pk}/"
    assert job.state == Job.State.COMPLETED and job.done == job.total == 30 and job.failed_count == 0
    assert job.message == "Admitted 30 students." and job.created_by == office
    assert Student.objects.filter(first_name__startswith="Kid").count() == 30
    # the upload is gone; the report is downloadable, line by line
    assert not (job_folder_path(job) / "upload.csv").exists()
    download = client.get(f"/staff/jobs/{job.pk}/download/")
    report = b"".join(download.streaming_content).decode()
    assert report.startswith("Admitted 30 students.") and "line 31: STU-" in report


def job_folder_path(job):
    from academy.jobs import job_folder

    return job_folder(job, create=False)


def test_a_job_with_problems_lists_them_by_line_and_writes_nothing(office, django_capture_on_commit_callbacks):
    before = counts()
    client = logged_in(office)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, rows(40, bad_line=9))
    job = Job.objects.get(kind=STUDENT_IMPORT)
    assert job.state == Job.State.COMPLETED and job.failed_count == 1
    assert job.errors == [
        {
            "item": "line 9: date_of_birth",
            "message": "“2015-13-01” value has the correct format (YYYY-MM-DD) but it is an invalid date.",
        }
    ]
    assert "nothing was written" in job.message
    assert "line 9: date_of_birth" in client.get(response["Location"]).content.decode()
    assert counts() == before


def test_a_dry_run_job_checks_and_writes_nothing(office, django_capture_on_commit_callbacks):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        post_file(logged_in(office), rows(10), dry_run=True)
    job = Job.objects.get(kind=STUDENT_IMPORT)
    assert job.state == Job.State.COMPLETED and job.message.startswith("Dry run: all 10 rows are valid")
    assert counts() == before


def test_a_job_run_again_after_its_commit_admits_nobody_twice(office, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_file(logged_in(office), rows(6))
    job = Job.objects.get(kind=STUDENT_IMPORT)
    before = counts()
    # given the run was cut off after its transaction committed (the job shows interrupted)
    Job.objects.filter(pk=job.pk).update(state=Job.State.INTERRUPTED)
    assert job_run(job.pk) == Job.State.COMPLETED
    job.refresh_from_db()
    assert job.message == "Admitted 6 students." and counts() == before


# --- who may import (unchanged: students.add_student) ------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 302),
        ("parent", 302),
        ("instructor", 403),
        ("finance", 403),
        ("office", 200),
        ("other_office", 200),
        ("admin", 200),
    ],
)
def test_permission_matrix_of_the_upload_page(
    who, expected, office, other_office, family, django_capture_on_commit_callbacks
):
    users = {
        "parent": family[0].portal_user,
        "instructor": instructor_user(username="teacher"),
        "finance": finance_user(username="finance"),
        "office": office,
        "other_office": other_office,
        "admin": make_admin(username="boss"),
    }
    client = Client() if who == "anonymous" else logged_in(users[who])
    assert client.get(URL).status_code == expected
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, rows(3))
    if expected != 200:
        assert response.status_code == expected and counts() == before
        assert not Job.objects.exists()
        return
    assert response.status_code == 302
    job = Job.objects.get()
    if who == "other_office":  # MAIN is not theirs: every row is refused on its location
        assert {error["item"] for error in job.errors} == {"line 2: location", "line 3: location", "line 4: location"}
        assert counts() == before
    else:
        assert job.message == "Admitted 3 students."


def test_the_job_page_is_the_importers_and_their_locations_staff_only(
    office, other_office, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(logged_in(office), rows(2))
    assert logged_in(office).get(response["Location"]).status_code == 200
    assert logged_in(other_office).get(response["Location"]).status_code == 404
    assert logged_in(instructor_user(username="teacher")).get(response["Location"]).status_code == 404
