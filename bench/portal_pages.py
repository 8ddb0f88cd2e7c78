"""Benchmark of the pages people open most: the staff student list (with and without a
search, and its CSV export) and the parent dashboard, through the whole Django stack.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench DEBUG=1 \\
        .venv/bin/python bench/portal_pages.py [--runs 30]

Run ``bench/students_list.py`` first: it builds the students (100,000 by default) and
the ``bench-office`` login this script uses. This script adds one parent login
(``bench-parent``) for the guardian of the first family. It prints, per page, the
median and 95th-percentile server time over ``--runs`` requests (after two warm-up
requests) and the number of queries of one request. The CSV export is timed for the
whole download of every visible student. See bench/README.md.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.config.settings")
os.environ.setdefault("HTTPS", "0")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

BENCH_OFFICE = "bench-office"
BENCH_PARENT = "bench-parent"


def parent_login():
    """A portal login for the guardian of the first bench family (made once)."""
    from django.contrib.auth.models import Group

    from academy.models import User
    from academy.roles import PARENT
    from families.models import Guardian

    user = User.objects.filter(username=BENCH_PARENT).first()
    if user is None:
        guardian = Guardian.objects.filter(portal_user__isnull=True).order_by("guardian_number").first()
        with transaction.atomic():
            user = User.objects.create_user(username=BENCH_PARENT, email=guardian.email)
            user.groups.add(Group.objects.get(name=PARENT))
            Guardian.objects.filter(pk=guardian.pk).update(portal_user=user)
    return user


def measure(client: Client, path: str, params: dict, runs: int, *, stream: bool = False) -> tuple:
    def call():
        response = client.get(path, params)
        assert response.status_code == 200, (path, response.status_code)
        if stream:
            return sum(len(chunk) for chunk in response.streaming_content)
        return len(response.content)

    call(), call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        size = call()
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        call()
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(queries), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    args = parser.parse_args()

    from academy.models import User
    from students.models import Student

    office = User.objects.filter(username=BENCH_OFFICE).first()
    if office is None:
        print("no bench-office login: run bench/students_list.py first")
        return 1
    staff, parent = Client(), Client()
    staff.force_login(office)
    parent.force_login(parent_login())
    print(f"students in the database: {Student.objects.count():,}; {args.runs} requests per figure\n")
    print(f"  {'page':<44}{'median ms':>10}{'p95 ms':>9}{'queries':>9}{'bytes':>12}")
    pages = [
        ("staff dashboard", staff, "/staff/", {}, False),
        ("staff student list, page 1", staff, "/staff/students/", {}, False),
        ("staff student list, page 40", staff, "/staff/students/", {"page": 40}, False),
        ("staff student list, search 'garc'", staff, "/staff/students/", {"search": "garc"}, False),
        ("staff student list, search '2025-1234'", staff, "/staff/students/", {"search": "2025-1234"}, False),
        ("staff list, search as you type (htmx)", staff, "/staff/students/", {"search": "garc", "_hx": 1}, False),
        ("parent dashboard", parent, "/portal/", {}, False),
    ]
    for label, client, path, params, stream in pages:
        if params.pop("_hx", None):
            client.defaults["HTTP_HX_REQUEST"] = "true"
        median, p95, queries, size = measure(client, path, params, args.runs, stream=stream)
        client.defaults.pop("HTTP_HX_REQUEST", None)
        print(f"  {label:<44}{median:>10.1f}{p95:>9.1f}{queries:>9}{size:>12,}")
    median, p95, queries, size = measure(staff, "/staff/students/export.csv", {}, max(3, args.runs // 10), stream=True)
    print(f"  {'CSV export of every student (streamed)':<44}{median:>10.1f}{p95:>9.1f}{queries:>9}{size:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
