"""The whole production shape under load: gunicorn, a Celery worker, PostgreSQL and
Redis, driven by locust (``bench/locustfile.py``) on loopback.

    .venv/bin/python bench/load.py [--users 50] [--parents 15] [--clerks 8] [--minutes 5] [--students 3000]

Uses a database of its own (``--database-url``, default
``postgres://postgres@127.0.0.1:5432/academy_load``; created when PostgreSQL says it
does not exist) and Redis database 11 (``--redis-url``; flushed before the servers
start). It migrates, loads the dev demo (``seed --env dev``: sections, sessions,
attendance, results, a year of money), adds ``--students`` active students at one more
location with two billed months each (``bench/billing.py``'s builders), and the logins
the simulated people use: office and finance staff, parents linked to guardians (half
with the demo's children, half with billed children) and counter clerks (finance, with
API tokens). A second run finds the rows and builds nothing.

Then it starts gunicorn (``--workers`` sync workers, DEBUG off, HTTPS=0, a throw-away
SECRET_KEY, ALLOWED_HOSTS=127.0.0.1) and a Celery worker as the Procfile does, both on
the same database and Redis, with the API throttles and login delays out of the way
(one client address logs in every user), and runs locust headless as a subprocess (its
gevent patching stays in its own process): ``--users`` people browsing (``--parents`` of
them parents, the rest staff) and ``--clerks`` clerks recording payments through the
staff form and the API, for ``--minutes``.

Printed afterwards (from ``results.json``, which the locustfile writes once every user
has stopped): requests, throughput, per page the count, failures and p50/p95/p99 over
the whole run and once every user had signed in; the errors; refused payments (a
400/409 the server rightly gives) apart from errors; the payments the database gained
against the ones the clerks saw created; the receipt deliveries the worker sent;
gunicorn's responses per status against locust's count; CPU per process group and per
request; the server logs' tracebacks; and ``manage.py verify_ledger``. The exit status is 1 on any server error
(5xx, connection error, traceback in a log), a payment count that does not match, or a
ledger discrepancy. gunicorn and the worker are stopped by their process ids at the
end, also on an error or Ctrl-C. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/academy_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
PASSWORD = "load-bench-password"  # every login this bench makes; the database is its own
PERIODS = ("2026-01", "2026-02")  # billed at the bench location, inside its 2025-26 year
UNLIMITED = "1000000/min"
LOGIN_LIMIT = "1000000"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="people browsing, staff and parents (default 50)")
    parser.add_argument("--parents", type=int, default=None, help="of --users, parents (default 30%%)")
    parser.add_argument("--clerks", type=int, default=8, help="clerks recording payments (default 8)")
    parser.add_argument("--minutes", type=float, default=5, help="how long the load runs (default 5)")
    parser.add_argument("--spawn-rate", type=float, default=2, help="users started per second (default 2)")
    parser.add_argument("--students", type=int, default=3000, help="billed students to build (default 3,000)")
    parser.add_argument("--chunk", type=int, default=5000, help="students per build transaction")
    parser.add_argument(
        "--no-build", action="store_true", help="skip migrate, seed and the students (logins still made)"
    )
    parser.add_argument("--build-only", action="store_true", help="build the data and logins, start nothing")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--timeout", type=int, default=60, help="gunicorn worker timeout, seconds (default 60)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--think", default="1-5", help="browsing think time, seconds MIN-MAX (default 1-5)")
    parser.add_argument("--clerk-think", default="2-6", help="a clerk's time between payments (default 2-6)")
    parser.add_argument("--api-share", type=float, default=0.25, help="share of payments through the API")
    parser.add_argument(
        "--overpay-share",
        type=float,
        default=0.02,
        help="share of payments 10.00 above what is open, unconfirmed: the server must refuse them (default 0.02)",
    )
    parser.add_argument("--database-url", default=os.environ.get("LOAD_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--out", default=None, help="directory for the CSVs and logs (default: a new temp dir)")
    args = parser.parse_args()
    if args.parents is None:
        args.parents = round(args.users * 0.3)
    if not 0 <= args.parents <= args.users:
        parser.error("--parents must be between 0 and --users")
    return args


ARGS = parse_args() if __name__ == "__main__" else None

# The runner itself sets up with tasks eager and a local cache: what it builds must not
# queue anything for the worker, nor leave cached grants behind in the servers' Redis.
os.environ["DATABASE_URL"] = ARGS.database_url if ARGS else DEFAULT_DATABASE_URL
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.config.settings")
os.environ["HTTPS"] = "0"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import billing  # noqa: E402  (bench/billing.py: sets Django up on DATABASE_URL)
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

# --- data -------------------------------------------------------------------------------


def build(args) -> None:
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"migrate: {time.perf_counter() - started:.1f} s", flush=True)
    call_command("seed", env="dev", verbosity=0)
    print(f"seed --env dev: done ({time.perf_counter() - started:.1f} s)", flush=True)
    ref = billing.Reference()
    billing.build_students(ref, args.students, args.chunk)
    from finance.models import Invoice

    for period in PERIODS:
        if not Invoice.objects.filter(location=ref.location, billing_period=period).exists():
            run_started = time.perf_counter()
            billing.billing_run(ref, period, datetime.date.fromisoformat(f"{period}-01"))
            print(f"billing run {period}: {time.perf_counter() - run_started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        for table in (*billing.FINANCE_TABLES, "students_student", "families_guardian", "families_studentguardian"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"data ready ({time.perf_counter() - started:.1f} s)", flush=True)


def ensure_logins(args) -> dict:
    """The staff, parent and clerk logins (made once, one password hash for all), and
    what each person opens, written for the locustfile."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db.models import Count, Exists, OuterRef

    from academy.models import ClassSession, Section, User
    from academy.roles import FINANCE, OFFICE_STAFF, PARENT
    from academy.services import api_token_issue, user_assign_role
    from enrollment.models import Enrollment
    from families.models import Guardian, StudentGuardian
    from finance.models import Invoice, Payment
    from students.models import Student

    password_hash = make_password(PASSWORD)
    staff = args.users - args.parents
    wanted = {
        "office": max(staff - staff // 3, 1),
        "finance": max(staff // 3, 1),
        "clerk": max(args.clerks, 1),
    }
    roles = {"office": OFFICE_STAFF, "finance": FINANCE, "clerk": FINANCE}
    logins: dict[str, list[dict]] = {kind: [] for kind in (*wanted, "parent")}
    for kind, count in wanted.items():
        for number in range(1, count + 1):
            username = f"load-{kind}-{number:02d}"
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(
                    username=username, first_name=kind.title(), last_name=f"{number:02d}", password=password_hash
                )
                user.save()
                user_assign_role(user=user, role=roles[kind])
            entry = {"username": username, "password": PASSWORD}
            if kind == "clerk":
                entry["token"] = api_token_issue(user=user)
            logins[kind].append(entry)

    # parents: half the demo's families (classes, attendance, results), half billed ones
    parents_wanted = max(args.parents, 1)
    ref_location = billing.Reference().location
    enrolled = Enrollment.objects.filter(student=OuterRef("student"))
    demo = list(
        StudentGuardian.objects.filter(relationship_type="primary", guardian__portal_user__isnull=True)
        .exclude(student__location=ref_location)
        .filter(Exists(enrolled))
        .order_by("guardian_id")
        .values_list("guardian_id", flat=True)
        .distinct()[: (parents_wanted + 1) // 2]
    )
    billed = list(
        Guardian.objects.filter(portal_user__isnull=True, student_links__student__location=ref_location)
        .annotate(n=Count("student_links"))
        .order_by("-n", "guardian_number")
        .values_list("pk", flat=True)[: parents_wanted - len(demo)]
    )
    parent_group = Group.objects.get(name=PARENT)
    existing = list(Guardian.objects.filter(portal_user__username__startswith="load-parent-"))
    number = len(existing)
    with transaction.atomic():
        for guardian in Guardian.objects.filter(pk__in=demo + billed)[: max(0, parents_wanted - number)]:
            number += 1
            user = User(username=f"load-parent-{number:02d}", email=guardian.email, password=password_hash)
            user.save()
            user.groups.add(parent_group)
            Guardian.objects.filter(pk=guardian.pk).update(portal_user=user)
    for guardian in Guardian.objects.filter(portal_user__username__startswith="load-parent-").select_related(
        "portal_user"
    ):
        children = list(
            StudentGuardian.objects.filter(guardian=guardian)
            .values_list("student_id", flat=True)
            .order_by("student_id")
        )
        invoices = list(Invoice.objects.filter(student_id__in=children).values_list("pk", flat=True)[:20])
        logins["parent"].append(
            {
                "username": guardian.portal_user.username,
                "password": PASSWORD,
                "children": [str(pk) for pk in children],
                "invoices": [str(pk) for pk in invoices],
            }
        )
    logins["parent"].sort(key=lambda entry: entry["username"])

    rng = random.Random(11)
    students = list(Student.objects.values_list("pk", "student_number", "last_name"))
    rng.shuffle(students)
    sample = students[:600]
    demo_students = list(Student.objects.exclude(location=ref_location).values_list("pk", flat=True))
    open_students = list(
        Invoice.objects.open()
        .filter(location=ref_location)
        .order_by()
        .values_list("student_id", "student__student_number")
        .distinct()
    )
    rng.shuffle(open_students)
    today = datetime.date.today()
    sessions = list(
        ClassSession.objects.filter(date__range=(today - datetime.timedelta(days=21), today))
        .order_by("?")
        .values_list("pk", "date")[:80]
    )
    invoices = list(Invoice.objects.order_by("?").values_list("pk", flat=True)[:400])
    payments = list(Payment.objects.order_by("?").values_list("pk", flat=True)[:200])
    sections = list(Section.objects.values_list("pk", flat=True))
    return {
        "logins": logins,
        "students": [str(pk) for pk, _, _ in sample],
        "demo_students": [str(pk) for pk in demo_students],
        "searches": sorted({last.lower()[:4] for _, _, last in sample if last} | {n[-4:] for _, n, _ in sample[:40]}),
        "clerk_students": [[str(pk), number] for pk, number in open_students],
        "sessions": [str(pk) for pk, _ in sessions],
        "days": sorted({day.isoformat() for _, day in sessions}),
        "sections": [str(pk) for pk in sections],
        "invoices": [str(pk) for pk in invoices],
        "payments": [str(pk) for pk in payments],
        "api_share": args.api_share,
        "overpay_share": args.overpay_share,
        "think": [float(part) for part in args.think.split("-")],
        "clerk_think": [float(part) for part in args.clerk_think.split("-")],
        # the simulated people (the logins above are at least one of each kind)
        "counts": {
            "office": staff - staff // 3,
            "finance": staff // 3,
            "parent": args.parents,
            "clerk": args.clerks,
        },
    }


def snapshot() -> dict:
    from django.db.models import Count

    from finance.models import Invoice, Payment
    from notifications.models import Delivery
    from students.models import Student

    deliveries = dict(Delivery.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return {
        "payments": Payment.objects.count(),
        "students": Student.all_objects.count(),
        "invoices": Invoice.objects.count(),
        "deliveries": deliveries,
    }


# --- processes --------------------------------------------------------------------------


class Servers:
    """gunicorn and a Celery worker as the Procfile starts them, each in a session of its
    own so that stopping it stops its children; stopped by process id."""

    def __init__(self, args, out: Path):
        self.port = billing.free_port()
        self.out = out
        self.environment = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "DEBUG": "0",
            "HTTPS": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # every simulated person comes from 127.0.0.1: no throttle, no login delay
            "API_THROTTLE_USER": UNLIMITED,
            "API_THROTTLE_CLIENT": UNLIMITED,
            "API_THROTTLE_ANON": UNLIMITED,
            "LOGIN_FREE_FAILURES": LOGIN_LIMIT,
            "LOGIN_CLIENT_FREE_FAILURES": LOGIN_LIMIT,
            "LOGIN_ACCOUNT_FREE_FAILURES": LOGIN_LIMIT,
            # receipts are e-mailed for real, into files of this run rather than var/mail
            # (django-environ drops one slash: four make the path absolute)
            "EMAIL_URL": f"filemail:///{(out / 'mail').resolve()}",
        }
        self.environment.pop("DJANGO_SETTINGS_MODULE", None)
        self.web_log = out / "gunicorn.log"
        self.access_log = out / "access.log"
        self.worker_log = out / "celery.log"
        self.processes: dict[str, subprocess.Popen] = {}
        self._start(
            "web",
            [
                str(BIN / "gunicorn"),
                "academy.config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(args.workers),
                "--timeout",
                str(args.timeout),
                "--access-logfile",
                str(self.access_log),
                "--error-logfile",
                str(self.web_log),
                "--forwarded-allow-ips",
                "127.0.0.1",
                # gunicorn's control socket defaults to one path per system user
                # (~/.gunicorn/gunicorn.ctl), which other servers on the machine share
                "--no-control-socket",
            ],
            self.web_log,
        )
        self._start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "academy",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(args.worker_concurrency),
                "--hostname",
                f"load-{os.getpid()}@%h",
            ],
            self.worker_log,
        )

    def _start(self, name: str, command: list[str], log: Path) -> None:
        with open(log, "ab") as handle:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.environment,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.out}")
            try:
                with urllib.request.urlopen(f"{self.base}/staff/login/", timeout=5) as response:
                    if response.status == 200 and "ready." in Path(self.worker_log).read_text(errors="replace"):
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the servers did not come up within {timeout:.0f} s; see {self.out}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # graceful: the master stops its own children
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its own session, started above
                process.wait()


