"""Money typed in is a plain decimal everywhere: "1e3", "NaN", "1,000" or "10.001" are
refused with a message saying what to type, by the one parser (``money_parse``) behind
the staff forms' ``MoneyFormField``, the API's ``MoneyField``, the admin's model form
fields and the services themselves; nothing is written."""

import re
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from academy.api.fields import MoneyField
from academy.common.money import MoneyFormField, money_parse
from academy.models import Program
from enrollment.api.serializers import EnrollmentCreateSerializer
from enrollment.models import Enrollment
from enrollment.staff_forms import EnrollmentOptionsForm
from finance import services
from finance.models import FeeStructure, FinancePolicy, Payment, Refund
from finance.staff_forms import AdjustmentRequestForm, InvoiceLineForm, RefundForm
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

REFUSED = [
    ("1e3", "exponent notation"),
    ("1E3", "exponent notation"),
    ("NaN", "in figures"),
    ("Infinity", "in figures"),
    ("-inf", "in figures"),
    ("1,000", "without thousands separators"),
    ("1 000", "without thousands separators"),
    ("10,50", "without thousands separators"),
    ("10.001", "at most 2 decimal places"),
    ("0x10", "such as 150.00"),
    ("12abc", "such as 150.00"),
    ("+5", "such as 150.00"),
    ("12345678901", "too large"),
]
ACCEPTED = [("1000", D("1000.00")), ("1000.5", D("1000.50")), ("1000.50", D("1000.50")), (" 25 ", D("25.00"))]


# --- the parser and the two fields ------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_the_parser_refuses_anything_but_a_plain_decimal(text, message):
    with pytest.raises(ValidationError) as refused:
        money_parse(text)
    assert message in refused.value.messages[0]


@pytest.mark.parametrize(("text", "value"), ACCEPTED)
def test_the_form_field_takes_plain_decimals(text, value):
    assert MoneyFormField().clean(text) == value


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_the_form_field_refuses_with_the_parser_message(text, message):
    with pytest.raises(ValidationError) as refused:
        MoneyFormField().clean(text)
    assert message in refused.value.messages[0]


def test_the_form_field_is_a_text_box_with_the_decimal_keypad():
    # a browser's type=number box would itself take "1e3"
    field = MoneyFormField()
    rendered = field.widget.render("amount", "")
    assert 'type="text"' in rendered and 'inputmode="decimal"' in rendered


@pytest.mark.parametrize(("text", "message"), [*REFUSED, (1e3, "as a string"), (1000.5, "as a string"), (True, "")])
def test_the_api_field_refuses_with_the_parser_message(text, message):
    from rest_framework.exceptions import ValidationError as ApiValidationError

    with pytest.raises(ApiValidationError) as refused:
        MoneyField().run_validation(text)
    assert message in str(refused.value.detail[0])


@pytest.mark.parametrize(("text", "value"), [*ACCEPTED, (1000, D("1000.00"))])
def test_the_api_field_takes_plain_decimals_and_json_integers(text, value):
    assert MoneyField().run_validation(text) == value


# --- staff forms ------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _payment_key(client) -> str:
    body = client.get(reverse("staff:finance-payment-new")).content.decode()
    return re.search(r'name="idempotency_key" value="([^"]+)"', body).group(1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e3", "exponent notation"),
        ("1E3", "exponent notation"),
        ("NaN", "in figures"),
        ("1,000", "without thousands separators"),
        ("10.001", "at most 2 decimal places"),
    ],
)
def test_the_staff_payment_form_refuses_a_money_typo_and_records_nothing(money, text, message):
    # given the cashier's payment form
    client = _client(money.users["finance"])
    data = {"student": money.child.pk, "amount": text, "method": "cash", "idempotency_key": _payment_key(client)}
    before = money_rows()
    # when the amount is not a plain decimal
    response = client.post(reverse("staff:finance-payment-new"), data)
    # then the form says what to type and nothing is recorded
    assert response.status_code == 400
    assert message in response.context["form"].errors["amount"][0]
    assert money_rows() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "value"), [("100", D("100.00")), ("100.5", D("100.50")), ("100.50", D("100.50"))])
def test_the_staff_payment_form_records_a_plain_decimal(money, text, value):
    client = _client(money.users["finance"])
    data = {"student": money.child.pk, "amount": text, "method": "cash", "idempotency_key": _payment_key(client)}
    response = client.post(reverse("staff:finance-payment-new"), data)
    assert response.status_code == 302
    assert Payment.objects.get(idempotency_key=data["idempotency_key"]).amount == value


@pytest.mark.parametrize(
    "form",
    [
        lambda text: RefundForm({"amount": text, "method": "cash", "reason": "x", "idempotency_key": "k"}),
        lambda text: AdjustmentRequestForm({"kind": "discount", "amount": text, "reason": "x"}),
        lambda text: EnrollmentOptionsForm({"enrollment_fee": text, "waitlist": "on"}),
        lambda text: EnrollmentOptionsForm({"session_rate": text, "waitlist": "on"}),
    ],
    ids=["refund", "adjustment", "enrollment-fee", "session-rate"],
)
@pytest.mark.parametrize(("text", "message"), [("1e3", "exponent"), ("NaN", "in figures"), ("1,000", "separators")])
def test_every_staff_money_field_refuses_the_same_typos(form, text, message):
    bound = form(text)
    assert not bound.is_valid()
    assert any(message in error for errors in bound.errors.values() for error in errors)


