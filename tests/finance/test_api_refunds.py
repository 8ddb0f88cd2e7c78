"""refunds/: account credit paid back through the API. Append-only (PUT, PATCH and DELETE
are 405); finance staff list and record them; a parent reads their own children's;
never more than the credit (409 ``insufficient_credit``). Its own permission matrix is
here (``refund_operations_covered`` feeds tests/api's "every operation has a row")."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from academy.roles import FINANCE
from finance import services
from finance.models import Refund
from finance.selectors import account_balance, ledger_verify
from finance.services.ledger import credit_available
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import staff_user
from tests.factories.families import StudentFactory
from tests.finance.api_fixtures import ACTORS, V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def rows() -> dict[str, int]:
    return {**money_rows(), "Refund": Refund.objects.count()}


@pytest.fixture
def refunded(money):
    """The child pays 150.00 on 110.00 open (40.00 of credit), 10.00 of which is refunded;
    the other family's child pays 30.00 with nothing open and has 5.00 refunded."""
    cashier = money.users["finance"]
    services.payment_record(
        actor=cashier, student=money.child, amount="150.00", method="cash", confirm_overpayment=True
    )
    services.payment_record(
        actor=cashier, student=money.other_child, amount="110.00", method="cash", confirm_overpayment=True
    )
    refund = services.refund_record(
        student=money.child, amount="10.00", method="cash", reason="Overpaid", actor=cashier
    ).refund
    other_refund = services.refund_record(
        student=money.other_child, amount="5.00", method="cash", reason="Overpaid", actor=cashier
    ).refund
    money.refund, money.other_refund = refund, other_refund
    return money


def _body(money, **changes):
    return {"student": str(money.child.pk), "amount": "5.00", "method": "bank_transfer", "reason": "Moved", **changes}


# -- the permission matrix --------------------------------------------------------------


def expect(finance, office, other_office, admin, parent, other_parent, anonymous, *, instructor=403):
    """The instructor teaches the child (``money``): they see the student, never the money."""
    statuses = (finance, office, other_office, admin, instructor, parent, other_parent, anonymous)
    return dict(zip(ACTORS, statuses, strict=True))


ALWAYS_405 = expect(405, 405, 405, 405, 405, 405, 405, instructor=405)
CASES = [
    # office staff hold no refund permission at all; parents read their own children's
    ("refunds-list", "get", lambda m: f"{V1}/refunds/", None, expect(200, 403, 403, 200, 200, 200, 401)),
    ("refunds-get", "get", lambda m: f"{V1}/refunds/{m.refund.pk}/", None, expect(200, 403, 403, 200, 200, 404, 401)),
    ("refunds-post", "post", lambda m: f"{V1}/refunds/", _body, expect(201, 403, 403, 201, 403, 403, 401)),
    ("refunds-put", "put", lambda m: f"{V1}/refunds/{m.refund.pk}/", _body, ALWAYS_405),
    ("refunds-patch", "patch", lambda m: f"{V1}/refunds/{m.refund.pk}/", lambda m: {"amount": "1.00"}, ALWAYS_405),
    ("refunds-delete", "delete", lambda m: f"{V1}/refunds/{m.refund.pk}/", None, ALWAYS_405),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_permission_matrix(refunded, as_user, method, path, body, expected):
    def check(actor):
        # given an actor and an endpoint
        client = as_user(actor)
        data = body(refunded) if body is not None else None
        before = rows()
        # when the actor calls it
        kwargs = {"format": "json"} if data is not None else {}
        response = getattr(client, method)(path(refunded), data, **kwargs)
        # then the status is the one the matrix expects, with an error body where it is an error
        assert response.status_code == expected[actor], response.content
        if response.status_code >= 400:
            assert "detail" in response.json()
        # and a refused write wrote nothing
        if method != "get" and response.status_code >= 400:
            assert rows() == before

    assert_for_each_actor(ACTORS, check)


class _AnyRecord:
    pk = "00000000-0000-0000-0000-000000000000"

    def __getattr__(self, name):
        return _AnyRecord()


def refund_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_AnyRecord()))) for _id, method, path, _body, _expected in CASES}


def test_every_refund_operation_is_in_the_matrix():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete") and path.startswith(f"{V1}/refunds/")
    }
    assert operations == {("get", f"{V1}/refunds/"), ("post", f"{V1}/refunds/"), ("get", f"{V1}/refunds/{{id}}/")}
    assert operations <= refund_operations_covered()


def test_staff_of_another_location_neither_see_nor_refund_a_student_there(refunded, client_for):
    north_finance = staff_user(role=FINANCE, locations=[refunded.other_location], username="finance-north")
    client = client_for(north_finance)
    assert client.get(f"{V1}/refunds/{refunded.refund.pk}/").status_code == 404
    assert client.get(f"{V1}/refunds/").json()["count"] == 0
    before = rows()
    response = client.post(f"{V1}/refunds/", _body(refunded), format="json")
    assert response.status_code == 400 and "student" in response.json()
    assert rows() == before


