"""Grants (roles, permissions, location limits) are cached across requests and forgotten
as soon as anything that could change them changes."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from academy import authz
from academy.roles import OFFICE_STAFF
from academy.services import api_token_issue
from tests.factories.academy import LocationFactory, staff_user
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

STUDENTS = "/api/v1/students/"


@pytest.fixture
def office_client(location):
    user = staff_user()  # no location limit: every student
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user)}")
    client.user = user
    return client


def _grant_queries(client, url=STUDENTS) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in ctx.captured_queries if "auth_permission" in q["sql"] or "auth_group" in q["sql"]]


def test_a_second_request_reads_no_grants_from_the_database(office_client):
    assert _grant_queries(office_client)  # the first request reads them
    assert _grant_queries(office_client) == []


def test_leaving_the_role_group_takes_effect_on_the_next_request(office_client):
    assert office_client.get(STUDENTS).status_code == 200
    office_client.user.groups.remove(Group.objects.get(name=OFFICE_STAFF))
    assert office_client.get(STUDENTS).status_code == 403


def test_a_permission_taken_from_the_group_takes_effect_on_the_next_request(office_client):
    assert office_client.get(STUDENTS).status_code == 200
    group = Group.objects.get(name=OFFICE_STAFF)
    group.permissions.remove(Permission.objects.get(codename="view_student"))
    assert office_client.get(STUDENTS).status_code == 403


def test_a_new_location_limit_takes_effect_on_the_next_request(office_client, location):
    elsewhere = LocationFactory(code="ELSE")
    StudentFactory(location=location)
    StudentFactory(location=elsewhere)
    assert office_client.get(STUDENTS).json()["count"] == 2
    office_client.user.locations.add(elsewhere)
    assert office_client.get(STUDENTS).json()["count"] == 1


def test_deactivating_a_user_is_immediate(office_client):
    assert office_client.get(STUDENTS).status_code == 200
    office_client.user.is_active = False
    office_client.user.save()
    assert office_client.get(STUDENTS).status_code == 401


def test_a_login_stamp_does_not_forget_every_grant(office_client):
    office_client.get(STUDENTS)
    version = authz.version()
    office_client.user.save(update_fields=["last_login"])
    assert authz.version() == version
    office_client.user.save(update_fields=["first_name"])
    assert authz.version() != version
