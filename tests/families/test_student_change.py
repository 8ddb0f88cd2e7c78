"""Changing a student's record together with their status is one service,
``students.services.student_change``, used alike by the API's PATCH and the admin's
change form: both or neither, and a refused change is an error, never a 500."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from academy.common.exceptions import Conflict
from students.models import Student
from students.services import student_change, student_change_status
from tests.factories.academy import UserFactory
from tests.factories.families import StudentFactory


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def graduate(db, location):
    student = StudentFactory(location=location, first_name="Gwen")
    return student_change_status(student=student, status="graduated", actor=None)


def test_the_record_and_the_status_change_together(office, location):
    student = StudentFactory(location=location)
    changed = student_change(
        student=student, actor=office, data={"preferred_name": "Sunny"}, status="withdrawn", reason="Moved away"
    )
    student = Student.objects.get(pk=student.pk)
    assert (changed.preferred_name, changed.status) == ("Sunny", "withdrawn")
    assert (student.preferred_name, student.status) == ("Sunny", "withdrawn")
    reasons = list(student.history.order_by("-history_date").values_list("history_change_reason", flat=True)[:2])
    assert reasons == ["Moved away: status changed to withdrawn", "Moved away"]


def test_a_refused_status_change_keeps_the_record_unchanged(office, graduate):
    with pytest.raises(Conflict):
        student_change(student=graduate, actor=office, data={"preferred_name": "Changed"}, status="active")
    student = Student.objects.get(pk=graduate.pk)
    assert (student.preferred_name, student.status) == ("", "graduated")


def _change_form_data(response) -> dict:
    """What the admin's change form posts back unchanged (its fields and inline formsets)."""
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = field.prepare_value(form.initial.get(name, field.initial))
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, datetime.date):
            data[name] = value.isoformat()
        else:
            data[name] = "" if value is None else value
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for subform in formset.forms:
            for name, field in subform.fields.items():
                value = field.prepare_value(subform.initial.get(name, field.initial))
                data[subform.add_prefix(name)] = "" if value is None else value
    return data


def test_the_admin_refuses_a_status_change_with_a_message_and_writes_nothing(client, root, graduate):
    client.force_login(root)
    url = reverse("admin:students_student_change", args=[graduate.pk])
    data = _change_form_data(client.get(url))
    data.update(preferred_name="Changed", status="active")

    response = client.post(url, data)

    assert response.status_code == 302 and response["Location"] == url
    assert any("cannot become active" in str(message) for message in get_messages(response.wsgi_request))
    student = Student.objects.get(pk=graduate.pk)
    assert (student.preferred_name, student.status) == ("", "graduated")


def test_the_admin_saves_the_record_and_the_status_through_the_service(client, root, location):
    student = StudentFactory(location=location)
    client.force_login(root)
    url = reverse("admin:students_student_change", args=[student.pk])
    data = _change_form_data(client.get(url))
    data.update(preferred_name="Sunny", status="withdrawn")

    response = client.post(url, data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    student = Student.objects.get(pk=student.pk)
    assert (student.preferred_name, student.status) == ("Sunny", "withdrawn")
    assert student.history.filter(history_change_reason="Changed in admin: status changed to withdrawn").exists()


def test_the_student_page_in_the_admin_shows_the_guardians(client, root, location):
    """families contributes the guardians inline without importing students.admin."""
    student = StudentFactory(location=location)
    guardian = student.guardian_links.get().guardian
    client.force_login(root)
    response = client.get(reverse("admin:students_student_change", args=[student.pk]))
    assert response.status_code == 200
    inlines = [inline.formset.model.__name__ for inline in response.context["inline_admin_formsets"]]
    assert inlines == ["StudentGuardian"]
    assert str(guardian) in response.content.decode()


def test_the_admin_does_not_revert_a_student_to_an_old_version(client, root, location):
    """Reverting would save a whole old row past the services; the history stays readable."""
    student = StudentFactory(location=location, preferred_name="Old")
    student = student_change(student=student, actor=None, data={"preferred_name": "New"}, status="withdrawn")
    oldest = student.history.order_by("history_date").first()
    client.force_login(root)
    url = reverse("admin:students_student_simple_history", args=[student.pk, oldest.history_id])
    assert client.get(url).status_code == 200

    data = _change_form_data(client.get(url))
    assert client.post(url, data).status_code == 403
    student = Student.objects.get(pk=student.pk)
    assert (student.preferred_name, student.status) == ("New", "withdrawn")
