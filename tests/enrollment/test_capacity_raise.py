"""Raising a section's capacity offers the new seats to its waitlist at once: academy's
``structure_save`` sends ``academy.signals.section_capacity_raised`` after commit and
``enrollment.receivers`` offers the free seats (academy may not import enrollment)."""

import pytest

from academy.models import Section
from academy.services import structure_save
from academy.signals import section_capacity_raised
from enrollment import services
from enrollment.models import WaitlistEntry
from notifications.models import Notification

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def full(section, make_student, office):
    """The two-seat section full, with three students in line."""
    seated = [services.enroll(student=make_student(), section=section, actor=office) for _ in range(2)]
    line = [services.enroll(student=make_student(), section=section, actor=office, waitlist=True) for _ in range(3)]
    return seated, line


def statuses(line) -> list[str]:
    return [WaitlistEntry.objects.get(pk=entry.pk).status for entry in line]


def offers_told() -> list[str]:
    return sorted(Notification.objects.filter(kind="waitlist_seat_offered").values_list("recipient_key", flat=True))


def guardian_key(entry) -> str:
    guardian = entry.student.guardian_links.get(relationship_type="primary").guardian
    return f"families.guardian:{guardian.pk}"


class TestThroughTheService:
    def test_one_more_seat_is_offered_to_the_first_in_line_and_their_guardian_told(
        self, full, section, office, django_capture_on_commit_callbacks
    ):
        _seated, line = full
        with django_capture_on_commit_callbacks(execute=True):
            structure_save(instance=Section.objects.get(pk=section.pk), data={"capacity": 3}, actor=office)
        assert statuses(line) == ["offered", "waiting", "waiting"]
        assert offers_told() == [guardian_key(line[0])]
        offered = WaitlistEntry.objects.get(pk=line[0].pk)
        assert offered.history.latest().history_user == office

    def test_two_more_seats_go_to_the_first_two(self, full, section, django_capture_on_commit_callbacks):
        _seated, line = full
        with django_capture_on_commit_callbacks(execute=True):
            structure_save(instance=Section.objects.get(pk=section.pk), data={"capacity": 4})
        assert statuses(line) == ["offered", "offered", "waiting"]
        assert offers_told() == sorted(guardian_key(entry) for entry in line[:2])

    def test_the_offer_waits_for_the_commit(self, full, section, django_capture_on_commit_callbacks):
        _seated, line = full
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            structure_save(instance=Section.objects.get(pk=section.pk), data={"capacity": 3})
        # given the change not committed yet: nobody has been offered anything
        assert statuses(line) == ["waiting"] * 3
        assert len(callbacks) == 1

    @pytest.mark.parametrize("capacity", [2, 1])
    def test_keeping_or_lowering_the_capacity_offers_nothing(
        self, full, section, capacity, django_capture_on_commit_callbacks
    ):
        _seated, line = full
        received = []

        def listen(sender, **kwargs):
            received.append(kwargs)

        section_capacity_raised.connect(listen, weak=False, dispatch_uid="test-listen")
        try:
            with django_capture_on_commit_callbacks(execute=True):
                structure_save(instance=Section.objects.get(pk=section.pk), data={"capacity": capacity})
        finally:
            section_capacity_raised.disconnect(dispatch_uid="test-listen")
        assert received == []
        assert statuses(line) == ["waiting"] * 3
        assert offers_told() == []

    def test_the_signal_names_the_section_and_both_capacities(
        self, full, section, office, django_capture_on_commit_callbacks
    ):
        received = []

        def listen(sender, **kwargs):
            received.append((sender, kwargs["section"].pk, kwargs["previous_capacity"], kwargs["actor"]))

        section_capacity_raised.connect(listen, weak=False, dispatch_uid="test-listen")
        try:
            with django_capture_on_commit_callbacks(execute=True):
                structure_save(instance=Section.objects.get(pk=section.pk), data={"capacity": 5}, actor=office)
        finally:
            section_capacity_raised.disconnect(dispatch_uid="test-listen")
        assert received == [(Section, section.pk, 2, office)]

    def test_a_new_section_sends_nothing(self, make_section, django_capture_on_commit_callbacks):
        existing = make_section(capacity=3)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            structure_save(
                instance=Section(
                    course=existing.course, term=existing.term, location=existing.location, code="NEW", capacity=9
                )
            )
        assert callbacks == []

    def test_seats_held_already_are_not_offered_twice(self, full, section, office, django_capture_on_commit_callbacks):
        seated, line = full
        services.enrollment_withdraw(enrollment=seated[0], actor=office)  # the first in line is offered that seat
        assert statuses(line) == ["offered", "waiting", "waiting"]
        with django_capture_on_commit_callbacks(execute=True):
            structure_save(instance=Section.objects.get(pk=section.pk), data={"capacity": 3})
        assert statuses(line) == ["offered", "offered", "waiting"]


class TestThroughTheApi:
    def test_patch_sections_offers_the_new_seat(
        self, full, section, academy_admin, client_for, roles, django_capture_on_commit_callbacks
    ):
        _seated, line = full
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(academy_admin).patch(f"{V1}/sections/{section.pk}/", {"capacity": 3}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["capacity"] == 3
        assert statuses(line) == ["offered", "waiting", "waiting"]
        assert offers_told() == [guardian_key(line[0])]

    def test_a_refused_patch_offers_nothing(
        self, full, section, academy_admin, client_for, roles, django_capture_on_commit_callbacks
    ):
        _seated, line = full
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(academy_admin).patch(f"{V1}/sections/{section.pk}/", {"capacity": -1}, format="json")
        assert response.status_code == 400
        assert Section.objects.get(pk=section.pk).capacity == 2
        assert statuses(line) == ["waiting"] * 3
