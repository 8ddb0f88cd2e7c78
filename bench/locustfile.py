"""The people of the load benchmark, for locust (started by ``bench/load.py``).

``LOAD_CONFIG`` names the JSON file the runner writes: the logins, and the ids of what
people open (students, sessions, sections, invoices, payments, the students with
something to pay). Every user signs in through the real login form (session cookie and
CSRF token) and then:

- ``OfficeStaff``: the dashboard, the student list (pages, searches, the htmx partial
  of search-as-you-type), a student's page and attendance, the attendance pages,
  invoices and payments;
- ``FinanceStaff``: the finance dashboard, invoices, payments, statements, the reports;
- ``Parent``: the portal's dashboard, a child's page, classes and attendance, results,
  progress, the money pages and notifications;
- ``Clerk``: at a counter, finds a student with something owed (the lookup), opens the
  record-payment form and posts a part of what is open, as a clerk does; a share of the
  payments (``api_share``) go through the API with the clerk's token and an
  ``Idempotency-Key``, now and then sent twice (a client retrying); a few
  (``overpay_share``) are 10.00 above what is open and unconfirmed, which the server
  must refuse.

Requests are named by page (``name=``), so the statistics group per page and not per
id. A 400 or 409 the server rightly gives a payment (more than is owed, an invoice
paid meanwhile) is reported under the type ``REFUSED``, a replayed idempotent request
under ``REPLAYED``, a payment not tried (the student owes nothing any more) under
``SKIPPED``; every other unexpected status, and every 5xx or connection error, is
a failure. The user counts come from the config (``fixed_count``).
"""

import contextlib
import itertools
import json
import math
import os
import random
import re
import time
import uuid
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

CONFIG = json.loads(Path(os.environ["LOAD_CONFIG"]).read_text())
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')
OPEN_AMOUNT = re.compile(r";\s*([\d,]+\.\d{2}) open\.")
ERRORS = re.compile(r'<p class="field-error"[^>]*>(.*?)</p>|role="alert"[^>]*>\s*<p>(.*?)</p>', re.S)
REPORTS = ("student-balances", "location-summary", "payment-history", "daily-collections", "monthly-revenue")
THINK = between(*CONFIG["think"])
CLERK_THINK = between(*CONFIG["clerk_think"])


def _numbered(kind: str):
    """Hand out the logins of ``kind`` in turn, one per simulated user."""
    logins = CONFIG["logins"][kind]
    counter = itertools.count()
    return lambda: logins[next(counter) % len(logins)]


def report(name: str, kind: str) -> None:
    """An outcome that is no request of its own (a payment skipped: nothing to pay)."""
    events.request.fire(request_type=kind, name=name, response_time=None, response_length=0, exception=None, context={})


