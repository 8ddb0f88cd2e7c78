"""The permission matrix of every finance endpoint: finance staff, office staff of the
location, office staff of another location, academy admin, an instructor who teaches the
child (they see the student, never the money), the child's parent, another parent and
anonymous. A refused write (any status that is not 2xx) writes nothing."""

import re
from types import SimpleNamespace

import pytest

from tests.each_actor import assert_for_each_actor
from tests.factories.finance import FeeTypeFactory
from tests.finance.api_fixtures import ACTORS, V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FINANCE_PATHS = (
    "/api/v1/fee-types/",
    "/api/v1/fee-structures/",
    "/api/v1/invoices/",
    "/api/v1/payments/",
    "/api/v1/adjustments/",
    "/api/v1/billing-runs/",
    "/api/v1/session-packages/",
    "/api/v1/reports/",
)


def expect(finance, office, other_office, admin, parent, other_parent, anonymous, *, instructor=403):
    statuses = (finance, office, other_office, admin, instructor, parent, other_parent, anonymous)
    return dict(zip(ACTORS, statuses, strict=True))


STAFF_READ = expect(200, 200, 200, 200, 403, 403, 401)
SCOPED_STAFF_READ = expect(200, 200, 404, 200, 403, 403, 401)
EVERYONE_READS = expect(200, 200, 200, 200, 200, 200, 401)
CHILD_READ = expect(200, 200, 404, 200, 200, 404, 401)
FINANCE_CREATE = expect(201, 403, 403, 201, 403, 403, 401)
FINANCE_CHANGE = expect(200, 403, 403, 200, 403, 403, 401)
FINANCE_ONLY_READ = expect(200, 403, 403, 200, 403, 403, 401)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405, 405, instructor=405)


def _payment_body(m):
    return {"student": str(m.child.pk), "amount": "10.00", "method": "cash"}


def _structure_body(m):
    return {
        "name": "Exam",
        "location": str(m.location.pk),
        "fee_type": str(FeeTypeFactory(code="EXAM").pk),
        "amount": "9.00",
        "frequency": "once",
    }


def _invoice_body(m):
    return {"student": str(m.child.pk), "lines": [{"fee_type": str(m.fee_type.pk), "unit_amount": "12.00"}]}


def _adjustment_body(m):
    return {"invoice": str(m.invoice.pk), "kind": "discount", "amount": "2.00", "reason": "Loyalty"}


def _run_body(m):
    return {"location": str(m.location.pk), "period": "2032-01", "issue_date": "2032-01-01"}


def _package(m):
    """The child's session package, sold on first use (before ``money_rows`` is counted
    when a row's body asks for it)."""
    if getattr(m, "package", None) is None:
        from tests.factories.finance import SessionPackageFactory

        m.package = SessionPackageFactory(student=m.child)
    return m.package


def _package_sell_body(m):
    return {"student": str(m.child.pk), "sessions": 10, "price": "90.00"}


def _package_body(m):
    _package(m)
    return {}


def _package_cancel_body(m):
    _package(m)
    return {"reason": "Moved away"}


REPORTS = (
    "student-balances",
    "location-summary",
    "invoice-details",
    "payment-history",
    "overdue-invoices",
    "daily-collections",
    "monthly-revenue",
    "ledger-summary",
)

