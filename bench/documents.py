"""Benchmark of documents: a transcript of a student with 40 results, 1,000 transcripts
through the job, and the public verification page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench_documents DEBUG=1 \\
        .venv/bin/python bench/documents.py --students 1000

Builds (once) what ``bench/grading_report_cards.py`` builds: ``--students`` students at
the location BENCH-A, each with four published results in the term "Bench report cards",
attendance marks and skill ratings. One student then gets nine more terms of the same
four courses (``Bench transcript 1`` to ``9``): 40 published results.

Then it prints:

- **one transcript** of the student with 40 results: ``grading.documents.document_content``
  (queries counted) and ``document_pdf`` (WeasyPrint), median and slowest of ``--runs``
  runs after a warm-up; target under 1 s for the whole;
- **the job**: ``grading.document_services.transcripts_start`` for the term's students, run through the
  Celery task (``academy.run_job``, eagerly, inline: what a worker runs) while a second
  thread reads the job's row every few seconds and prints the live progress figure (what
  the progress page shows); then the whole time, transcripts per second, the ZIP, and
  the job's state; target: every transcript made, none failed;
- **the verify page**: ``/verify/<token>/`` through the Django test client, ``--requests``
  times: the queries of one request (the same for every document) and the median and p95
  time; target p95 under 50 ms.

The job's files go to a temporary ``JOB_FILES_ROOT``, removed at the end. See
bench/README.md for the other scripts.
"""

import argparse
import datetime
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grading_report_cards as cards  # sets up Django (students_list)
import students_list as base
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, reset_queries, transaction
from django.test.utils import CaptureQueriesContext

EXTRA_TERMS = 9


def student_with_forty(location, courses, user):
    """The first student of BENCH-A with 36 more published results (nine more terms)."""
    from academy.models import AcademicYear, Section, Term
    from enrollment.models import Enrollment
    from grading.models import GradeScale, Result
    from students.models import Student

    _location, term, *_rest = cards.reference()
    enrolled = Enrollment.objects.filter(term=term, section__location=location).values("student_id")
    student = Student.all_objects.filter(pk__in=enrolled).order_by("student_number").first()
    if Result.objects.filter(student=student).count() >= 40:
        return student
    scale = GradeScale.objects.get(is_default=True)
    year = AcademicYear.objects.order_by("start_date").first()
    now = datetime.datetime.now(tz=datetime.UTC)
    with transaction.atomic():
        for number in range(1, EXTRA_TERMS + 1):
            start = datetime.date(2015 + number, 1, 10)
            extra = Term.objects.create(
                academic_year=year,
                name=f"Bench transcript {number}",
                start_date=start,
                end_date=start + datetime.timedelta(days=120),
            )
            for index, course in enumerate(courses):
                section = Section.objects.create(
                    id=uuid.uuid4(),
                    course=course,
                    term=extra,
                    location=location,
                    code=f"T{number:02d}",
                    capacity=25,
                    instructor=user,
                )
                Enrollment.objects.create(
                    student=student,
                    section=section,
                    term=extra,
                    status="completed",
                    enrollment_date=start,
                    start_date=start,
                    end_date=start + datetime.timedelta(days=120),
                )
                letter, percentage, points = cards.LETTERS[(number + index) % len(cards.LETTERS)]
                Result.objects.create(
                    student=student,
                    section=section,
                    scale=scale,
                    percentage=percentage,
                    letter_grade=letter,
                    grade_points=points,
                    passed=True,
                    state="published",
                    published_at=now,
                    published_by=user,
                )
    return student


def time_one_transcript(student, runs: int) -> bool:
    from grading import document_services, documents
    from grading.models import Result

    results = Result.objects.filter(student=student, state__in=["published", "frozen"]).count()
    with transaction.atomic():
        document = document_services.issue_document(student=student, type="transcript", actor=None)
    documents.document_pdf(document)  # warm-up
    totals, datas, renders = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            documents.document_content(student, type="transcript")
        built = time.perf_counter()
        content = documents.document_pdf(document)
        done = time.perf_counter()
        datas.append((built - started) * 1000)
        renders.append((done - built) * 1000)
        totals.append((done - started) * 1000)
    median = statistics.median(totals)
    print(f"\none transcript ({student.student_number}, {results} published results, {connection.vendor}):")
    print(f"  whole          median {median:7.1f} ms   slowest {max(totals):7.1f} ms   {len(content):,} bytes")
    print(f"  content        median {statistics.median(datas):7.1f} ms   {len(queries.captured_queries)} queries")
    print(f"  PDF            median {statistics.median(renders):7.1f} ms")
    print(f"  target under 1 s: {'met' if median < 1000 else 'MISSED'}")
    return median < 1000


