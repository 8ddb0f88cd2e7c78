"""Search-as-you-type pickers (``academy.common.widgets.LookupPicker``) and their lookups
(``families.staff_lookup_views``): scoped like every list, a fixed number of queries,
and forms that still accept only what the user may see."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from academy.common.widgets import LookupPicker
from academy.roles import FINANCE, INSTRUCTOR
from families.models import Guardian
from families.staff_forms import GuardianChoiceForm
from finance.staff_forms import InvoiceForm, PaymentForm
from tests.factories.academy import SectionFactory, TermFactory, staff_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = pytest.mark.django_db

STUDENTS = reverse("staff:student-lookup")
GUARDIANS = reverse("staff:guardian-lookup")


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def found(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()["results"]


@pytest.fixture
def okafors(location):
    return [StudentFactory(location=location, first_name=name, last_name="Okafor") for name in ("Ada", "Chidi")]


@pytest.fixture
def northern_okafor(other_location):
    return StudentFactory(location=other_location, first_name="Nneka", last_name="Okafor")


# -- the lookups -----------------------------------------------------------------------


def test_the_student_lookup_finds_by_name_and_number_within_the_users_locations(office, okafors, northern_okafor):
    # given two Okafors at the office's location and one at another location
    client = client_for(office)
    # when the office types a surname, then only their own location's students come back
    results = found(client.get(STUDENTS, {"q": "okaf"}))
    assert [result["label"] for result in results] == ["Ada Okafor", "Chidi Okafor"]
    assert results[0] == {
        "id": str(okafors[0].pk),
        "number": okafors[0].student_number,
        "label": "Ada Okafor",
        "detail": f"{okafors[0].student_number} · Main campus",
        "text": str(okafors[0]),
    }
    # a number finds its student; the other location's number finds nothing
    assert [r["id"] for r in found(client.get(STUDENTS, {"q": okafors[1].student_number}))] == [str(okafors[1].pk)]
    assert found(client.get(STUDENTS, {"q": northern_okafor.student_number})) == []
    assert found(client.get(STUDENTS, {"q": ""})) == []


def test_an_office_of_another_location_gets_none_of_our_students(other_office, okafors, northern_okafor):
    results = found(client_for(other_office).get(STUDENTS, {"q": "okafor"}))
    assert [result["id"] for result in results] == [str(northern_okafor.pk)]
    # asking for our location by id does not widen their scope
    assert found(client_for(other_office).get(STUDENTS, {"q": "okafor", "location": okafors[0].location_id})) == []


def test_the_location_parameter_narrows_and_a_bad_one_finds_nothing(academy_admin, okafors, northern_okafor):
    client = client_for(academy_admin)
    assert len(found(client.get(STUDENTS, {"q": "okafor"}))) == 3
    narrowed = found(client.get(STUDENTS, {"q": "okafor", "location": northern_okafor.location_id}))
    assert [result["id"] for result in narrowed] == [str(northern_okafor.pk)]
    assert found(client.get(STUDENTS, {"q": "okafor", "location": "not-a-uuid"})) == []


def test_the_guardian_lookup_is_scoped_and_can_keep_to_active_guardians(office, other_office, okafors, location):
    ours = okafors[0].guardian_links.get().guardian
    suspended = GuardianFactory(last_name="Okafor", account_status=Guardian.AccountStatus.SUSPENDED)
    StudentFactory(location=location, last_name="Okafor", primary_guardian=suspended)
    client = client_for(office)
    everyone = {result["id"] for result in found(client.get(GUARDIANS, {"q": "okafor"}))}
    assert {str(ours.pk), str(suspended.pk)} <= everyone
    active = {result["id"] for result in found(client.get(GUARDIANS, {"q": "okafor", "status": "active"}))}
    assert str(ours.pk) in active and str(suspended.pk) not in active
    assert found(client_for(other_office).get(GUARDIANS, {"q": "okafor"})) == []


@pytest.mark.parametrize("url", [STUDENTS, GUARDIANS])
def test_parents_and_anonymous_visitors_are_refused(url, family):
    anonymous = Client().get(url, {"q": "a"})
    assert anonymous.status_code == 302 and reverse("staff:login") in anonymous["Location"]
    parent = client_for(family[0].portal_user).get(url, {"q": "a"})
    assert parent.status_code == 302 and parent["Location"] == reverse("portal:dashboard")
    assert "results" not in parent.content.decode()


def test_an_instructor_finds_only_the_students_they_teach(location, okafors):
    teacher = staff_user(role=INSTRUCTOR, username="teacher", locations=[location])
    EnrollmentFactory(student=okafors[0], section=SectionFactory(location=location, instructor=teacher))
    client = client_for(teacher)
    assert [result["id"] for result in found(client.get(STUDENTS, {"q": "okafor"}))] == [str(okafors[0].pk)]
    assert client.get(GUARDIANS, {"q": "okafor"}).status_code == 403  # instructors do not see guardians


def test_a_post_is_refused(office):
    assert client_for(office).post(STUDENTS, {"q": "a"}).status_code == 405


def _queries(client, url, term) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, {"q": term}).status_code == 200
    return len(queries)


def test_the_lookups_cost_a_fixed_number_of_queries_and_return_at_most_twenty(
    office, location, django_assert_max_num_queries
):
    StudentFactory(location=location, first_name="Few", last_name="Zed")
    client = client_for(office)
    client.get(STUDENTS, {"q": "warm"})  # the session and the user's scope, cached for later requests
    few = {url: _queries(client, url, "zed") for url in (STUDENTS, GUARDIANS)}
    for _ in range(30):
        StudentFactory(location=location, last_name="Zed")
    for url in (STUDENTS, GUARDIANS):
        assert _queries(client, url, "zed") == few[url]
        with django_assert_max_num_queries(6):
            assert len(found(client.get(url, {"q": "zed"}))) == 20


# -- forms with a picker ---------------------------------------------------------------


def test_a_form_with_the_picker_still_refuses_a_record_out_of_scope(office, okafors, northern_okafor):
    # a crafted post with another location's student id is an invalid choice
    form = InvoiceForm({"student": str(northern_okafor.pk)}, user=office)
    assert not form.is_valid()
    assert "student" in form.errors
    assert InvoiceForm({"student": str(okafors[0].pk)}, user=office).is_valid()
    # the same for another location's guardian in the admission
    foreign = northern_okafor.guardian_links.get().guardian
    choice = GuardianChoiceForm(
        {"primary-mode": "existing", "primary-existing": str(foreign.pk)}, user=office, prefix="primary"
    )
    assert not choice.is_valid() and "existing" in choice.errors


def test_without_javascript_a_typed_number_is_resolved_within_scope(office, okafors, northern_okafor):
    # the text box alone (no id chosen): an exact number, or a name only one student has
    by_number = InvoiceForm({"student_text": okafors[1].student_number.lower()}, user=office)
    assert by_number.is_valid(), by_number.errors
    assert by_number.cleaned_data["student"] == okafors[1]
    assert InvoiceForm({"student_text": "Ada Okafor"}, user=office).is_valid()
    # several matches, none, or a student out of scope: an invalid choice that shows what was typed
    for typed in ("Okafor", "Nobody", northern_okafor.student_number):
        form = InvoiceForm({"student_text": typed}, user=office)
        assert not form.is_valid()
        assert form.errors["student"] == ["Select a valid choice. That choice is not one of the available choices."]
        assert f'value="{typed}"' in str(form["student"])


def test_the_widget_renders_a_text_box_and_the_chosen_record_only(office, okafors, django_assert_num_queries):
    form = PaymentForm(user=office, initial={"student": okafors[0]})
    with django_assert_num_queries(1):  # the chosen student alone, not the choice list
        html = str(form["student"])
    assert "<select" not in html and "<option" not in html
    assert 'role="combobox"' in html and "data-picker" in html
    assert f'name="student" id="id_student" value="{okafors[0].pk}"' in html
    assert f'value="{okafors[0]}"' in html  # the label of the chosen student
    assert form["student"].id_for_label == "id_student_text"
    assert reverse("staff:student-lookup") in html


def test_text_mode_fills_in_the_number_and_keeps_the_fields_own_checks():
    from django import forms

    class NumberForm(forms.Form):
        number = forms.CharField(max_length=20, widget=LookupPicker(lookup="staff:student-lookup", number_field="n"))

    form = NumberForm({"number": "STU-2025-0001"})
    assert form.is_valid() and form.cleaned_data["number"] == "STU-2025-0001"
    html = str(form["number"])
    assert 'name="number"' in html and 'value="STU-2025-0001"' in html and 'data-mode="text"' in html
    assert 'maxlength="20"' in html and "data-picker-value" not in html


# -- the pages ------------------------------------------------------------------------


def _select_named(html: str, name: str) -> bool:
    return re.search(rf'<select[^>]*name="{name}"', html) is not None


def test_the_pages_show_a_picker_not_a_select_of_every_student(office, location, okafors):
    for _ in range(60):
        StudentFactory(location=location)
    client = client_for(office)
    pages = {
        reverse("staff:finance-payment-new"): ("student", "guardian"),
        reverse("staff:student-admit"): ("primary-existing", "other-existing"),
        reverse("staff:transfer-new"): ("student_number",),
    }
    for url, names in pages.items():
        html = client.get(url).content.decode()
        for name in names:
            assert not _select_named(html, name), (url, name)
            assert re.search(rf'name="{name}(_text)?"[^>]*>', html), (url, name)
        assert html.count("<option") < 60, url
        assert "{#" not in html, url
        assert "js/picker.js" in html
    finance = staff_user(role=FINANCE, username="money", locations=[location])
    html = client_for(finance).get(reverse("staff:finance-invoice-new")).content.decode()
    assert not _select_named(html, "student") and "data-picker" in html


def test_the_payment_page_still_reloads_the_allocation_when_a_student_is_chosen(office, okafors):
    html = client_for(office).get(reverse("staff:finance-payment-new")).content.decode()
    hidden = re.search(r'<input type="hidden" name="student"[^>]*>', html).group(0)
    assert 'hx-get="/staff/finance/payments/new/"' in hidden and 'hx-trigger="change"' in hidden


def test_the_roster_picker_asks_for_students_of_the_sections_location(office, location, okafors):
    section = SectionFactory(location=location, term=TermFactory(status="open"))
    html = client_for(office).get(reverse("staff:section-roster", args=[section.pk])).content.decode()
    assert f"{reverse('staff:student-lookup')}?location={location.pk}" in html
    assert re.search(r'<input type="text" id="id_student" name="student"[^>]*role="combobox"', html)