class Person(FastHttpUser):
    abstract = True
    wait_time = THINK
    login_path = "/staff/login/"
    label = "staff"
    network_timeout = 120.0
    connection_timeout = 30.0

    def take_login(self) -> dict:
        raise NotImplementedError

    def on_start(self):
        self.login = self.take_login()
        self.rng = random.Random()
        self.sign_in()

    def sign_in(self) -> None:
        with self.client.get(self.login_path, name=f"{self.label}: login form", catch_response=True) as response:
            token = CSRF.search(response.text or "")
            if response.status_code != 200 or not token:
                response.failure(f"login form: {response.status_code}, CSRF token {'found' if token else 'missing'}")
                return
        with self.client.post(
            self.login_path,
            data={
                "csrfmiddlewaretoken": token[1],
                "username": self.login["username"],
                "password": self.login["password"],
            },
            name=f"{self.label}: sign in (POST)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign in as {self.login['username']}: {response.status_code}, not a redirect")

    def page(self, path: str, name: str, *, headers: dict | None = None, expect: int = 200):
        """GET a page; anything but ``expect`` (a redirect to a login page above all) fails."""
        with self.client.get(
            path, name=f"{self.label}: {name}", headers=headers, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != expect:
                where = response.headers.get("Location", "") if response.headers else ""
                response.failure(f"{response.status_code} {where}".strip())
            return response

    def pick(self, key: str) -> str:
        return self.rng.choice(CONFIG[key])


class StaffBrowsing(Person):
    abstract = True

    @task(3)
    def dashboard(self):
        self.page("/staff/", "dashboard")

    @task(2)
    def student_list(self):
        self.page("/staff/students/", "student list, page 1")

    @task(1)
    def student_list_page(self):
        self.page(f"/staff/students/?page={self.rng.randint(2, 40)}", "student list, page N")

    @task(2)
    def student_search(self):
        self.page(f"/staff/students/?search={self.pick('searches')}", "student list, search")

    @task(3)
    def student_search_as_you_type(self):
        word = self.pick("searches")
        for size in range(2, len(word) + 1):  # a keystroke each, as htmx sends them
            self.page(
                f"/staff/students/?search={word[:size]}", "student list, htmx partial", headers={"HX-Request": "true"}
            )

    @task(4)
    def student_detail(self):
        self.page(f"/staff/students/{self.pick('students')}/", "student detail")

    @task(2)
    def invoices(self):
        self.page("/staff/finance/invoices/", "invoice list")

    @task(2)
    def invoice_detail(self):
        self.page(f"/staff/finance/invoices/{self.pick('invoices')}/", "invoice detail")

    @task(2)
    def payments(self):
        self.page("/staff/finance/payments/", "payment list")


class OfficeStaff(StaffBrowsing):
    fixed_count = CONFIG["counts"]["office"]
    label = "staff"
    take_login = staticmethod(_numbered("office"))

    @task(2)
    def student_attendance(self):
        self.page(f"/staff/attendance/students/{self.pick('demo_students')}/", "student attendance")

    @task(2)
    def attendance_day(self):
        day = self.pick("days") if CONFIG["days"] else ""
        self.page(f"/staff/attendance/?date={day}", "attendance, sessions of a day")

    @task(2)
    def attendance_session(self):
        if CONFIG["sessions"]:
            self.page(f"/staff/attendance/sessions/{self.pick('sessions')}/", "attendance, a session")

    @task(1)
    def attendance_report(self):
        self.page(f"/staff/attendance/report/?section={self.pick('sections')}", "attendance report, a section")

    @task(1)
    def guardian_list(self):
        self.page("/staff/guardians/", "guardian list")


class FinanceStaff(StaffBrowsing):
    fixed_count = CONFIG["counts"]["finance"]
    label = "finance"
    take_login = staticmethod(_numbered("finance"))

    @task(2)
    def finance_dashboard(self):
        self.page("/staff/finance/", "finance dashboard")

    @task(2)
    def payment_detail(self):
        if CONFIG["payments"]:
            self.page(f"/staff/finance/payments/{self.pick('payments')}/", "payment detail")

    @task(2)
    def statement(self):
        self.page(f"/staff/finance/students/{self.pick('students')}/statement/", "student statement")

    @task(2)
    def reports(self):
        name = self.rng.choice(REPORTS)
        self.page(f"/staff/finance/reports/?report={name}", f"report {name}")

    @task(1)
    def overdue(self):
        self.page("/staff/finance/reports/?report=overdue-invoices", "report overdue-invoices")


class Parent(Person):
    fixed_count = CONFIG["counts"]["parent"]
    login_path = "/portal/login/"
    label = "parent"
    take_login = staticmethod(_numbered("parent"))

    def child(self) -> str:
        return self.rng.choice(self.login["children"])

    @task(4)
    def dashboard(self):
        self.page("/portal/", "dashboard")

    @task(2)
    def child_page(self):
        self.page(f"/portal/children/{self.child()}/", "child")

    @task(2)
    def classes(self):
        self.page(f"/portal/children/{self.child()}/classes/", "child's classes and attendance")

    @task(1)
    def results(self):
        self.page(f"/portal/children/{self.child()}/results/", "child's results")

    @task(1)
    def progress(self):
        self.page(f"/portal/children/{self.child()}/progress/", "child's progress")

    @task(2)
    def money(self):
        self.page("/portal/money/", "money")

    @task(1)
    def invoice(self):
        if self.login["invoices"]:
            self.page(f"/portal/money/invoices/{self.rng.choice(self.login['invoices'])}/", "invoice")

    @task(1)
    def statement(self):
        self.page(f"/portal/money/children/{self.child()}/statement/", "child's statement")

    @task(1)
    def notifications(self):
        self.page("/portal/notifications/", "notifications")


def _amount(open_total: Decimal, rng: random.Random) -> Decimal:
    """A part of what is open, as a family pays at the counter: 5 to 60, never more;
    now and then (``overpay_share``) 10.00 more than is open, without confirming it,
    which the server must refuse."""
    if rng.random() < CONFIG["overpay_share"]:
        return open_total + Decimal("10.00")
    share = Decimal(rng.randint(500, 6000)) / 100
    return min(share, open_total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


class Clerk(Person):
    fixed_count = CONFIG["counts"]["clerk"]
    wait_time = CLERK_THINK
    label = "clerk"
    take_login = staticmethod(_numbered("clerk"))
    _numbers = itertools.count()

    def on_start(self):
        super().on_start()
        number = next(Clerk._numbers)
        clerks = max(1, CONFIG["counts"]["clerk"])
        everyone = CONFIG["clerk_students"]
        # each clerk has a queue of their own; one payment in ten is for anyone (so two
        # clerks sometimes pay the same account at once: the locking's test)
        self.queue = everyone[number % clerks :: clerks] or everyone
        self.position = 0

    def next_student(self) -> tuple[str, str]:
        if self.rng.random() < 0.1:
            return tuple(self.rng.choice(CONFIG["clerk_students"]))
        student = self.queue[self.position % len(self.queue)]
        self.position += 1
        return tuple(student)

    @task
    def record_payment(self):
        if self.rng.random() < CONFIG["api_share"]:
            self.through_api()
        else:
            self.through_form()

    def through_form(self):
        pk, number = self.next_student()
        # the student picker's lookup, as the clerk types the student number
        self.page(f"/staff/lookup/students/?q={number}", "student lookup")
        response = self.page(f"/staff/finance/payments/new/?student={pk}", "record-payment form")
        if response.status_code != 200:
            return
        text = response.text or ""
        token, key = CSRF.search(text), IDEMPOTENCY.search(text)
        open_total = sum((Decimal(m.replace(",", "")) for m in OPEN_AMOUNT.findall(text)), Decimal("0"))
        if not (token and key):
            report("clerk: record-payment form without its fields", "SKIPPED")
            return
        if open_total <= 0:
            report("clerk: nothing left open for the student", "SKIPPED")
            return
        amount = _amount(open_total, self.rng)
        with self.client.post(
            "/staff/finance/payments/new/",
            data={
                "csrfmiddlewaretoken": token[1],
                "idempotency_key": key[1],
                "student": pk,
                "guardian": "",
                "amount": str(amount),
                "method": self.rng.choice(("cash", "cash", "card", "upi")),
                "reference": "",
                "external_transaction_id": "",
                "received_at": "",
                "notes": "",
            },
            name="clerk: record payment",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code == 302:
                receipt = response.headers.get("Location", "")
            elif response.status_code in (400, 409):
                error = ERRORS.search(response.text or "")
                text = (error[1] or error[2]) if error else "no message"
                # one line per kind of refusal, not per amount
                reason = re.sub(r"\d[\d,.]*\d|\d", "#", re.sub(r"<[^>]+>|\s+", " ", text)).strip()[:70]
                response.request_meta["name"] = f"staff form {response.status_code}: {reason}"
                response.request_meta["request_type"] = "REFUSED"
                response.success()
                return
            else:
                response.failure(f"{response.status_code}")
                return
        if receipt:
            self.page(receipt, "payment page after recording")

    def through_api(self):
        pk, _ = self.next_student()
        headers = {"Authorization": f"Token {self.login['token']}"}
        with self.client.get(
            f"/api/v1/invoices/?student={pk}&page_size=20",
            name="clerk api: open invoices",
            headers=headers,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return
            results = (response.json() or {}).get("results", [])
        open_total = sum(
            (max(Decimal(str(invoice.get("balance") or "0")), Decimal("0")) for invoice in results), Decimal("0")
        )
        if open_total <= 0:
            report("clerk api: nothing left open for the student", "SKIPPED")
            return
        body = {"student": pk, "amount": str(_amount(open_total, self.rng)), "method": "cash"}
        headers = {**headers, "Idempotency-Key": f"load-{uuid.uuid4().hex}"}
        sends = 2 if self.rng.random() < 0.1 else 1  # a client that retries after a lost answer
        for attempt in range(sends):
            name = "clerk api: record payment" if attempt == 0 else "clerk api: the same payment again"
            with self.client.post(
                "/api/v1/payments/", json=body, headers=headers, name=name, catch_response=True
            ) as response:
                replayed = response.headers.get("Idempotent-Replayed") if response.headers else None
                if response.status_code == 201 and (attempt == 0) == (replayed is None):
                    if attempt:
                        response.request_meta["request_type"] = "REPLAYED"
                    response.success()
                elif response.status_code in (400, 409):
                    code = ""
                    with contextlib.suppress(ValueError, AttributeError):
                        answer = response.json() or {}
                        code = answer.get("code") or ",".join(sorted(answer))  # 409: a code; 400: the fields
                    response.request_meta["name"] = f"api {response.status_code}: {code or 'refused'}"
                    response.request_meta["request_type"] = "REFUSED"
                    response.success()
                    return
                else:
                    response.failure(f"{response.status_code}, replayed header {replayed!r}")
                    return


# --- the figures, once every user has stopped ---------------------------------------------
# locust's CSV is rewritten once a second and not after the last users stop, so it can
# miss the final second(s); these figures are taken after the run, from the same stats.
ENVIRONMENT = {}
# Response times once every user has signed in (the ramp-up, when every login hashes a
# password, is the heaviest minute for the two workers): the steady state's figures.
STEADY: dict[tuple[str, str], list[float]] = {}


@events.init.add_listener
def _keep_environment(environment, **kwargs):
    ENVIRONMENT["environment"] = environment


@events.spawning_complete.add_listener
def _steady_from_now(user_count, **kwargs):
    ENVIRONMENT["steady_since"] = time.time()


@events.request.add_listener
def _steady_times(request_type, name, response_time, **kwargs):
    if "steady_since" in ENVIRONMENT and response_time is not None:
        STEADY.setdefault((request_type, name), []).append(response_time)


def _percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    if not ordered:
        return {"requests": 0, "p50": None, "p95": None, "p99": None}
    rank = {
        key: ordered[max(0, math.ceil(q * len(ordered)) - 1)] for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }
    return {"requests": len(ordered), **rank}


@events.quit.add_listener
def _write_results(exit_code, **kwargs):
    path = os.environ.get("LOAD_RESULTS")
    environment = ENVIRONMENT.get("environment")
    if not path or environment is None or environment.runner is None:
        return
    stats = environment.runner.stats

    def entry(stat) -> dict:
        measured = stat.num_requests - stat.num_none_requests > 0
        return {
            "type": stat.method or "",
            "name": stat.name,
            "requests": stat.num_requests,
            "failures": stat.num_failures,
            **{
                key: stat.get_response_time_percentile(fraction) if measured else None
                for key, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "max": stat.max_response_time if measured else None,
            "steady": _percentiles(STEADY.get((stat.method or "", stat.name), [])),
        }

    results = {
        "entries": [entry(stat) for stat in stats.entries.values() if stat.num_requests or stat.num_failures],
        "total": entry(stats.total),
        "errors": [
            {"method": error.method, "name": error.name, "error": str(error.error), "occurrences": error.occurrences}
            for error in stats.errors.values()
        ],
        "exit_code": exit_code,
        "steady_since": ENVIRONMENT.get("steady_since"),
        "steady_total": _percentiles([t for (kind, _), times in STEADY.items() if kind != "SKIPPED" for t in times]),
    }
    with open(path, "w") as handle:
        json.dump(results, handle)