# (case id, method, path(money), body(money) or None, expected status per actor)
CASES = [
    # --- fee types and structures ---
    ("fee-types-list", "get", lambda m: f"{V1}/fee-types/", None, STAFF_READ),
    ("fee-types-get", "get", lambda m: f"{V1}/fee-types/{m.fee_type.pk}/", None, STAFF_READ),
    ("fee-types-post", "post", lambda m: f"{V1}/fee-types/", lambda m: {"code": "BUS", "name": "Bus"}, FINANCE_CREATE),
    (
        "fee-types-patch",
        "patch",
        lambda m: f"{V1}/fee-types/{m.fee_type.pk}/",
        lambda m: {"name": "Fees"},
        FINANCE_CHANGE,
    ),
    ("fee-types-put", "put", lambda m: f"{V1}/fee-types/{m.fee_type.pk}/", lambda m: {"name": "X"}, ALWAYS_405),
    ("fee-types-delete", "delete", lambda m: f"{V1}/fee-types/{m.fee_type.pk}/", None, ALWAYS_405),
    ("structures-list", "get", lambda m: f"{V1}/fee-structures/", None, STAFF_READ),
    ("structures-get", "get", lambda m: f"{V1}/fee-structures/{m.structure.pk}/", None, SCOPED_STAFF_READ),
    ("structures-post", "post", lambda m: f"{V1}/fee-structures/", _structure_body, FINANCE_CREATE),
    (
        "structures-patch",
        "patch",
        lambda m: f"{V1}/fee-structures/{m.structure.pk}/",
        lambda m: {"amount": "155.00"},
        FINANCE_CHANGE,
    ),
    ("structures-delete", "delete", lambda m: f"{V1}/fee-structures/{m.structure.pk}/", None, ALWAYS_405),
    # --- invoices ---
    ("invoices-list", "get", lambda m: f"{V1}/invoices/", None, EVERYONE_READS),
    ("invoices-get", "get", lambda m: f"{V1}/invoices/{m.invoice.pk}/", None, CHILD_READ),
    ("invoices-post", "post", lambda m: f"{V1}/invoices/", _invoice_body, FINANCE_CREATE),
    ("invoices-patch", "patch", lambda m: f"{V1}/invoices/{m.invoice.pk}/", lambda m: {"description": "x"}, ALWAYS_405),
    ("invoices-delete", "delete", lambda m: f"{V1}/invoices/{m.invoice.pk}/", None, ALWAYS_405),
    (
        "invoices-cancel",
        "post",
        lambda m: f"{V1}/invoices/{m.invoice.pk}/cancel/",
        lambda m: {"reason": "Duplicate"},
        FINANCE_CHANGE,
    ),
    ("invoices-pdf", "get", lambda m: f"{V1}/invoices/{m.invoice.pk}/pdf/", None, CHILD_READ),
    # --- notes, disputes, accounting references: finance staff (tests/finance/test_money_records.py) ---
    (
        "invoices-notes",
        "post",
        lambda m: f"{V1}/invoices/{m.invoice.pk}/notes/",
        lambda m: {"notes": "Paid in two parts", "internal_notes": "Called the father"},
        FINANCE_CHANGE,
    ),
    (
        "invoices-dispute",
        "post",
        lambda m: f"{V1}/invoices/{m.invoice.pk}/dispute/",
        lambda m: {"reason": "Charged twice"},
        FINANCE_CHANGE,
    ),
    (
        "invoices-resolve-dispute",
        "post",
        lambda m: f"{V1}/invoices/{m.invoice.pk}/resolve-dispute/",
        lambda m: {"resolution": "Explained"},
        expect(409, 403, 403, 409, 403, 403, 401),  # not disputed
    ),
    (
        "invoices-accounting-ref",
        "post",
        lambda m: f"{V1}/invoices/{m.invoice.pk}/accounting-ref/",
        lambda m: {"accounting_ref": "AR-1"},
        FINANCE_CHANGE,
    ),
    # --- payments: office staff may take money; a student outside their location is a 400 ---
    ("payments-list", "get", lambda m: f"{V1}/payments/", None, EVERYONE_READS),
    ("payments-get", "get", lambda m: f"{V1}/payments/{m.payment.pk}/", None, CHILD_READ),
    ("payments-post", "post", lambda m: f"{V1}/payments/", _payment_body, expect(201, 201, 400, 201, 403, 403, 401)),
    ("payments-put", "put", lambda m: f"{V1}/payments/{m.payment.pk}/", _payment_body, ALWAYS_405),
    ("payments-patch", "patch", lambda m: f"{V1}/payments/{m.payment.pk}/", lambda m: {"amount": "1.00"}, ALWAYS_405),
    ("payments-delete", "delete", lambda m: f"{V1}/payments/{m.payment.pk}/", None, ALWAYS_405),
    ("payments-receipt", "get", lambda m: f"{V1}/payments/{m.payment.pk}/receipt/", None, CHILD_READ),
    (
        "payments-reverse",
        "post",
        lambda m: f"{V1}/payments/{m.payment.pk}/reverse/",
        lambda m: {"reason": "Mistake"},
        FINANCE_CHANGE,
    ),
    (
        "payments-verify",
        "post",
        lambda m: f"{V1}/payments/{m.payment.pk}/verify/",
        lambda m: {"cleared": True},
        expect(409, 403, 403, 409, 403, 403, 401),  # cash needs no verification
    ),
    (
        "payments-accounting-ref",
        "post",
        lambda m: f"{V1}/payments/{m.payment.pk}/accounting-ref/",
        lambda m: {"accounting_ref": "BANK-1"},
        FINANCE_CHANGE,
    ),
    # --- adjustments: finance staff only; the requester may not approve their own ---
    ("adjustments-list", "get", lambda m: f"{V1}/adjustments/", None, FINANCE_ONLY_READ),
    ("adjustments-get", "get", lambda m: f"{V1}/adjustments/{m.adjustment.pk}/", None, FINANCE_ONLY_READ),
    ("adjustments-post", "post", lambda m: f"{V1}/adjustments/", _adjustment_body, FINANCE_CREATE),
    (
        "adjustments-patch",
        "patch",
        lambda m: f"{V1}/adjustments/{m.adjustment.pk}/",
        lambda m: {"amount": "1.00"},
        ALWAYS_405,
    ),
    (
        "adjustments-approve",
        "post",
        lambda m: f"{V1}/adjustments/{m.adjustment.pk}/approve/",
        lambda m: {},
        expect(409, 403, 403, 200, 403, 403, 401),
    ),
    (
        "adjustments-reject",
        "post",
        lambda m: f"{V1}/adjustments/{m.adjustment.pk}/reject/",
        lambda m: {"note": "No"},
        FINANCE_CHANGE,
    ),
    # --- billing runs: read like invoices, started by those who issue invoices ---
    ("runs-list", "get", lambda m: f"{V1}/billing-runs/", None, STAFF_READ),
    ("runs-get", "get", lambda m: f"{V1}/billing-runs/{m.run.pk}/", None, SCOPED_STAFF_READ),
    ("runs-post", "post", lambda m: f"{V1}/billing-runs/", _run_body, expect(202, 403, 403, 202, 403, 403, 401)),
    ("runs-delete", "delete", lambda m: f"{V1}/billing-runs/{m.run.pk}/", None, ALWAYS_405),
    # --- session packages: the desk sells, finance cancels; parents read their children's ---
    ("packages-list", "get", lambda m: f"{V1}/session-packages/", None, EVERYONE_READS),
    ("packages-get", "get", lambda m: f"{V1}/session-packages/{_package(m).pk}/", None, CHILD_READ),
    (
        "packages-post",
        "post",
        lambda m: f"{V1}/session-packages/",
        _package_sell_body,
        expect(201, 201, 400, 201, 403, 403, 401),
    ),
    ("packages-patch", "patch", lambda m: f"{V1}/session-packages/{m.package.pk}/", _package_body, ALWAYS_405),
    ("packages-delete", "delete", lambda m: f"{V1}/session-packages/{m.package.pk}/", _package_body, ALWAYS_405),
    (
        "packages-cancel",
        "post",
        lambda m: f"{V1}/session-packages/{m.package.pk}/cancel/",
        _package_cancel_body,
        FINANCE_CHANGE,
    ),
    # --- statements ---
    ("student-statement", "get", lambda m: f"{V1}/students/{m.child.pk}/statement/", None, CHILD_READ),
    ("guardian-statement", "get", lambda m: f"{V1}/guardians/{m.guardian.pk}/statement/", None, CHILD_READ),
    # a location's statement: finance staff and administrators, as the reports
    # (tests/finance/test_location_statement.py)
    ("location-statement", "get", lambda m: f"{V1}/locations/{m.location.pk}/statement/", None, FINANCE_ONLY_READ),
    # --- reports: finance staff and administrators ---
    *[(f"report-{name}", "get", lambda m, n=name: f"{V1}/reports/{n}/", None, FINANCE_ONLY_READ) for name in REPORTS],
    # --- the journal and the import of accounting references (tests/finance/test_journal.py) ---
    # without from and to, finance gets as far as the 400; the others are refused before
    ("journal", "get", lambda m: f"{V1}/journal/", None, expect(400, 403, 403, 400, 403, 403, 401)),
    (
        "accounting-refs-import",
        "post",
        lambda m: f"{V1}/accounting-refs/import/",
        lambda m: {"csv": f"kind,number,accounting_ref\ninvoice,{m.invoice.invoice_number},AR-9\n"},
        FINANCE_CHANGE,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_permission_matrix(money, as_user, method, path, body, expected):
    def check(actor):
        # given an actor and an endpoint (on a namespace of its own: a body may add a
        # record to it, as _package does, in the actor's savepoint)
        m = SimpleNamespace(**vars(money))
        client = as_user(actor)
        data = body(m) if body is not None else None
        before = money_rows()
        # when the actor calls it
        kwargs = {"format": "json"} if data is not None else {}
        response = getattr(client, method)(path(m), data, **kwargs)
        # then the status is the one the matrix expects, with an error body where it is an error
        assert response.status_code == expected[actor], response.content
        if response.status_code >= 400:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
            if response.status_code == 409:
                assert "code" in error
        # and a refused write wrote nothing
        if method != "get" and response.status_code >= 400:
            assert money_rows() == before

    assert_for_each_actor(ACTORS, check)


class _AnyRecord:
    """Stands in for the ``money`` fixture when only the paths of the matrix are wanted."""

    pk = "00000000-0000-0000-0000-000000000000"

    def __getattr__(self, name):
        return _AnyRecord()


def finance_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_AnyRecord()))) for _id, method, path, _body, _expected in CASES}


def test_every_finance_operation_is_in_the_matrix(money):
    """A new finance endpoint or method without a row in the matrix fails here."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
        and (path.startswith(FINANCE_PATHS) or path.endswith("/statement/"))
    }
    covered = {(method, UUID.sub("{id}", path(money))) for _id, method, path, _body, _expected in CASES}
    assert covered == finance_operations_covered()
    assert len(operations) > 30
    assert operations - covered == set()
