"""The parent portal's year-end notices (promotion.portal_views): per child, each promotion
record newest first with the new grade and year, and, for the children the parent pays
for, the balance carried into the new year with each invoice that carries it.

Permission matrix (the child's guardian, another family's guardian, a linked guardian
who does not pay, staff of every kind, anonymous, a suspended guardian), what the page
shows, the links to it, and a fixed number of queries."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from academy.common.money import money_format
from academy.jobs import job_run
from finance.models import Invoice
from finance.services import invoice_carry_forward
from promotion import services
from promotion.models import CONTINUING, PromotionRecord
from students.models import Student
from tests.factories.academy import AcademicYearFactory, admin_user, finance_user, instructor_user, parent_user
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db

PORTAL_LOGIN = "/portal/login/"
LIST = "/portal/promotions/"


def child_url(student) -> str:
    return f"/portal/children/{student.pk}/promotions/"


@pytest.fixture
def cashier(db):
    return finance_user(username="cashier")


@pytest.fixture
def parent(family):
    return family[0].portal_user


def promote(student, *, years, from_grade, to_grade, outcome="promoted", actor=None, corrects=None, notes=""):
    """What a run's execution leaves for one student: each open invoice of a student who
    stays on carried into the new year (``finance.services.invoice_carry_forward``, the
    promotion's description), and the record with the amount carried."""
    old, new = years
    carried = Decimal("0.00")
    if outcome in CONTINUING:
        said = f"Carried forward from {from_grade} to {to_grade or from_grade}"
        for invoice in Invoice.objects.filter(student=student, status__in=Invoice.OPEN_STATUSES):
            carried += invoice_carry_forward(invoice=invoice, actor=actor, academic_year=new, description=said).total
    return PromotionRecord.objects.create(
        student=student,
        from_year=old,
        to_year=new,
        from_grade=from_grade,
        to_grade=to_grade if outcome in CONTINUING else None,
        outcome=outcome,
        carried_amount=carried,
        carry_status="carried_forward" if carried else "none",
        corrects=corrects,
        notes=notes,
    )


@pytest.fixture
def promoted(family, years, grades, cashier):
    """The first Johnson child moves up from Grade 1 to Grade 2 with two open invoices
    (100.00, and 80.00 of which 30.00 paid) carried into 2026-27; the second graduates."""
    from finance.services.payments import payment_record

    _guardian, (first, second) = family
    first_grade, second_grade, third_grade = grades
    owed = [issue(first, "100.00", actor=cashier), issue(first, "80.00", actor=cashier)]
    payment_record(
        actor=cashier, amount=Decimal("30.00"), method="cash", student=first, allocations=[(owed[1], Decimal("30.00"))]
    )
    record = promote(first, years=years, from_grade=first_grade, to_grade=second_grade, actor=cashier)
    graduate = promote(second, years=years, from_grade=third_grade, to_grade=None, outcome="graduated")
    return {"record": record, "graduate": graduate, "owed": owed, "child": first, "sibling": second}


def carried_invoices(child):
    return list(Invoice.objects.filter(student=child, carried_from__isnull=False).order_by("invoice_number"))


# --- URL names --------------------------------------------------------------------------------


def test_the_urls_are_named_in_the_portal_namespace(family):
    child = family[1][0]
    assert reverse("portal:promotions") == LIST
    assert reverse("portal:child-promotions", kwargs={"pk": child.pk}) == child_url(child)


# --- permission matrix ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_portal_login(client, promoted):
    for url in (LIST, child_url(promoted["child"])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{PORTAL_LOGIN}?next={url}"


def test_the_childs_guardian_opens_both_pages(client, parent, promoted):
    client.force_login(parent)
    for url in (LIST, child_url(promoted["child"]), child_url(promoted["sibling"])):
        assert client.get(url).status_code == 200, url


def test_another_family_gets_a_404_for_the_child_and_sees_nothing_of_them(client, promoted, other_family, years):
    garcia = other_family[1][0]
    client.force_login(other_family[0].portal_user)
    response = client.get(child_url(promoted["child"]))
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    response = client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    # only their own child, without a notice; nothing of the Johnsons
    assert [entry.child for entry in response.context["children"]] == [garcia]
    assert 'data-testid="promotion-record"' not in html
    for child in (promoted["child"], promoted["sibling"]):
        assert child.student_number not in html and child.full_name not in html
    for invoice in carried_invoices(promoted["child"]):
        assert invoice.invoice_number not in html


def test_an_unknown_child_is_a_404(client, parent):
    client.force_login(parent)
    assert client.get(f"/portal/children/{uuid.uuid4()}/promotions/").status_code == 404
    assert client.get("/portal/children/not-a-uuid/promotions/").status_code == 404


def test_staff_of_every_kind_are_sent_to_the_staff_portal(client, promoted, office, academy_admin, location):
    teacher = instructor_user(username="teacher", locations=[location])
    cashier = finance_user(username="cashier-2", locations=[location])
    for user in (office, academy_admin, teacher, cashier):
        client.force_login(user)
        for url in (LIST, child_url(promoted["child"])):
            response = client.get(url)
            assert (response.status_code, response["Location"]) == (302, "/staff/"), (user.username, url)


def test_a_suspended_guardian_is_refused(client, family, parent, promoted):
    type(family[0]).objects.filter(pk=family[0].pk).update(account_status="suspended")
    client.force_login(parent)
    for url in (LIST, child_url(promoted["child"])):
        assert client.get(url).status_code == 403, url


def test_a_parent_login_without_a_guardian_record_is_refused(client, promoted):
    client.force_login(parent_user(username="nobody"))
    assert client.get(LIST).status_code == 403


def test_a_linked_guardian_who_does_not_pay_sees_the_notice_without_any_money(client, promoted):
    """The rule of the portal's money pages: money only for the children one pays for."""
    stepdad = GuardianFactory(portal_user=parent_user(username="stepdad"), last_name="Miller")
    StudentGuardianFactory(student=promoted["child"], guardian=stepdad, is_financially_responsible=False)
    client.force_login(stepdad.portal_user)
    response = client.get(LIST)
    html = response.content.decode()
    # only the child they are linked to, with the new grade ...
    assert [entry.child for entry in response.context["children"]] == [promoted["child"]]
    assert 'data-testid="new-grade">Grade 2<' in html
    assert promoted["sibling"].full_name not in html
    # ... and no amount, no invoice
    assert 'data-testid="carried"' not in html
    assert money_format(Decimal("150.00")) not in html
    for invoice in [*promoted["owed"], *carried_invoices(promoted["child"])]:
        assert invoice.invoice_number not in html
    assert client.get(child_url(promoted["sibling"])).status_code == 404
    # once they pay for the child too, the carried balance shows
    stepdad.student_links.update(is_financially_responsible=True)
    assert 'data-testid="carried"' in client.get(child_url(promoted["child"])).content.decode()


def test_the_api_gives_a_linked_guardian_who_does_not_pay_the_promotion_without_the_money(client, parent, promoted):
    """The API keeps the portal's rule: the record, with ``carried_amount`` null."""
    child = promoted["child"]
    url = f"/api/v1/students/{child.pk}/promotions/"
    stepdad = GuardianFactory(portal_user=parent_user(username="stepdad"), last_name="Miller")
    StudentGuardianFactory(student=child, guardian=stepdad, is_financially_responsible=False)
    client.force_login(parent)
    [paying] = client.get(url).json()
    assert Decimal(paying["carried_amount"]) == Decimal("150.00")
    client.force_login(stepdad.portal_user)
    [seen] = client.get(url).json()
    assert seen["to_grade"] == paying["to_grade"]
    assert seen["carried_amount"] is None
    stepdad.student_links.update(is_financially_responsible=True)
    assert Decimal(client.get(url).json()[0]["carried_amount"]) == Decimal("150.00")


# --- what the page shows ----------------------------------------------------------------------


def test_the_notice_shows_the_new_grade_year_carried_amount_and_each_carried_invoice(client, parent, promoted):
    child = promoted["child"]
    client.force_login(parent)
    response = client.get(child_url(child))
    html = response.content.decode()
    assert html.count('data-testid="promotion-record"') == 1
    assert f"{child.first_name} moves up from Grade 1 to Grade 2 for 2026-27." in html
    assert 'data-testid="new-grade">Grade 2<' in html
    assert 'data-testid="new-year">2026-27<' in html
    # 100.00 and the 50.00 left of 80.00
    assert promoted["record"].carried_amount == Decimal("150.00")
    assert f'data-testid="carried-amount">{money_format(Decimal("150.00"))}<' in html
    carried = carried_invoices(child)
    assert len(carried) == 2 and html.count('data-testid="carried-invoice"') == 2
    for invoice in carried:
        link = reverse("portal:money-invoice", args=[invoice.pk])
        assert f'href="{link}" data-testid="carried-invoice-link">{invoice.invoice_number}<' in html
        assert invoice.carried_from.invoice_number in html  # "Carried forward from Grade 1 to Grade 2 (INV-...)"
        assert client.get(link).status_code == 200  # the invoice's own page under Money
    assert "Carried forward from Grade 1 to Grade 2" in html
    assert money_format(Decimal("50.00")) in html


def test_the_list_shows_every_child_with_their_own_notice(client, parent, promoted):
    client.force_login(parent)
    response = client.get(LIST)
    html = response.content.decode()
    entries = {entry.child.pk: entry for entry in response.context["children"]}
    assert set(entries) == {promoted["child"].pk, promoted["sibling"].pk}
    assert [n.record for n in entries[promoted["child"].pk].notices] == [promoted["record"]]
    assert [n.record for n in entries[promoted["sibling"].pk].notices] == [promoted["graduate"]]
    assert html.count('data-testid="promotion-record"') == 2
    assert f"{promoted['sibling'].first_name} graduated from Grade 3. Congratulations!" in html
    assert 'data-testid="new-grade">Graduated<' in html
    # the graduate carried nothing: one carried section, the first child's
    assert html.count('data-testid="carried"') == 1


def test_a_child_who_stays_on_and_one_without_notice(client, family, parent, years, grades):
    first, second = family[1]
    promote(first, years=years, from_grade=grades[0], to_grade=grades[0], outcome="detained")
    client.force_login(parent)
    html = client.get(LIST).content.decode()
    assert f"{first.first_name} stays in Grade 1 for 2026-27." in html
    assert 'data-testid="new-grade">Grade 1<' in html
    assert 'data-testid="carried"' not in html  # nothing was owed
    assert f"No year-end notice for {second.first_name} yet." in html


def test_records_are_newest_first_and_a_corrected_one_shows_as_its_correction(client, family, parent, years, grades):
    child = family[1][0]
    first, second, third = grades
    earlier = AcademicYearFactory(
        name="2024-25", start_date=datetime.date(2024, 8, 1), end_date=datetime.date(2025, 7, 31), is_current=False
    )
    PromotionRecord.objects.create(
        student=child, from_year=earlier, to_year=years[0], from_grade=first, to_grade=first, outcome="detained"
    )
    wrong = promote(child, years=years, from_grade=first, to_grade=second)
    right = promote(child, years=years, from_grade=first, to_grade=third, corrects=wrong, notes="Skipped a grade")
    client.force_login(parent)
    response = client.get(child_url(child))
    html = response.content.decode()
    records = [notice.record for notice in response.context["children"][0].notices]
    assert [r.from_year.name for r in records] == ["2025-26", "2024-25"]
    assert records[0] == right
    assert 'data-testid="new-grade">Grade 3<' in html and 'data-testid="new-grade">Grade 2<' not in html
    assert "Skipped a grade" not in html  # the office's notes stay in the office


def test_the_child_page_and_the_dashboard_link_to_the_notices(client, parent, family):
    child = family[1][0]
    client.force_login(parent)
    assert f'href="{child_url(child)}"' in client.get(reverse("portal:child", args=[child.pk])).content.decode()
    assert f'href="{LIST}"' in client.get("/portal/").content.decode()


def test_after_a_real_run_the_parent_sees_the_run_s_carried_invoice(
    client, parent, family, location, years, grades, clerk, cashier, django_capture_on_commit_callbacks
):
    """The whole way: the run's own execution writes what the page reads."""
    old, new = years
    child = family[1][0]
    Student.objects.filter(pk__in=[c.pk for c in family[1]]).update(grade_level=grades[0], academic_year=old)
    owed = issue(child, "120.00", actor=cashier)
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    run = services.run_preview(run=run, actor=clerk)
    run = services.run_approve(run=run, actor=admin_user(username="principal"))
    with django_capture_on_commit_callbacks(execute=False):
        job = services.run_start(run=run, actor=run.approved_by)
    with django_capture_on_commit_callbacks(execute=True):
        job_run(job.pk)
    client.force_login(parent)
    html = client.get(child_url(child)).content.decode()
    assert 'data-testid="new-grade">Grade 2<' in html and 'data-testid="new-year">2026-27<' in html
    successor = Invoice.objects.get(carried_from=owed)
    assert f'data-testid="carried-amount">{money_format(Decimal("120.00"))}<' in html
    assert f">{successor.invoice_number}<" in html and owed.invoice_number in html


# --- queries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("children", [1, 5])
def test_a_fixed_number_of_queries_whatever_the_children_records_and_invoices(
    client, location, years, grades, cashier, django_assert_max_num_queries, children
):
    first, second, _third = grades
    earlier = AcademicYearFactory(
        name="2024-25", start_date=datetime.date(2024, 8, 1), end_date=datetime.date(2025, 7, 31), is_current=False
    )
    guardian = GuardianFactory(portal_user=parent_user(username="many"))
    kids = [StudentFactory(location=location, primary_guardian=guardian) for _ in range(children)]
    for kid in kids:
        PromotionRecord.objects.create(
            student=kid, from_year=earlier, to_year=years[0], from_grade=first, to_grade=first, outcome="detained"
        )
        issue(kid, "10.00", actor=cashier)
        issue(kid, "20.00", actor=cashier)
        promote(kid, years=years, from_grade=first, to_grade=second, actor=cashier)
    client.force_login(guardian.portal_user)
    # session, user, permissions (2), groups, guardian, children, paying children, records,
    # carried invoices, unread count: the same for one child as for five
    with django_assert_max_num_queries(11):
        response = client.get(LIST)
    html = response.content.decode()
    assert html.count('data-testid="promotion-record"') == 2 * children
    assert html.count('data-testid="carried-invoice"') == 2 * children
