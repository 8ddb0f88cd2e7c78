"""The staff portal's location transfer pages: who may open them, requesting (with form
errors and nothing written on bad input), approving, rejecting and applying from the
transfer's page (refusals shown as messages, nothing written), the link on the student's
page, CSRF, and a fixed number of queries for the list."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enrollment import transfers
from enrollment.models import Enrollment
from students.models import LocationTransfer, Student
from tests.enrollment.conftest import term_running_today
from tests.factories.academy import LocationFactory, UserFactory, instructor_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def structure(structure):
    """The API world's term runs today (a term past its end takes no enrollment)."""
    return term_running_today(structure)


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def request(student, to_location, actor, **kwargs):
    kwargs.setdefault("transfer_type", "standard")
    kwargs.setdefault("reason", "Moving house")
    kwargs.setdefault("effective_date", datetime.date(2025, 10, 1))
    return transfers.transfer_request(student=student, to_location=to_location, actor=actor, **kwargs)


def state() -> dict:
    return {
        "transfers": sorted(LocationTransfer.objects.values_list("pk", "status")),
        "transfer history": LocationTransfer.history.count(),
        "students at": sorted(Student.all_objects.values_list("pk", "location_id")),
        "enrollments": sorted(Enrollment.objects.values_list("pk", "status")),
    }


@pytest.fixture
def pages(world):
    """The API world plus a requested transfer of the first child (with an enrollment at
    the main location) to the north location, requested by the office."""
    enrollment = EnrollmentFactory(student=world.child, section=world.s.section, session_rate=Decimal("10.00"))
    transfer = request(world.child, world.other_location, world.users["office"])
    return world, transfer, enrollment


# --- who may open what --------------------------------------------------------------------


def test_permission_matrix_of_the_pages(pages):
    world, transfer, _ = pages
    north_bound_url = reverse("staff:transfer-detail", args=[transfer.pk])
    for name, args in (("staff:transfer-list", []), ("staff:transfer-detail", [transfer.pk])):
        url = reverse(name, args=args)
        for actor in ("office", "admin", "other_office"):  # other_office: the transfer goes to north
            assert client_for(world.users[actor]).get(url).status_code == 200, (name, actor)
        assert client_for(instructor_user(username="teacher")).get(url).status_code == 403
        for parent in ("parent", "other_parent"):
            response = client_for(world.users[parent]).get(url)
            assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
        response = client_for(None).get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))
    # a transfer between two locations the user does not manage does not exist for them
    west = LocationFactory(code="WEST")
    elsewhere = request(world.children[1], west, world.users["admin"])
    north_office = client_for(world.users["other_office"])
    assert north_office.get(reverse("staff:transfer-detail", args=[elsewhere.pk])).status_code == 404
    assert north_office.get(north_bound_url).status_code == 200
    # requesting: the office and the admin; deciding: only who may approve
    assert client_for(world.users["office"]).get(reverse("staff:transfer-new")).status_code == 200
    assert client_for(instructor_user(username="teacher2")).get(reverse("staff:transfer-new")).status_code == 403
    for name in ("staff:transfer-approve", "staff:transfer-reject", "staff:transfer-apply"):
        response = client_for(world.users["office"]).post(reverse(name, args=[transfer.pk]), {"reason": "x"})
        assert response.status_code == 403, name
    assert (
        client_for(world.users["admin"]).get(reverse("staff:transfer-approve", args=[transfer.pk])).status_code == 405
    )


def test_the_list_shows_the_transfers_waiting_first(pages):
    world, transfer, _ = pages
    applied = request(world.children[1], world.other_location, world.users["office"])
    transfers.transfer_approve(transfer=applied, actor=world.users["admin"])
    transfers.transfer_apply(transfer=applied, actor=world.users["admin"])
    body = client_for(world.users["office"]).get(reverse("staff:transfer-list")).content.decode()
    assert body.index(transfer.transfer_number) < body.index(applied.transfer_number)
    assert "2 transfers" in body
    filtered = client_for(world.users["office"]).get(reverse("staff:transfer-list"), {"status": "applied"})
    assert applied.transfer_number in filtered.content.decode()
    assert transfer.transfer_number not in filtered.content.decode()
    bad = client_for(world.users["office"]).get(reverse("staff:transfer-list"), {"status": "lost"})
    assert bad.status_code == 200 and "0 transfers" in bad.content.decode()


def test_the_nav_and_the_student_page_link_to_transfers(pages):
    world, *_ = pages
    office = client_for(world.users["office"])
    body = office.get(reverse("staff:student-detail", args=[world.children[1].pk])).content.decode()
    assert reverse("staff:transfer-list") in body
    assert f"{reverse('staff:transfer-new')}?student={world.children[1].pk}" in body
    teacher = client_for(instructor_user(username="teacher")).get(reverse("staff:dashboard")).content.decode()
    assert reverse("staff:transfer-list") not in teacher


# --- request --------------------------------------------------------------------------------