# -- reading ------------------------------------------------------------------------------------


def test_a_parent_reads_only_their_own_childrens_refunds(refunded, as_user):
    data = as_user("parent").get(f"{V1}/refunds/").json()
    assert [item["id"] for item in data["results"]] == [str(refunded.refund.pk)]
    other = as_user("other_parent").get(f"{V1}/refunds/").json()
    assert [item["id"] for item in other["results"]] == [str(refunded.other_refund.pk)]


def test_the_list_filters_by_student_and_shows_money_as_strings(refunded, as_user, client_for):
    client = as_user("finance")
    data = client.get(f"{V1}/refunds/", {"student": str(refunded.child.pk)}).json()
    assert data["count"] == 1
    item = data["results"][0]
    assert item == {
        "id": str(refunded.refund.pk),
        "student": str(refunded.child.pk),
        "student_number": refunded.child.student_number,
        "amount": "10.00",
        "method": "cash",
        "reference": "",
        "reason": "Overpaid",
        "refunded_by": "cashier",
        "created_at": item["created_at"],
    }
    # a student the caller may not see is a 400 on the parameter, not an empty list
    north = client_for(staff_user(role=FINANCE, locations=[refunded.other_location], username="finance-north"))
    response = north.get(f"{V1}/refunds/", {"student": str(refunded.child.pk)})
    assert response.status_code == 400 and "student" in response.json()


def _grow(money, count: int) -> None:
    for _ in range(count):
        student = StudentFactory(location=money.location)
        services.payment_record(
            actor=money.users["finance"], student=student, amount="20.00", method="cash", confirm_overpayment=True
        )
        services.refund_record(student=student, amount="5.00", method="cash", reason="x", actor=money.users["finance"])


def test_the_list_takes_a_fixed_number_of_queries(refunded, as_user, django_assert_max_num_queries):
    client = as_user("finance")
    client.get(f"{V1}/refunds/")  # warm-up
    _grow(refunded, 2)
    with CaptureQueriesContext(connection) as small:
        client.get(f"{V1}/refunds/")
    _grow(refunded, 10)
    with django_assert_max_num_queries(len(small)):
        response = client.get(f"{V1}/refunds/")
    assert response.json()["count"] == 14


# -- writing ------------------------------------------------------------------------------------


def test_a_refund_pays_credit_back_and_the_ledger_proves_it(refunded, as_user):
    # given 30.00 of credit left on the child's account
    assert credit_available(refunded.child.pk) == Decimal("30.00")
    balance = account_balance(student=refunded.child)
    # when finance refunds 12.50 of it
    response = as_user("finance").post(
        f"{V1}/refunds/", _body(refunded, amount="12.50", reference="TRF-1"), format="json"
    )
    # then the refund is recorded and answered, and the credit goes down by as much
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["amount"], data["method"], data["reference"], data["refunded_by"]) == (
        "12.50",
        "bank_transfer",
        "TRF-1",
        "cashier",
    )
    assert Refund.objects.filter(pk=data["id"], student=refunded.child).exists()
    assert credit_available(refunded.child.pk) == Decimal("17.50")
    assert account_balance(student=refunded.child) == balance + Decimal("12.50")
    assert ledger_verify().problems == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"reason": ""}, "reason"),
        ({"reason": None}, "reason"),
        ({"method": "barter"}, "method"),
        ({"student": "not-a-uuid"}, "student"),
        ({"reference": "x" * 101}, "reference"),
    ],
)
def test_bad_input_is_a_400_on_the_field_and_writes_nothing(changes, field, refunded, as_user):
    before = rows()
    response = as_user("finance").post(f"{V1}/refunds/", _body(refunded, **changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert rows() == before


def test_a_missing_reason_is_a_400(refunded, as_user):
    body = _body(refunded)
    del body["reason"]
    before = rows()
    response = as_user("finance").post(f"{V1}/refunds/", body, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert rows() == before


def test_more_than_the_credit_is_a_409_and_writes_nothing(refunded, as_user):
    before = rows()
    response = as_user("finance").post(f"{V1}/refunds/", _body(refunded, amount="30.01"), format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "Only 30.00 of account credit can be refunded.", "code": "insufficient_credit"}
    assert rows() == before
    assert credit_available(refunded.child.pk) == Decimal("30.00")


def test_an_idempotency_key_replays_the_first_refund(refunded, as_user):
    client = as_user("finance")
    first = client.post(f"{V1}/refunds/", _body(refunded), format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    after_first = rows()
    again = client.post(f"{V1}/refunds/", _body(refunded), format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert rows() == after_first
    other = client.post(f"{V1}/refunds/", _body(refunded, amount="6.00"), format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert rows() == after_first
