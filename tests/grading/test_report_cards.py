"""Report cards (grading.report_cards): one student's term as a PDF with the published
and frozen results only (never a draft), GPA, attendance, skill progress and the
instructor's comment; a section, grade level or location as a job making one ZIP with
one PDF per student, an error per student recorded without stopping the others; the
staff pages and who may open them.

The PDF's text is read with pypdf where it is installed; the HTML it is made from is
checked everywhere."""

import io
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from academy import jobs
from academy.common.exceptions import Conflict
from academy.models import Job
from academy.roles import OFFICE_STAFF
from attendance.services import attendance_mark
from enrollment.models import Enrollment
from enrollment.services import enroll
from grading import report_cards, services
from grading.models import Result
from grading.report_cards import report_card_html, report_card_pdf, report_cards_start
from tests.factories.academy import (
    ClassSessionFactory,
    CourseFactory,
    GradeLevelFactory,
    ProgramFactory,
    SectionFactory,
    admin_user,
    finance_user,
    instructor_user,
    parent_user,
    roles_ensure,
    staff_user,
)
from tests.factories.grading import curriculum_with_levels
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db

COMMENT = "Works carefully; keep practising fractions."


@pytest.fixture(autouse=True)
def roles(db):
    roles_ensure()  # a flush by a transactional test elsewhere empties the role groups


@pytest.fixture(autouse=True)
def job_files(settings, tmp_path):
    settings.JOB_FILES_ROOT = tmp_path / "jobs"
    return settings.JOB_FILES_ROOT


