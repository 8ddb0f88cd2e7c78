"""Only someone who may see a student's medical details may write them, through every
interface: the staff form leaves the fields out, the service (so the API and the admin)
refuses a change with a field error and writes nothing."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from academy import authz
from students.services import student_update
from tests.factories.academy import finance_user
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(location):
    """Finance staff (no medical permission) who were also given the right to change students."""
    user = finance_user(username="clerk", locations=[location])
    user.user_permissions.add(Permission.objects.get(codename="change_student", content_type__app_label="students"))
    authz.forget(user)
    return user


@pytest.fixture
def student(location):
    return StudentFactory(location=location, allergies="Peanuts")


def test_the_service_refuses_a_medical_change_and_writes_nothing(clerk, student):
    city = student.city
    with pytest.raises(ValidationError) as error:
        student_update(student=student, actor=clerk, data={"allergies": "", "city": "Shelbyville"})
    assert set(error.value.message_dict) == {"allergies"}
    student.refresh_from_db()
    assert (student.allergies, student.city) == ("Peanuts", city)
    # the rest of the record still changes
    student_update(student=student, actor=clerk, data={"city": "Shelbyville"})
    student.refresh_from_db()
    assert (student.allergies, student.city) == ("Peanuts", "Shelbyville")


def test_office_staff_may_change_medical_details(office, student):
    student_update(student=student, actor=office, data={"allergies": "Peanuts, shellfish"})
    student.refresh_from_db()
    assert student.allergies == "Peanuts, shellfish"


def test_the_edit_page_leaves_the_medical_fields_out(clerk, office, student):
    client = Client()
    client.force_login(clerk)
    page = client.get(reverse("staff:student-edit", args=[student.pk]))
    assert page.status_code == 200
    assert "allergies" not in page.context["form"].fields
    assert "Peanuts" not in page.content.decode()
    client.force_login(office)
    assert "allergies" in client.get(reverse("staff:student-edit", args=[student.pk])).context["form"].fields


def test_the_api_answers_400_on_the_medical_field(clerk, student):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=clerk).key}")
    response = client.patch(f"/api/v1/students/{student.pk}/", {"allergies": ""}, format="json")
    assert response.status_code == 400
    assert "allergies" in response.json()
    student.refresh_from_db()
    assert student.allergies == "Peanuts"