def _cpu_seconds(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, from ``/proc`` (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSampler(threading.Thread):
    """CPU used by gunicorn (master and workers), the Celery worker (and its pool) and
    the PostgreSQL backends on this database, sampled every second: a backend ends when
    a process's connection passes ``CONN_MAX_AGE`` and is replaced, so reading only the
    live ones at the end would miss most of the database's share. Each process counts
    from its first sample (what it used before the run started is subtracted)."""

    def __init__(self, roots: dict[str, int]):
        super().__init__(daemon=True)
        self.roots = roots
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.running = threading.Event()
        self.running.set()

    def _sample(self, cursor) -> None:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        groups = {("db", row[0]) for row in cursor.fetchall()}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                for name, root in self.roots.items():
                    stat = _cpu_seconds(int(entry.name))
                    if stat and (int(entry.name) == root or stat[0] == root):
                        groups.add((name, int(entry.name)))
        for key in groups:
            stat = _cpu_seconds(key[1])
            if stat:
                self.first.setdefault(key, stat[1])
                self.last[key] = stat[1]

    def run(self) -> None:
        with connection.cursor() as cursor:
            while self.running.is_set():
                self._sample(cursor)
                time.sleep(1)
            self._sample(cursor)
        connection.close()

    def stop(self) -> dict[str, float]:
        self.running.clear()
        self.join()
        totals: dict[str, float] = {}
        for (name, _pid), used in self.last.items():
            totals[name] = totals.get(name, 0.0) + used - self.first[(name, _pid)]
        return totals


def queued_tasks(redis_url: str) -> int:
    import redis

    return redis.Redis.from_url(redis_url).llen("celery")


def run_locust(args, servers: Servers, config_path: Path, out: Path) -> tuple[int, float, float]:
    """locust headless in its own process (gevent patches only there). Answers its exit
    status, the wall time and its CPU seconds."""
    total = args.users + args.clerks
    command = [
        str(BIN / "locust"),
        "-f",
        str(BENCH / "locustfile.py"),
        "--headless",
        "--users",
        str(total),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{round(args.minutes * 60)}s",
        "--stop-timeout",
        "30",
        "--host",
        servers.base,
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--only-summary",
        "--loglevel",
        "INFO",
        "--logfile",
        str(out / "locust.log"),
    ]
    environment = {**os.environ, "LOAD_CONFIG": str(config_path), "LOAD_RESULTS": str(out / "results.json")}
    started = time.perf_counter()
    with open(out / "locust.out", "wb") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - started, usage.ru_utime + usage.ru_stime


# --- report -----------------------------------------------------------------------------


def read_results(out: Path) -> dict:
    """What the locustfile wrote after the run (``LOAD_RESULTS``)."""
    return json.loads((out / "results.json").read_text())


def print_table(headers: list[str], rows: list[list], aligns: str) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells):
        return "  ".join(
            str(cell).ljust(width) if align == "<" else str(cell).rjust(width)
            for cell, width, align in zip(cells, widths, aligns, strict=False)
        )

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def ms(value) -> str:
    return "-" if value is None else f"{float(value):,.0f}"


def log_problems(path: Path) -> list[str]:
    """Tracebacks and worker timeouts in a server log, each as one block of text."""
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "Traceback (most recent call last)" in line or "WORKER TIMEOUT" in line or " ERROR/" in line:
            block = lines[max(0, index - 2) : index + 1]
            index += 1
            while index < len(lines) and (lines[index].startswith((" ", "\t")) or "Error" in lines[index][:60]):
                block.append(lines[index])
                index += 1
            blocks.append("\n".join(block))
        else:
            index += 1
    return blocks


def server_statuses(access_log: Path) -> tuple[dict[str, int], int]:
    """How many responses of each status gunicorn's access log holds, and how many of
    them went to locust (its HTTP client's user agent)."""
    counts: dict[str, int] = {}
    to_locust = 0
    if not access_log.exists():
        return counts, to_locust
    pattern = re.compile(r'" (\d{3}) ')
    for line in access_log.read_text(errors="replace").splitlines():
        match = pattern.search(line)
        if match:
            counts[match[1]] = counts.get(match[1], 0) + 1
            to_locust += "gevent-http-client" in line
    return counts, to_locust


def verify_ledger(args) -> tuple[bool, str]:
    environment = {**os.environ, "DATABASE_URL": args.database_url, "HTTPS": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def report(args, out: Path, before: dict, after: dict, wall: float, cpu: dict, servers: Servers) -> bool:
    results = read_results(out)
    rows = results["entries"]
    refused = [row for row in rows if row["type"] == "REFUSED"]
    outcomes = [row for row in rows if row["type"] in ("REPLAYED", "SKIPPED")]
    pages = [row for row in rows if row["type"] not in ("REFUSED", "REPLAYED", "SKIPPED")]
    skipped = sum(row["requests"] for row in rows if row["type"] == "SKIPPED")
    total = results["total"]
    sent = total["requests"] - skipped
    failures = total["failures"]
    seconds = args.minutes * 60
    print(
        f"\n== load: {args.users} browsing ({args.users - args.parents} staff, {args.parents} parents) "
        f"+ {args.clerks} clerks for {args.minutes:g} min against {servers.base} =="
    )
    print(f"requests: {sent:,} in {seconds:.0f} s: {sent / seconds:,.1f} req/s; failures: {failures:,}\n")

    def line(name, row, requests, steady):
        return [
            name,
            f"{requests:,}",
            f"{row['failures']:,}",
            ms(row["p50"]),
            ms(row["p95"]),
            ms(row["p99"]),
            ms(row["max"]),
            ms(steady["p50"]),
            ms(steady["p95"]),
            ms(steady["p99"]),
        ]

    table = [line(row["name"], row, row["requests"], row["steady"]) for row in sorted(pages, key=lambda r: r["name"])]
    table.append(line("every request", total, sent, results["steady_total"]))
    since = results.get("steady_since")
    offset = f"from second {since - cpu['locust_started']:.0f} of the run" if since else "never reached"
    print(
        f"whole run: p50/p95/p99/max over every request; steady: p50/p95/p99 once all "
        f"{args.users + args.clerks} users had signed in ({offset}; the ramp-up's logins hash passwords)\n"
    )
    print_table(
        [
            "page",
            "requests",
            "failures",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "steady p50",
            "steady p95",
            "steady p99",
        ],
        table,
        "<>>>>>>>>>",
    )

    print(f"\nerrors: {sum(error['occurrences'] for error in results['errors']):,}")
    for error in results["errors"][:30]:
        print(f"  {error['occurrences']:>6} x {error['method']} {error['name']}: {error['error'][:200]}")

    print(f"\nrefused payments (the server's rightful 4xx, not errors): {sum(row['requests'] for row in refused):,}")
    for row in refused:
        print(f"  {row['requests']:>6} x {row['name']}")
    for row in outcomes:
        what = "replayed (same Idempotency-Key, answered from the first)" if row["type"] == "REPLAYED" else "skipped"
        print(f"{what}: {row['requests']:,} x {row['name']}")

    created_seen = sum(row["requests"] - row["failures"] for row in pages if row["name"].endswith("record payment"))
    gained = after["payments"] - before["payments"]
    payments_ok = gained == created_seen
    print(
        f"\npayments: the database gained {gained:,} ({gained / seconds:.2f}/s); the clerks saw {created_seen:,} "
        f"created: {'match' if payments_ok else 'MISMATCH'}"
    )
    deliveries = {
        status: after["deliveries"].get(status, 0) - before["deliveries"].get(status, 0)
        for status in sorted(set(after["deliveries"]) | set(before["deliveries"]))
    }
    print(
        f"deliveries (receipts and other messages) by the worker, change per status: {deliveries}; "
        f"still queued in Redis: {after['queued']}; e-mails written: {len(list((out / 'mail').glob('*')))}"
    )

    statuses, to_locust = server_statuses(servers.access_log)
    server_errors = sum(count for status, count in statuses.items() if status.startswith("5"))
    print(
        f"gunicorn access log, responses per status: {dict(sorted(statuses.items()))}; "
        f"{to_locust:,} of them to locust, which counted {sent:,}"
    )
    print(
        f"CPU seconds over the run: gunicorn {cpu['web']:.0f}, Celery worker {cpu['worker']:.0f}, PostgreSQL "
        f"backends {cpu['db']:.0f}, locust {cpu['locust']:.0f} (of {wall * (os.cpu_count() or 1):.0f} available on "
        f"{os.cpu_count()} cores over {wall:.0f} s); load average {cpu['load_before']:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (other processes on the machine count too)"
    )
    if sent:
        web_ms, db_ms = (cpu[key] * 1000 / sent for key in ("web", "db"))
        cores = os.cpu_count() or 1
        print(
            f"CPU per request: {web_ms:.1f} ms in gunicorn + {db_ms:.1f} ms in PostgreSQL: at most "
            f"{cores * 1000 / (web_ms + db_ms):,.0f} requests/s of this mix on {cores} cores if nothing else ran"
        )
    locust_log = (out / "locust.log").read_text(errors="replace") if (out / "locust.log").exists() else ""
    if "CPU usage" in locust_log:
        print("locust warned about its own CPU usage:")
        for line in locust_log.splitlines():
            if "CPU usage" in line:
                print(f"  {line.strip()}")

    problems = []
    for name, path in (("gunicorn", servers.web_log), ("celery worker", servers.worker_log)):
        for block in log_problems(path):
            problems.append((name, block))
    print(f"\nserver log problems (tracebacks, worker timeouts, task errors): {len(problems)}")
    for name, block in problems[:5]:
        print(f"--- {name} ---\n{block[:3000]}")

    clean, text = verify_ledger(args)
    print("\nmanage.py verify_ledger:\n  " + text.replace("\n", "\n  "))
    print(f"\nlogs and CSVs: {out}")
    ok = failures == 0 and server_errors == 0 and not problems and payments_ok and clean
    print("result:", "PASS (no server error, payments match, ledger clean)" if ok else "FAIL (see above)")
    return ok


# --- main -------------------------------------------------------------------------------


def main() -> int:
    args = ARGS
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-load-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "mail").mkdir(exist_ok=True)
    billing.ensure_database()
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL")
    print(f"database: {connection.settings_dict['NAME']}; Redis: {args.redis_url}; output: {out}", flush=True)
    if not args.no_build:
        build(args)
    config = ensure_logins(args)
    config_path = out / "config.json"
    config_path.write_text(json.dumps(config))
    print(
        f"logins: {len(config['logins']['office'])} office, {len(config['logins']['finance'])} finance, "
        f"{len(config['logins']['parent'])} parents, {len(config['logins']['clerk'])} clerks; "
        f"{len(config['clerk_students']):,} students with an open invoice for the clerks",
        flush=True,
    )
    if args.build_only:
        return 0
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()  # this bench's own Redis database
    before = snapshot()
    print(f"before: {before['students']:,} students, {before['invoices']:,} invoices, {before['payments']:,} payments")
    connection.close()
    servers = Servers(args, out)
    try:
        servers.wait_ready()
        print(
            f"gunicorn ({args.workers} workers) on {servers.base}, Celery worker ({args.worker_concurrency}) up; "
            f"locust for {args.minutes:g} min ...",
            flush=True,
        )
        sampler = CpuSampler({"web": servers.processes["web"].pid, "worker": servers.processes["worker"].pid})
        load = os.getloadavg()[0]
        locust_started = time.time()
        sampler.start()
        status, wall, locust_cpu = run_locust(args, servers, config_path, out)
        cpu = {"web": 0.0, "worker": 0.0, "db": 0.0, **sampler.stop(), "locust": locust_cpu, "load_before": load}
        cpu["locust_started"] = locust_started
        print(f"locust exited with {status} after {wall:.0f} s", flush=True)
        deadline = time.monotonic() + 60
        while queued_tasks(args.redis_url) and time.monotonic() < deadline:
            time.sleep(1)  # let the worker send what the run queued
        queued = queued_tasks(args.redis_url)
    finally:
        servers.stop()
    after = snapshot()
    after["queued"] = queued
    if not (out / "results.json").exists():
        print((out / "locust.out").read_text(errors="replace")[-3000:])
        return 1
    return 0 if report(args, out, before, after, wall, cpu, servers) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted")
        sys.exit(130)