def pdf_text(content: bytes) -> str | None:
    """The PDF's text, or ``None`` where pypdf is not installed."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def art_teacher(db):
    return instructor_user(username="art-teacher")


@pytest.fixture
def card(section, students, assessments, cell, teacher, registrar, term, location, art_teacher):
    """Mathematics (``section``, credits 3) published for the four students, with a
    comment for the first; for the first student also Art 5 (credits 1, another
    instructor) published and History 5 still in draft; two Mathematics sessions (present,
    absent) and a skill rating."""
    pupil = students[0]
    pupil.first_name, pupil.last_name = "Ada", "Lovelace"
    pupil.save(update_fields=["first_name", "last_name"])
    quiz, midterm, final = assessments
    cells = []
    for i, student in enumerate(students):
        cells += [cell(quiz, student, 80 + i), cell(midterm, student, 70 + i), cell(final, student, 90 - i)]
    services.gradebook_save(section=section, cells=cells, actor=teacher)
    services.result_update(
        result=Result.objects.get(student=pupil, section=section), actor=teacher, data={"comments": COMMENT}
    )
    services.section_publish(section=section, actor=teacher)

    program = ProgramFactory(code="HUM")
    art = SectionFactory(
        course=CourseFactory(code="ART-5", title="Art 5", program=program, credits=1),
        term=term,
        location=location,
        code="C",
        instructor=art_teacher,
        capacity=10,
    )
    history = SectionFactory(
        course=CourseFactory(code="HIST-5", title="History 5", program=program, credits=2),
        term=term,
        location=location,
        code="B",
        instructor=art_teacher,
        capacity=10,
    )
    for other in (art, history):
        enroll(student=pupil, section=other, actor=registrar)
    art_exam = services.assessment_create(section=art, actor=registrar, type="final", title="Portfolio", weight=100)
    services.gradebook_save(section=art, cells=[cell(art_exam, pupil, 95)], actor=registrar)
    services.section_publish(section=art, actor=registrar)
    essay = services.assessment_create(section=history, actor=registrar, type="final", title="Essay", weight=100)
    services.gradebook_save(section=history, cells=[cell(essay, pupil, 55)], actor=registrar)  # a draft F

    today = timezone.localdate()
    Enrollment.objects.filter(student=pupil, section=section).update(
        start_date=term.start_date, enrollment_date=term.start_date
    )
    for days, status in ((14, "present"), (7, "absent")):
        session = ClassSessionFactory(section=section, date=today - timedelta(days=days))
        attendance_mark(class_session=session, student=pupil, status=status, actor=teacher)

    _curriculum, levels, areas = curriculum_with_levels(section.course, areas=("Fractions", "Geometry"))
    enrollment = Enrollment.objects.get(student=pupil, section=section)
    Enrollment.objects.filter(pk=enrollment.pk).update(current_level=levels[0])
    services.skill_ratings_save(
        section=section,
        ratings=[
            services.RatingInput(
                enrollment_id=enrollment.pk, skill_area_id=areas[0].pk, rating=2, target=3, next_goals=["Long division"]
            )
        ],
        actor=teacher,
    )
    return pupil


# --- one report card ----------------------------------------------------------------------


def test_the_card_has_the_published_results_and_never_a_draft(card, term, section):
    data = report_cards.report_card_data(student=card, term=term)
    assert [line.course.code for line in data.lines] == ["ART-5", "MATH-5"]
    math = data.lines[1]
    assert (math.result.letter_grade, math.result.grade_points, math.result.percentage) == (
        "B",
        Decimal("3.00"),
        Decimal("82.00"),
    )
    assert data.gpa == Decimal("3.25")  # (B 3.00 x 3 credits + A 4.00 x 1) / 4
    assert (data.credits_attempted, data.credits_earned) == (Decimal("4"), Decimal("4"))
    assert data.attendance.percentage == Decimal("50.00") and math.attendance == Decimal("50.00")

    html = report_card_html(student=card, term=term)
    for text in ("Main campus", "Report card", "Ada Lovelace", card.student_number, "MATH-5", "Mathematics 5"):
        assert text in html
    assert "ART-5" in html and "Art 5" in html
    assert COMMENT.replace("'", "&#x27;") in html
    assert "3.25" in html and "82.00 %" in html and "50.00 %" in html
    assert "Fractions" in html and "Geometry" in html and "Long division" in html and "not rated yet" in html
    assert timezone.localdate().strftime("%-d %b %Y") in html  # the issue date
    assert "HIST-5" not in html and "History 5" not in html  # the draft


def test_the_pdf_says_the_same(card, term):
    content = report_card_pdf(student=card, term=term)
    assert content.startswith(b"%PDF") and len(content) > 2000
    text = pdf_text(content)
    if text is None:
        pytest.skip("pypdf is not installed: the HTML test covers the content")
    for expected in ("Main campus", "Ada Lovelace", "MATH-5", "ART-5", "3.25", "82.00", "Fractions", "Long division"):
        assert expected in text, expected
    assert "HIST-5" not in text and "History 5" not in text


def test_a_term_without_published_results_says_so(term, students):
    html = report_card_html(student=students[0], term=term)
    assert "No results have been published for this term yet." in html


def test_an_instructor_sees_only_the_classes_they_teach(card, term, teacher, art_teacher):
    mine = report_cards.report_card_data(student=card, term=term, user=teacher)
    assert [line.course.code for line in mine.lines] == ["MATH-5"]
    theirs = report_cards.report_card_data(student=card, term=term, user=art_teacher)
    assert [line.course.code for line in theirs.lines] == ["ART-5"]
    assert theirs.attendance.total == 0  # the marks are Mathematics'


def test_the_card_reads_a_fixed_number_of_queries(card, term, django_assert_max_num_queries):
    card = type(card).objects.select_related("location", "grade_level").get(pk=card.pk)
    with django_assert_max_num_queries(8):
        report_cards.report_card_data(student=card, term=term)


# --- many report cards as a job -------------------------------------------------------------


def run_batch(capture, **kwargs) -> Job:
    with capture(execute=True):
        job = report_cards_start(**kwargs)
    job.refresh_from_db()
    return job


def zip_names(job: Job) -> list[str]:
    with zipfile.ZipFile(jobs.job_result_file(job)) as bundle:
        return sorted(bundle.namelist())


def test_a_section_makes_one_zip_with_a_pdf_per_student(
    card, term, section, students, registrar, django_capture_on_commit_callbacks
):
    job = run_batch(django_capture_on_commit_callbacks, term=term, section=section, actor=registrar)
    assert (job.kind, job.state, job.total, job.done, job.failed_count) == ("report_cards", "completed", 4, 4, 0)
    assert job.location == section.location and job.message == "4 report cards made."
    names = zip_names(job)
    assert len(names) == 4 and all(name.endswith(".pdf") for name in names)
    assert {name.split("-")[0] + "-" + name.split("-")[1] + "-" + name.split("-")[2] for name in names} == {
        s.student_number for s in students
    }
    with zipfile.ZipFile(jobs.job_result_file(job)) as bundle:
        assert all(bundle.read(name).startswith(b"%PDF") for name in names)
    assert not (jobs.job_folder(job, create=False) / "cards").exists()  # the loose PDFs are gone


def test_one_student_failing_does_not_stop_the_others(
    card, term, section, students, registrar, monkeypatch, django_capture_on_commit_callbacks
):
    real = report_cards.report_card_pdf
    broken = students[2]

    def pdf(*, student, term, user=None):
        if student.pk == broken.pk:
            raise RuntimeError("The printer caught fire.")
        return real(student=student, term=term, user=user)

    monkeypatch.setattr(report_cards, "report_card_pdf", pdf)
    job = run_batch(django_capture_on_commit_callbacks, term=term, section=section, actor=registrar)
    assert (job.state, job.done, job.failed_count) == ("completed", 4, 1)
    assert job.errors == [
        {"item": f"{broken.student_number} {broken.full_name}", "message": "The printer caught fire."}
    ]
    assert len(zip_names(job)) == 3 and job.message == "3 report cards made; 1 failed."


def test_an_interrupted_batch_resumes_without_making_the_cards_again(
    card, term, section, registrar, monkeypatch, django_capture_on_commit_callbacks
):
    # given: the batch made its first two cards, then its process was killed
    made = []
    real = report_cards.report_card_pdf

    def counting(*, student, term, user=None):
        made.append(student.pk)
        return real(student=student, term=term, user=user)

    monkeypatch.setattr(report_cards, "report_card_pdf", counting)
    with django_capture_on_commit_callbacks(execute=False):
        job = report_cards_start(term=term, section=section, actor=registrar)
    students = list(report_cards.report_card_students(term=term, user=registrar, section=section))
    folder = jobs.job_folder(job) / "cards"
    folder.mkdir(parents=True)
    for student in students[:2]:
        (folder / report_cards.report_card_filename(student, term)).write_bytes(real(student=student, term=term))
    Job.objects.filter(pk=job.pk).update(
        state="running", attempts=1, done=2, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):
        jobs.jobs_resume_stale()
    # then: only the two cards left were made, and the ZIP has all four
    job.refresh_from_db()
    assert (job.state, job.attempts, job.done) == ("completed", 2, 4)
    assert made == [s.pk for s in students[2:]]
    assert len(zip_names(job)) == 4


def test_a_grade_level_and_a_location(
    card, term, section, students, registrar, location, other_location, django_capture_on_commit_callbacks
):
    grade = GradeLevelFactory(name="Grade 5", order=5)
    type(card).objects.filter(pk__in=[students[0].pk, students[1].pk]).update(grade_level=grade)
    by_grade = run_batch(django_capture_on_commit_callbacks, term=term, grade_level=grade, actor=registrar)
    assert (by_grade.total, len(zip_names(by_grade))) == (2, 2)
    assert by_grade.location is None
    by_location = run_batch(django_capture_on_commit_callbacks, term=term, location=location, actor=registrar)
    assert (by_location.total, by_location.location) == (4, location)
    with pytest.raises(Conflict) as error:
        report_cards_start(term=term, location=other_location, actor=registrar)
    assert error.value.code == "no_students"


def test_an_instructor_batch_covers_only_the_students_they_teach(card, term, section, art_teacher):
    assert report_cards.report_card_students(term=term, user=art_teacher, section=section).count() == 0
    with pytest.raises(Conflict):
        report_cards_start(term=term, section=section, actor=art_teacher)
    assert Job.objects.count() == 0


def test_bad_choices_are_refused(term, section, registrar, location):
    with pytest.raises(ValidationError) as error:
        report_cards_start(term=term, actor=registrar)
    assert "Choose a section" in str(error.value)
    with pytest.raises(ValidationError) as error:
        report_cards_start(term=term, section=section, location=location, actor=registrar)
    assert "section" in error.value.message_dict
    other_term = SectionFactory(course=section.course, location=location, code="Z").term
    with pytest.raises(ValidationError) as error:
        report_cards_start(term=other_term, section=section, actor=registrar)
    assert error.value.message_dict["section"] == ["The section belongs to another term."]
    assert Job.objects.count() == 0


# --- staff pages ----------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def actors(registrar, teacher, art_teacher, other_location):
    return {
        "admin": admin_user(username="root"),
        "office": registrar,
        "office_other_location": staff_user(OFFICE_STAFF, username="north", locations=[other_location]),
        "finance": finance_user(username="cashier"),
        "instructor": teacher,  # teaches the section
        "instructor_other_section": art_teacher,  # teaches other sections of the term
        "parent": parent_user(username="mum"),
        "anonymous": None,
    }


@pytest.mark.parametrize(
    ("actor", "page", "pdf"),
    [
        ("admin", 200, 200),
        ("office", 200, 200),
        ("office_other_location", 200, 404),
        ("finance", 403, 403),
        ("instructor", 200, 200),
        ("instructor_other_section", 200, 404),
        ("parent", 302, 302),  # to the parent portal
        ("anonymous", 302, 302),  # to the login
    ],
)
def test_who_may_open_the_page_and_a_report_card(card, term, students, actors, actor, page, pdf):
    client = client_for(actors[actor])
    response = client.get(reverse("staff:grading-report-cards"))
    assert response.status_code == page
    if actor == "parent":
        assert response["Location"] == reverse("portal:dashboard")
    # students[1] is only in the Mathematics section
    url = reverse("staff:grading-report-card", kwargs={"term_pk": term.pk, "student_pk": students[1].pk})
    response = client.get(url)
    assert response.status_code == pdf
    if pdf == 200:
        assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
        assert students[1].student_number in response["Content-Disposition"]


def test_the_one_student_form_leads_to_the_pdf_or_says_what_is_wrong(card, term, registrar):
    client = client_for(registrar)
    response = client.get(reverse("staff:grading-report-card-find"), {"student": str(card.pk), "term": str(term.pk)})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "staff:grading-report-card", kwargs={"term_pk": term.pk, "student_pk": card.pk}
    )
    bad = client.get(reverse("staff:grading-report-card-find"), {"student": "nobody", "term": ""})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()


def test_an_unknown_term_or_student_is_404(card, term, registrar):
    client = client_for(registrar)
    url = reverse("staff:grading-report-card", kwargs={"term_pk": card.pk, "student_pk": card.pk})
    assert client.get(url).status_code == 404
    url = reverse("staff:grading-report-card", kwargs={"term_pk": term.pk, "student_pk": term.pk})
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("admin", 302),
        ("office", 302),
        ("office_other_location", 400),  # the section is not theirs: a form error
        ("finance", 403),
        ("instructor", 302),
        ("instructor_other_section", 400),
        ("parent", 302),
        ("anonymous", 302),
    ],
)
def test_who_may_start_a_batch(
    card, term, section, actors, actor, status, job_files, django_capture_on_commit_callbacks
):
    client = client_for(actors[actor])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("staff:grading-report-card-batch"),
            {"term": str(term.pk), "scope": "section", "section": str(section.pk)},
        )
    assert response.status_code == status
    started = Job.objects.filter(created_by=actors[actor]) if actors[actor] else Job.objects.none()
    if actor in ("admin", "office", "instructor"):
        job = started.get()
        assert response["Location"] == reverse("staff:job-detail", args=[job.pk])
        assert job.state == "completed" and len(zip_names(job)) == 4
        page = client.get(response["Location"]).content.decode()
        assert "Report cards" in page and reverse("staff:job-download", args=[job.pk]) in page
        download = client.get(reverse("staff:job-download", args=[job.pk]))
        assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    else:
        assert Job.objects.count() == 0


def test_the_batch_form_reports_bad_input(card, term, section, registrar):
    client = client_for(registrar)
    url = reverse("staff:grading-report-card-batch")
    missing = client.post(url, {"term": str(term.pk), "scope": "section"})
    assert missing.status_code == 400 and "Choose the section." in missing.content.decode()
    nonsense = client.post(url, {"term": "x", "scope": "everything"})
    assert nonsense.status_code == 400
    empty = client.post(url, {"term": str(term.pk), "scope": "grade_level", "grade_level": str(GradeLevelFactory().pk)})
    assert empty.status_code == 400 and "Nobody in this choice" in empty.content.decode()
    assert Job.objects.count() == 0


def test_another_instructor_cannot_open_the_batch_of_a_colleague(
    card, term, section, registrar, art_teacher, django_capture_on_commit_callbacks
):
    job = run_batch(django_capture_on_commit_callbacks, term=term, section=section, actor=registrar)
    client = client_for(art_teacher)
    assert client.get(reverse("staff:job-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("staff:job-download", args=[job.pk])).status_code == 404


def test_the_page_lists_the_latest_batches_at_a_fixed_query_count(
    card, term, section, registrar, location, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    client = client_for(registrar)
    run_batch(django_capture_on_commit_callbacks, term=term, section=section, actor=registrar)
    client.get(reverse("staff:grading-report-cards"))  # warm the caches
    with django_assert_max_num_queries(14) as few:
        client.get(reverse("staff:grading-report-cards"))
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=False):
            report_cards_start(term=term, location=location, actor=registrar)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("staff:grading-report-cards"))
    assert page.content.decode().count(reverse("staff:job-detail", args=[Job.objects.first().pk])) == 1


def test_the_nav_links_the_page(registrar, teacher):
    for user in (registrar, teacher):
        page = client_for(user).get(reverse("staff:grading-report-cards")).content.decode()
        assert f'href="{reverse("staff:grading-report-cards")}" aria-current="page">Report cards' in page
    page = client_for(finance_user(username="cashier")).get(reverse("staff:dashboard")).content.decode()
    assert ">Report cards<" not in page