class TestRequestPage:
    def form(self, world, **changes):
        data = {
            "student_number": world.children[1].student_number,
            "to_location": str(world.other_location.pk),
            "transfer_type": "standard",
            "effective_date": "2025-10-01",
            "reason": "Closer to home",
            "notes": "",
        }
        return data | changes

    def test_prefilled_from_the_students_page(self, pages):
        world, *_ = pages
        url = f"{reverse('staff:transfer-new')}?student={world.children[1].pk}"
        body = client_for(world.users["office"]).get(url).content.decode()
        assert f'value="{world.children[1].student_number}"' in body
        assert client_for(world.users["office"]).get(f"{reverse('staff:transfer-new')}?student=nope").status_code == 200

    def test_requests_and_redirects_to_the_transfer(self, pages):
        world, *_ = pages
        response = client_for(world.users["office"]).post(reverse("staff:transfer-new"), self.form(world))
        created = LocationTransfer.objects.get(student=world.children[1])
        assert response.status_code == 302
        assert response["Location"] == reverse("staff:transfer-detail", args=[created.pk])
        assert created.requested_by == world.users["office"] and created.status == "requested"

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"reason": ""}, "reason", "This field is required."),
            ({"student_number": "STU-1999-0001"}, "student_number", "No student with this number"),
            ({"transfer_type": "temporary"}, "end_date", "A temporary transfer needs an end date."),
            ({"effective_date": "soon"}, "effective_date", "Enter a valid date."),
        ],
    )
    def test_bad_input_is_shown_on_the_form_and_nothing_is_written(self, pages, changes, field, message):
        world, *_ = pages
        before = state()
        response = client_for(world.users["office"]).post(reverse("staff:transfer-new"), self.form(world, **changes))
        assert response.status_code == 400
        assert message in response.content.decode()
        assert field in response.context["form"].errors
        assert state() == before

    def test_the_same_location_is_a_form_error(self, pages):
        world, *_ = pages
        response = client_for(world.users["office"]).post(
            reverse("staff:transfer-new"), self.form(world, to_location=str(world.location.pk))
        )
        assert response.status_code == 400
        assert "to_location" in response.context["form"].errors

    def test_an_open_transfer_is_shown_at_the_top_of_the_form(self, pages):
        world, transfer, _ = pages
        before = state()
        response = client_for(world.users["office"]).post(
            reverse("staff:transfer-new"), self.form(world, student_number=world.child.student_number)
        )
        assert response.status_code == 400
        assert transfer.transfer_number in response.content.decode()
        assert state() == before

    def test_another_locations_student_is_not_found(self, pages):
        world, *_ = pages
        response = client_for(world.users["other_office"]).post(reverse("staff:transfer-new"), self.form(world))
        assert response.status_code == 400
        assert "student_number" in response.context["form"].errors


# --- decide -------------------------------------------------------------------------------


