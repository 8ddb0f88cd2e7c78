"""Small things a new user hit in the staff portal (issue 12): the status filter offering
"All" twice, guardian fields marked required when they do not apply, a future date of
birth explained as "after the enrollment date", and the import naming a student number
that does not exist yet."""

import datetime
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from families.imports import students_import
from families.services import GuardianLinkSpec, student_admit
from students.models import Student
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_student_lists_status_filter_offers_all_once(office):
    html = client_for(office).get(reverse("staff:student-list")).content.decode()
    status = re.search(r'<select name="status".*?</select>', html, re.S).group(0)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", status) == [
        "All",
        "Active",
        "Inactive",
        "Graduated",
        "Withdrawn",
    ]


def _label(html: str, field_id: str) -> str:
    return re.search(rf'<label for="{field_id}">.*?</label>', html, re.S).group(0)


def _input(html: str, field_id: str) -> str:
    return re.search(rf'<input[^>]*id="{field_id}"[^>]*>', html).group(0)


def test_new_guardian_fields_are_marked_required_only_for_a_new_guardian(office):
    # given the admission form, where the other guardian is optional ("No other guardian")
    html = client_for(office).get(reverse("staff:student-admit")).content.decode()
    for prefix in ("primary_new", "other_new"):
        label = _label(html, f"id_{prefix}-first_name")
        # then the marker is conditional (shown by CSS while "A new guardian" is chosen) ...
        assert 'class="required required-conditional"' in label
        assert 'title="Required for a new guardian"' in label
        # ... and no input claims to be required unconditionally
        assert " required" not in _input(html, f"id_{prefix}-first_name")
    # the student's own required fields keep their plain marker
    assert '<span class="required" aria-hidden="true">*</span>' in _label(html, "id_student-first_name")
    assert 'value="none"' in html and "checked" in re.search(r'<input[^>]*value="none"[^>]*>', html).group(0)


def _admit(location, office, **student):
    data = {"first_name": "Ada", "last_name": "Okafor", "location": location, **student}
    primary = GuardianLinkSpec("primary", data={"first_name": "Ngozi", "last_name": "Okafor", "email": "n@example.org"})
    return student_admit(actor=office, student_data=data, primary=primary, others=[])


def test_a_future_date_of_birth_has_its_own_message(location, office):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        _admit(location, office, date_of_birth=tomorrow)
    messages = caught.value.message_dict
    assert messages["date_of_birth"] == ["Date of birth cannot be in the future."]
    assert "enrollment date" not in str(messages)
    assert not Student.objects.filter(last_name="Okafor").exists()
    # a birth date after a (past) enrollment date is still the constraint's message
    with pytest.raises(ValidationError) as caught:
        _admit(location, office, date_of_birth=datetime.date(2020, 1, 2), enrollment_date=datetime.date(2020, 1, 1))
    assert "The date of birth must not be after the enrollment date." in str(caught.value)


def test_the_admission_page_shows_the_future_date_of_birth_message(location, office):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    data = {
        "student-first_name": "Ada",
        "student-last_name": "Okafor",
        "student-date_of_birth": tomorrow.isoformat(),
        "student-location": str(location.pk),
        "primary-mode": "new",
        "primary_new-first_name": "Ngozi",
        "primary_new-last_name": "Okafor",
        "primary_new-email": "n@example.org",
        "primary_new-phone": "555-0101",
        "primary_new-preferred_communication": "email",
        "other-mode": "none",
        "other-relationship_type": "secondary",
    }
    response = client_for(office).post(reverse("staff:student-admit"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Date of birth cannot be in the future." in html
    assert "must not be after the enrollment date" not in html


HEADER = (
    "first_name,last_name,date_of_birth,location,guardian_first_name,guardian_last_name,guardian_email,guardian_phone"
)


def test_a_duplicate_row_names_the_line_of_the_file_not_a_number_that_will_not_exist(location, office):
    row = "Zoe,Twin,2015-03-01,MAIN,Zed,Twin,zed@example.org,555-0101\n"
    before = Student.all_objects.count()
    report = students_import(file=io.BytesIO((HEADER + "\n" + row * 2).encode()), actor=office, dry_run=False)
    assert [(problem.line, problem.message) for problem in report.problems] == [
        (3, "Line 2 of this file has the same name, date of birth and location.")
    ]
    assert "STU-" not in report.as_text()
    assert Student.all_objects.count() == before


def test_a_duplicate_of_a_student_on_file_names_their_real_number(location, office):
    existing = StudentFactory(location=location, first_name="Zoe", last_name="Twin", date_of_birth="2015-03-01")
    row = "Zoe,Twin,2015-03-01,MAIN,Zed,Twin,zed@example.org,555-0101\n"
    report = students_import(file=io.BytesIO((HEADER + "\n" + row).encode()), actor=office, dry_run=True)
    assert [problem.message for problem in report.problems] == [
        f"Zoe Twin ({existing.student_number}) has the same name and date of birth at this location already."
    ]
