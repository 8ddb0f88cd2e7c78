"""Django admin actions ask for the permission their service asks for in the staff
portal and the API, never only "view": cancelling an invoice needs
``finance.change_invoice``, deciding an adjustment ``finance.approve_adjustment`` and
cancelling a session package ``finance.change_sessionpackage``."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from finance.models import Adjustment, Invoice, SessionPackage
from finance.services import adjustment_request
from tests.factories.academy import UserFactory, finance_user
from tests.factories.finance import SessionPackageFactory, issue


def admin_staff(username: str, *permissions: str):
    """A user who may sign in to the admin and holds exactly ``permissions``."""
    user = UserFactory(username=username, is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _invoice(student):
    return issue(student, "120.00")


def _adjustment(student):
    invoice = issue(student, "120.00")
    return adjustment_request(
        invoice=invoice,
        kind="discount",
        amount=Decimal("20.00"),
        reason="Sibling",
        actor=finance_user(username="asker"),
    )


def _package(student):
    return SessionPackageFactory(student=student)


# action, changelist, the object, the model, the status before and after, view and action permissions
ACTIONS = {
    "cancel_invoices": (
        "admin:finance_invoice_changelist",
        _invoice,
        Invoice,
        Invoice.Status.PENDING,
        Invoice.Status.CANCELLED,
        "finance.view_invoice",
        "finance.change_invoice",
    ),
    "approve": (
        "admin:finance_adjustment_changelist",
        _adjustment,
        Adjustment,
        Adjustment.Status.REQUESTED,
        Adjustment.Status.APPROVED,
        "finance.view_adjustment",
        "finance.approve_adjustment",
    ),
    "reject": (
        "admin:finance_adjustment_changelist",
        _adjustment,
        Adjustment,
        Adjustment.Status.REQUESTED,
        Adjustment.Status.REJECTED,
        "finance.view_adjustment",
        "finance.approve_adjustment",
    ),
    "cancel_packages": (
        "admin:finance_sessionpackage_changelist",
        _package,
        SessionPackage,
        SessionPackage.Status.ACTIVE,
        SessionPackage.Status.CANCELLED,
        "finance.view_sessionpackage",
        "finance.change_sessionpackage",
    ),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_a_view_only_user_neither_sees_nor_runs_the_action(client, student, action):
    changelist, make, model, before, _after, view, _needed = ACTIONS[action]
    target = make(student)
    assert target.status == before
    client.force_login(admin_staff("viewer", view))

    # given a staff user who may only view, the list offers no such action
    page = client.get(reverse(changelist))
    assert page.status_code == 200
    assert f'value="{action}"' not in page.content.decode()

    # when they post the action anyway, nothing changes
    response = client.post(reverse(changelist), {"action": action, "_selected_action": [str(target.pk)]})
    assert response.status_code in (200, 302)
    target = model.objects.get(pk=target.pk)
    assert target.status == before


@pytest.mark.parametrize("action", ACTIONS)
def test_the_permission_the_service_needs_runs_the_action(client, student, action):
    changelist, make, model, _before, after, view, needed = ACTIONS[action]
    target = make(student)
    client.force_login(admin_staff("decider", view, needed))

    page = client.get(reverse(changelist))
    assert f'value="{action}"' in page.content.decode()

    response = client.post(reverse(changelist), {"action": action, "_selected_action": [str(target.pk)]})
    assert response.status_code == 302
    assert model.objects.get(pk=target.pk).status == after


def test_office_staff_in_the_admin_cannot_cancel_invoices(client, student):
    """The office role views invoices but may not cancel them (no finance.change_invoice)."""
    from academy.roles import OFFICE_STAFF

    invoice = _invoice(student)
    client.force_login(UserFactory(username="desk", is_staff=True, roles=[OFFICE_STAFF]))
    client.post(
        reverse("admin:finance_invoice_changelist"),
        {"action": "cancel_invoices", "_selected_action": [str(invoice.pk)]},
    )
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PENDING