@pytest.mark.django_db
def test_the_invoice_line_form_refuses_exponent_notation(money):
    line = InvoiceLineForm({"fee_type": money.fee_type.pk, "unit_amount": "1e3"}, user=money.users["finance"])
    assert not line.is_valid() and "exponent notation" in line.errors["unit_amount"][0]


def test_the_enrollment_form_takes_a_plain_decimal():
    form = EnrollmentOptionsForm({"enrollment_fee": "1000.5", "session_rate": "12", "waitlist": "on"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["enrollment_fee"] == D("1000.50") and form.cleaned_data["session_rate"] == D("12.00")


# --- the API ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1e3", "exponent notation"),
        ("1E3", "exponent notation"),
        ("NaN", "in figures"),
        ("1,000", "without thousands separators"),
        ("10.001", "at most 2 decimal places"),
        (1e3, "as a string"),
    ],
)
def test_the_payments_api_refuses_a_money_typo_with_a_400(money, as_user, amount, message):
    before = money_rows()
    body = {"student": str(money.child.pk), "amount": amount, "method": "cash"}
    response = as_user("finance").post(f"{V1}/payments/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in response.json()["amount"][0]
    assert money_rows() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("amount", "value"), [("100", "100.00"), ("100.5", "100.50"), ("100.50", "100.50")])
def test_the_payments_api_takes_a_plain_decimal(money, as_user, amount, value):
    body = {"student": str(money.child.pk), "amount": amount, "method": "cash"}
    response = as_user("finance").post(f"{V1}/payments/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == value


@pytest.mark.django_db
def test_every_finance_api_money_input_refuses_exponent_notation(money, as_user):
    client = as_user("finance")
    services.payment_record(
        actor=money.users["finance"], student=money.other_child, amount="100", method="cash", confirm_overpayment=True
    )  # 20.00 of credit to refund
    cases = [
        (
            "refunds/",
            {"student": str(money.other_child.pk), "amount": "1e1", "method": "cash", "reason": "x"},
            "amount",
        ),
        (
            "adjustments/",
            {"invoice": str(money.invoice.pk), "kind": "discount", "amount": "1e1", "reason": "x"},
            "amount",
        ),
        (
            "invoices/",
            {"student": str(money.child.pk), "lines": [{"fee_type": str(money.fee_type.pk), "unit_amount": "1e3"}]},
            "lines[0].unit_amount",
        ),
        (
            "fee-structures/",
            {"name": "X", "location": str(money.location.pk), "fee_type": str(money.fee_type.pk), "amount": "1e3"},
            "amount",
        ),
        ("session-packages/", {"student": str(money.child.pk), "sessions": 5, "price": "1e3"}, "price"),
        (
            "payments/",
            {
                "student": str(money.child.pk),
                "amount": "10.00",
                "method": "cash",
                "allocations": [{"invoice": str(money.invoice.pk), "amount": "1e1"}],
            },
            "allocations[0].amount",
        ),
    ]
    before = money_rows(), Refund.objects.count()
    for path, body, field in cases:
        response = client.post(f"{V1}/{path}", body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert "exponent notation" in response.json()[field][0], (path, response.json())
    assert (money_rows(), Refund.objects.count()) == before


@pytest.mark.parametrize("name", ["enrollment_fee", "session_rate"])
def test_the_enrollment_api_money_inputs_are_plain_decimals(name):
    field = EnrollmentCreateSerializer().fields[name]
    assert isinstance(field, MoneyField)
    from rest_framework.exceptions import ValidationError as ApiValidationError

    with pytest.raises(ApiValidationError):
        field.run_validation("1e3")
    assert field.run_validation("12.5") == D("12.50")


# --- the admin and the services ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (FeeStructure, "amount"),
        (FinancePolicy, "hold_threshold"),
        (FinancePolicy, "late_fee_amount"),
        (Enrollment, "enrollment_fee"),
        (Program, "makeup_fee"),
    ],
)
def test_model_forms_and_the_admin_get_the_money_field(model, name):
    field = model._meta.get_field(name).formfield()
    assert isinstance(field, MoneyFormField)
    with pytest.raises(ValidationError):
        field.clean("1e3")


@pytest.mark.django_db
def test_the_admin_refuses_exponent_notation_in_a_fee_structure(money):
    money.users["admin"].is_superuser = money.users["admin"].is_staff = True
    money.users["admin"].save()
    client = _client(money.users["admin"])
    url = reverse("admin:finance_feestructure_change", args=[money.structure.pk])
    data = {
        "name": money.structure.name,
        "location": money.structure.location_id,
        "fee_type": money.structure.fee_type_id,
        "amount": "1e3",
        "frequency": money.structure.frequency,
        "due_days": money.structure.due_days,
        "is_active": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert "exponent notation" in response.content.decode()
    money.structure.refresh_from_db()
    assert money.structure.amount == D("150.00")


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["1e3", "NaN", "1,000", "10.001"])
def test_the_services_refuse_money_text_that_is_not_a_plain_decimal(money, amount):
    before = money_rows()
    with pytest.raises(ValidationError) as refused:
        services.payment_record(actor=money.users["finance"], student=money.child, amount=amount, method="cash")
    assert "amount" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.invoice_issue(
            student=money.child,
            lines=[services.LineSpec(fee_type=money.fee_type, unit_amount=amount)],
            actor=money.users["finance"],
        )
    assert "lines[0].unit_amount" in refused.value.message_dict
    assert money_rows() == before
