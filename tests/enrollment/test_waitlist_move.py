"""``enrollment.services.waitlist_move``: staff reorder a section's line."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from academy.common.exceptions import Conflict
from enrollment import services
from enrollment.models import WaitlistEntry
from tests.factories.enrollment import WaitlistEntryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def line(section, make_student, office):
    """The two-seat section full, with four students in line (places 1..4)."""
    for _ in range(2):
        services.enroll(student=make_student(), section=section, actor=office)
    return [services.enroll(student=make_student(), section=section, actor=office, waitlist=True) for _ in range(4)]


def order(section) -> list:
    """The live line as (entry id, position), first in line first."""
    return list(WaitlistEntry.objects.live().filter(section=section).order_by("position").values_list("pk", "position"))


def test_moving_the_last_to_the_front_renumbers_the_line(line, section, office):
    # when the fourth in line is moved to the front
    moved = services.waitlist_move(entry=line[3], position=1, actor=office)
    # then it is first and everybody else moves one place back
    assert moved.position == 1
    expected = [line[3], line[0], line[1], line[2]]
    assert order(section) == [(entry.pk, place) for place, entry in enumerate(expected, start=1)]


def test_moving_down_and_a_place_past_the_end_means_the_end(line, section, office):
    services.waitlist_move(entry=line[0], position=2, actor=office)
    assert [pk for pk, _ in order(section)] == [line[1].pk, line[0].pk, line[2].pk, line[3].pk]
    services.waitlist_move(entry=line[1], position=99, actor=office)
    assert order(section) == [(line[0].pk, 1), (line[2].pk, 2), (line[3].pk, 3), (line[1].pk, 4)]


def test_each_entry_that_changes_place_gets_a_history_row_with_the_reason(line, office):
    history_before = WaitlistEntry.history.count()
    services.waitlist_move(entry=line[2], position=1, actor=office)
    # entries 0, 1 and 2 changed place; entry 3 did not
    assert WaitlistEntry.history.count() == history_before + 3
    latest = WaitlistEntry.history.filter(id=line[2].pk).order_by("-history_date").first()
    assert latest.history_change_reason == "Moved from place 3 to 1 in the line"
    assert latest.history_user == office
    pushed = WaitlistEntry.history.filter(id=line[0].pk).order_by("-history_date").first()
    assert pushed.position == 2 and "another entry was moved" in pushed.history_change_reason
    assert not WaitlistEntry.history.filter(id=line[3].pk, history_change_reason__contains="place").exists()


def test_moving_to_the_same_place_writes_nothing(line, section, office):
    before, history = order(section), WaitlistEntry.history.count()
    services.waitlist_move(entry=line[1], position=2, actor=office)
    assert order(section) == before
    assert WaitlistEntry.history.count() == history


def test_a_line_with_gaps_is_renumbered_from_one(line, section, office):
    # given the first in line left (places 2, 3, 4 remain)
    services.waitlist_remove(entry=line[0], actor=office, reason="Moved away")
    # when the last is moved up one place
    services.waitlist_move(entry=line[3], position=2, actor=office)
    # then the line reads 1..3 in the new order; the removed entry is untouched
    assert order(section) == [(line[1].pk, 1), (line[3].pk, 2), (line[2].pk, 3)]
    assert WaitlistEntry.objects.get(pk=line[0].pk).status == "removed"


def test_closed_entries_keep_their_places_out_of_the_way(section, make_student, office):
    # a removed entry may hold the place a live entry moves to: the constraint is for live entries only
    closed = WaitlistEntryFactory(section=section, student=make_student(), position=1, status="removed")
    first = WaitlistEntryFactory(section=section, student=make_student(), position=2)
    second = WaitlistEntryFactory(section=section, student=make_student(), position=3)
    services.waitlist_move(entry=second, position=1, actor=office)
    assert order(section) == [(second.pk, 1), (first.pk, 2)]
    assert WaitlistEntry.objects.get(pk=closed.pk).position == 1


def test_an_offered_entry_keeps_its_offer_when_moved(line, section, office):
    now = timezone.now()
    WaitlistEntry.objects.filter(pk=line[0].pk).update(
        status="offered", offered_at=now, offer_expires_at=now + timedelta(hours=48)
    )
    services.waitlist_move(entry=line[0], position=3, actor=office)
    entry = WaitlistEntry.objects.get(pk=line[0].pk)
    assert (entry.status, entry.position) == ("offered", 3)


def test_an_entry_out_of_the_line_cannot_move(line, section, office):
    services.waitlist_remove(entry=line[1], actor=office)
    before, history = order(section), WaitlistEntry.history.count()
    with pytest.raises(Conflict) as excinfo:
        services.waitlist_move(entry=line[1], position=1, actor=office)
    assert excinfo.value.code == "offer_closed"
    assert order(section) == before and WaitlistEntry.history.count() == history


@pytest.mark.parametrize("position", [0, -3, "first", None])
def test_a_place_must_be_a_whole_number_from_one(line, section, office, position):
    before = order(section)
    with pytest.raises(ValidationError) as excinfo:
        services.waitlist_move(entry=line[2], position=position, actor=office)
    assert "position" in excinfo.value.message_dict
    assert order(section) == before


def test_the_next_seat_goes_to_the_new_first_in_line(line, section, office):
    services.waitlist_move(entry=line[2], position=1, actor=office)
    enrolled = section.enrollments.filter(status="enrolled").first()
    services.enrollment_withdraw(enrollment=enrolled, actor=office)
    statuses = dict(WaitlistEntry.objects.filter(section=section).values_list("pk", "status"))
    assert statuses[line[2].pk] == "offered"
    assert statuses[line[0].pk] == "waiting"


def test_moves_in_another_section_do_not_touch_this_line(line, section, make_section, make_student, office):
    other = make_section(capacity=0)
    mine = [services.enroll(student=make_student(), section=other, actor=office, waitlist=True) for _ in range(2)]
    services.waitlist_move(entry=mine[1], position=1, actor=office)
    assert order(other) == [(mine[1].pk, 1), (mine[0].pk, 2)]
    assert order(section) == [(entry.pk, place) for place, entry in enumerate(line, start=1)]