class ProgressReader(threading.Thread):
    """Reads the job's row every ``every`` seconds on its own connection and prints the
    progress figure, as the progress page would show it."""

    def __init__(self, every: float = 15.0):
        super().__init__(daemon=True)
        self.every = every
        self.stopped = threading.Event()
        self.readings = 0

    def run(self) -> None:
        from academy.models import Job

        try:
            while not self.stopped.wait(self.every):
                job = Job.objects.filter(kind="transcripts").order_by("-created_at").first()
                if job is not None and job.state == "running":
                    self.readings += 1
                    print(f"  progress: {job.done:,} of {job.total:,} ({job.percent}%), {job.failed_count} failed")
        finally:
            connections.close_all()


def time_the_job(location, user, students: list) -> bool:
    from academy.config.celery import app
    from academy.jobs import job_result_file
    from academy.models import Job
    from grading.document_services import transcripts_start

    app.conf.task_always_eager = True
    settings.BACKGROUND_TASKS_IN_THREAD = False
    reader = ProgressReader()
    expected = len(students)
    print(f"\nthe job: transcripts of {location.name}'s term ({expected:,} students with published results)")
    reader.start()
    started = time.perf_counter()
    job = transcripts_start(actor=user, students=students)
    elapsed = time.perf_counter() - started
    reader.stopped.set()
    reader.join()
    job = Job.objects.get(pk=job.pk)
    path = job_result_file(job)
    pdfs = len(zipfile.ZipFile(path).namelist()) if path else 0
    print(
        f"  state {job.state}, done {job.done:,} of {job.total:,}, failed {job.failed_count}, attempts {job.attempts}"
    )
    print(
        f"  whole job      {elapsed:7.1f} s   {job.total / elapsed:6.1f} transcripts/s"
        f"   {elapsed / job.total * 1000:.0f} ms each   ({reader.readings} progress readings while it ran)"
    )
    if path:
        print(f"  ZIP            {pdfs:,} PDFs, {path.stat().st_size / 1e6:.1f} MB ({job.result_name})")
    ok = job.state == Job.State.COMPLETED and pdfs == expected and job.failed_count == 0
    print(f"  target: {expected:,} transcripts, none failed: {'met' if ok else 'MISSED'}")
    return ok


def time_the_verify_page(student, requests: int) -> bool:
    from django.test import Client

    from grading import documents
    from grading.models import IssuedDocument

    settings.VERIFY_RATE = requests * 10
    settings.ALLOWED_HOSTS = ["*"]
    document = IssuedDocument.objects.filter(student=student).order_by("-issued_at").first()
    url = f"/verify/{documents.document_token(document)}/"
    client = Client()
    for _ in range(5):
        assert client.get(url).status_code == 200
    # the request resets the connection's query log (DEBUG keeps one): start it empty
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    others = IssuedDocument.objects.exclude(pk=document.pk).order_by("-issued_at")[:1]
    other_count = None
    if others:
        reset_queries()
        with CaptureQueriesContext(connection) as other:
            client.get(f"/verify/{documents.document_token(others[0])}/")
        other_count = len(other.captured_queries)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"\nthe verify page ({requests} requests through the Django test client):")
    print(
        f"  {len(queries.captured_queries)} queries (another document: {other_count}),"
        f" median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms"
    )
    ok = p95 < 50 and (other_count is None or other_count == len(queries.captured_queries))
    print(f"  target p95 under 50 ms at a fixed query count: {'met' if ok else 'MISSED'}")
    return ok


def main() -> int:
    from academy.models import Location
    from enrollment.models import Enrollment
    from students.models import Student

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--no-job", action="store_true", help="skip the 1,000 transcripts")
    args = parser.parse_args()

    base.ensure_database()
    call_command("migrate", verbosity=0)
    cards.build(args.students)
    location, term, courses, _level, _areas, user = cards.reference()
    location = Location.objects.get(pk=location.pk)
    student = student_with_forty(location, courses, user)
    ok = time_one_transcript(student, args.runs)
    ok &= time_the_verify_page(student, args.requests)
    if not args.no_job:
        enrolled = Enrollment.objects.filter(term=term, section__location=location).values("student_id")
        students = list(Student.all_objects.filter(pk__in=enrolled))
        with tempfile.TemporaryDirectory(prefix="bench-documents-") as folder:
            settings.JOB_FILES_ROOT = Path(folder)
            ok &= time_the_job(location, user, students)
    print("\nresult:", "every target met" if ok else "TARGET MISSED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