class TestDecide:
    def test_the_detail_page_shows_the_impact_and_the_buttons(self, pages):
        world, transfer, _ = pages
        body = client_for(world.users["admin"]).get(reverse("staff:transfer-detail", args=[transfer.pk]))
        html = body.content.decode()
        assert f"{world.s.course.code}-{world.s.section.code}" in html
        assert "120.00" in html  # 12 unused sessions x 10.00
        assert reverse("staff:transfer-approve", args=[transfer.pk]) in html
        assert reverse("staff:transfer-reject", args=[transfer.pk]) in html
        # the office requested it: no buttons for them
        office_html = client_for(world.users["office"]).get(reverse("staff:transfer-detail", args=[transfer.pk]))
        assert reverse("staff:transfer-approve", args=[transfer.pk]) not in office_html.content.decode()

    def test_the_requester_is_told_another_person_must_approve(self, pages):
        world, *_ = pages
        own = request(world.children[1], world.other_location, world.users["admin"])
        client = client_for(world.users["admin"])
        html = client.get(reverse("staff:transfer-detail", args=[own.pk])).content.decode()
        assert "another person must approve it" in html
        before = state()
        response = client.post(reverse("staff:transfer-approve", args=[own.pk]))
        assert response.status_code == 302
        assert any("Another person than the requester" in text for text in texts(response))
        assert state() == before

    def test_approve_then_apply_with_a_move(self, pages):
        world, transfer, enrollment = pages
        client = client_for(world.users["admin"])
        response = client.post(reverse("staff:transfer-approve", args=[transfer.pk]), {"notes": "OK"})
        assert response["Location"] == reverse("staff:transfer-detail", args=[transfer.pk])
        assert any("approved" in text for text in texts(response))
        html = client.get(reverse("staff:transfer-detail", args=[transfer.pk])).content.decode()
        assert reverse("staff:transfer-apply", args=[transfer.pk]) in html
        assert f'name="move_{enrollment.pk}"' in html
        response = client.post(
            reverse("staff:transfer-apply", args=[transfer.pk]),
            {f"move_{enrollment.pk}": str(world.s.other_section.pk)},
        )
        assert any("applied" in text for text in texts(response))
        transfer.refresh_from_db()
        assert transfer.status == "applied"
        assert Enrollment.objects.active().get(student=world.child).section == world.s.other_section
        html = client.get(reverse("staff:transfer-detail", args=[transfer.pk])).content.decode()
        assert "Moved to" in html and reverse("staff:transfer-apply", args=[transfer.pk]) not in html

    def test_apply_withdraws_by_default(self, pages):
        world, transfer, enrollment = pages
        transfers.transfer_approve(transfer=transfer, actor=world.users["admin"])
        client = client_for(world.users["admin"])
        client.post(reverse("staff:transfer-apply", args=[transfer.pk]), {})
        enrollment.refresh_from_db()
        assert enrollment.status == "withdrawn"
        html = client.get(reverse("staff:transfer-detail", args=[transfer.pk])).content.decode()
        assert "Withdrawn" in html

    def test_apply_into_a_section_elsewhere_is_a_message_and_writes_nothing(self, pages):
        world, transfer, enrollment = pages
        transfers.transfer_approve(transfer=transfer, actor=world.users["admin"])
        before = state()
        response = client_for(world.users["admin"]).post(
            reverse("staff:transfer-apply", args=[transfer.pk]), {f"move_{enrollment.pk}": str(world.s.section.pk)}
        )
        assert response.status_code == 302
        assert any(f"choose a section of {world.other_location.name}" in text for text in texts(response))
        assert state() == before

    def test_a_full_section_is_a_message_and_writes_nothing(self, pages):
        world, transfer, enrollment = pages
        transfers.transfer_approve(transfer=transfer, actor=world.users["admin"])
        north = world.s.other_section
        type(north).objects.filter(pk=north.pk).update(capacity=0)
        before = state()
        response = client_for(world.users["admin"]).post(
            reverse("staff:transfer-apply", args=[transfer.pk]), {f"move_{enrollment.pk}": str(north.pk)}
        )
        assert any("full" in text for text in texts(response))
        assert state() == before

    def test_reject_needs_a_reason(self, pages):
        world, transfer, _ = pages
        client = client_for(world.users["admin"])
        before = state()
        response = client.post(reverse("staff:transfer-reject", args=[transfer.pk]), {"reason": ""})
        assert any("say why" in text for text in texts(response))
        assert state() == before
        client.post(reverse("staff:transfer-reject", args=[transfer.pk]), {"reason": "No seats"})
        transfer.refresh_from_db()
        assert (transfer.status, transfer.rejection_reason) == ("rejected", "No seats")

    def test_apply_twice_is_a_message(self, pages):
        world, transfer, _ = pages
        transfers.transfer_approve(transfer=transfer, actor=world.users["admin"])
        client = client_for(world.users["admin"])
        client.post(reverse("staff:transfer-apply", args=[transfer.pk]), {})
        before = state()
        response = client.post(reverse("staff:transfer-apply", args=[transfer.pk]), {})
        assert any("cannot become applied" in text for text in texts(response))
        assert state() == before

    def test_csrf_is_enforced(self, pages):
        world, transfer, _ = pages
        client = Client(enforce_csrf_checks=True)
        client.force_login(world.users["admin"])
        assert client.post(reverse("staff:transfer-approve", args=[transfer.pk])).status_code == 403
        assert client.post(reverse("staff:transfer-new"), {}).status_code == 403


# --- query count -------------------------------------------------------------------------------


def _grow(world, count: int) -> None:
    for _ in range(count):
        student = StudentFactory(location=world.location)
        EnrollmentFactory(student=student, section=world.s.section)
        request(student, world.other_location, world.users["office"])


@pytest.mark.parametrize("actor", ["office", "admin"])
def test_the_list_takes_a_fixed_number_of_queries(pages, actor, django_assert_max_num_queries):
    world, *_ = pages
    client = client_for(world.users[actor])
    url = reverse("staff:transfer-list")
    client.get(url)  # warm-up: the grants are cached after the first request (academy.authz)
    _grow(world, 3)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _grow(world, 20)
    with django_assert_max_num_queries(len(small)):
        response = client.get(url)
    assert response.status_code == 200
    assert "24 transfers" in response.content.decode()
    with django_assert_max_num_queries(12):
        assert client.get(url, {"status": "requested", "location": str(world.location.pk)}).status_code == 200


def test_django_admin_shows_transfers_read_only(pages):
    _world, transfer, _ = pages
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = client_for(root)
    changelist = client.get(reverse("admin:students_locationtransfer_changelist"))
    assert changelist.status_code == 200 and transfer.transfer_number in changelist.content.decode()
    change = client.get(reverse("admin:students_locationtransfer_change", args=[transfer.pk]))
    assert change.status_code == 200
    assert client.get(reverse("admin:students_locationtransfer_history", args=[transfer.pk])).status_code == 200
    assert client.get(reverse("admin:students_locationtransfer_add")).status_code == 403
    before = state()
    client.post(reverse("admin:students_locationtransfer_change", args=[transfer.pk]), {"status": "applied"})
    assert state() == before
