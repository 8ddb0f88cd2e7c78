"""The staff portal's enrollment pages through the test client: a section's roster and
waitlist, an enrollment's page (pause, resume, withdraw, transfer, with the effect on
billing stated), and "enroll in a class" from a student's page. Permissions (anonymous,
a parent, another location's staff, view-only staff), every action and its history,
refusals that change nothing, and fixed query counts."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from academy.models import Term
from enrollment import services
from enrollment.models import Enrollment, WaitlistEntry
from finance.models import Invoice
from tests.enrollment.conftest import rows
from tests.factories.academy import finance_user, instructor_user
from tests.factories.finance import FinancePolicyFactory, issue

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return response.content.decode()


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def latest_reason(model, pk) -> str:
    return model.history.filter(id=pk).order_by("-history_date", "-history_id").first().history_change_reason


@pytest.fixture
def roster(section, make_student, office, fee_types):
    """The two-seat section full (two enrolled, the first with an invoice) and two
    students in its line."""
    seated = [
        services.enroll(student=make_student(), section=section, actor=office, enrollment_fee=Decimal("40.00")),
        services.enroll(student=make_student(), section=section, actor=office, enrollment_fee=Decimal("0")),
    ]
    line = [services.enroll(student=make_student(), section=section, actor=office, waitlist=True) for _ in range(2)]
    return SimpleNamespace(section=section, seated=seated, line=line)


@pytest.fixture
def staff_client(client, office):
    client.force_login(office)
    return client


def roster_url(section) -> str:
    return reverse("staff:section-roster", kwargs={"pk": section.pk})


def detail_url(enrollment) -> str:
    return reverse("staff:enrollment-detail", kwargs={"pk": enrollment.pk})


def action_url(name: str, pk) -> str:
    return reverse(f"staff:{name}", kwargs={"pk": pk})


# --- who may open and use the pages -------------------------------------------------------


def _page_urls(r):
    return [
        roster_url(r.section),
        detail_url(r.seated[0]),
        reverse("staff:student-enroll", kwargs={"pk": r.seated[0].student.pk}),
    ]


def _post_urls(r):
    """(url, data) of every write."""
    return [
        (action_url("section-enroll", r.section.pk), {"student": r.line[0].student.student_number}),
        (action_url("waitlist-move", r.line[1].pk), {"position": "1"}),
        (action_url("waitlist-remove", r.line[0].pk), {"reason": "x"}),
        (action_url("waitlist-accept", r.line[0].pk), {}),
        (action_url("enrollment-pause", r.seated[0].pk), {"pause-reason": "Holiday"}),
        (action_url("enrollment-resume", r.seated[0].pk), {}),
        (action_url("enrollment-withdraw", r.seated[0].pk), {"withdraw-reason": "Moved"}),
        (action_url("enrollment-transfer", r.seated[0].pk), {"transfer-section": str(r.section.pk)}),
        (reverse("staff:student-enroll", kwargs={"pk": r.line[0].student.pk}), {"section": str(r.section.pk)}),
    ]


def test_anonymous_users_are_sent_to_the_staff_login(client, roster):
    for url in _page_urls(roster):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("staff:login")), url
    before = rows()
    for url, data in _post_urls(roster):
        response = client.post(url, data)
        assert response.status_code == 302 and response.url.startswith(reverse("staff:login")), url
    assert rows() == before


def test_a_parent_is_refused_the_staff_pages(client, roster, family):
    guardian, _children = family
    client.force_login(guardian.portal_user)
    for url in _page_urls(roster):
        response = client.get(url)
        assert (response.status_code, response.url) == (302, reverse("portal:dashboard")), url
    before = rows()
    for url, data in _post_urls(roster):
        assert client.post(url, data).status_code == 302, url
    assert rows() == before


def test_another_locations_staff_gets_404_for_everything_of_this_location(client, roster, other_office):
    client.force_login(other_office)
    for url in _page_urls(roster):
        assert client.get(url).status_code == 404, url
    before = rows()
    for url, data in _post_urls(roster):
        assert client.post(url, data).status_code == 404, url
    assert rows() == before


def test_view_only_staff_see_the_roster_without_forms_and_may_not_write(client, roster, location):
    instructor = instructor_user(username="coach", locations=[location])
    roster.section.instructor = instructor  # an instructor sees the sections they teach
    roster.section.save()
    client.force_login(instructor)
    response = client.get(roster_url(roster.section))
    assert response.status_code == 200
    assert response.context["enroll_form"] is None
    html = page(response)
    assert "Move up" not in html and "Enroll a student" not in html
    detail = client.get(detail_url(roster.seated[0]))
    assert detail.status_code == 200
    assert "pause_form" not in detail.context and "withdraw_form" not in detail.context
    before = rows()
    for url, data in _post_urls(roster):
        assert client.post(url, data).status_code == 403, url
    assert rows() == before


def test_a_finance_user_sees_every_page_without_forms_and_may_not_write(client, roster):
    # given a finance user (no location limits): they read enrollments, they do not make them
    client.force_login(finance_user(username="cashier"))
    for url in _page_urls(roster):
        assert client.get(url).status_code == 200, url
    response = client.get(roster_url(roster.section))
    assert response.context["enroll_form"] is None
    assert "Move up" not in page(response) and "Enroll a student" not in page(response)
    detail = client.get(detail_url(roster.seated[0]))
    assert not {"pause_form", "withdraw_form", "transfer_form"} & set(detail.context.keys())
    assert (
        client.get(reverse("staff:student-enroll", kwargs={"pk": roster.seated[0].student.pk})).context["form"] is None
    )
    before = rows()
    for url, data in _post_urls(roster):
        assert client.post(url, data).status_code == 403, url
    assert rows() == before


def test_an_instructor_of_another_section_gets_404_and_may_not_write(client, roster, location):
    # given an instructor at the location who teaches another section, not this one
    other = instructor_user(username="other-coach", locations=[location])
    roster.section.instructor = instructor_user(username="coach", locations=[location])
    roster.section.save()
    client.force_login(other)
    assert client.get(roster_url(roster.section)).status_code == 404
    assert client.get(detail_url(roster.seated[0])).status_code == 404
    # nor is the student there: an instructor sees only the students they teach
    student_page = client.get(reverse("staff:student-enroll", kwargs={"pk": roster.seated[0].student.pk}))
    assert student_page.status_code == 404
    before = rows()
    # the permission is checked first: an instructor may not write any of these anywhere
    # (a student who is not theirs does not exist for them: 404 before any permission)
    for url, data in _post_urls(roster):
        assert client.post(url, data).status_code == (404 if "/students/" in url else 403), url
    assert rows() == before


def test_pages_answer_get_only_and_actions_post_only(staff_client, roster):
    assert staff_client.post(roster_url(roster.section)).status_code == 405
    assert staff_client.post(detail_url(roster.seated[0])).status_code == 405
    assert staff_client.get(action_url("waitlist-move", roster.line[0].pk)).status_code == 405
    assert staff_client.get(action_url("enrollment-pause", roster.seated[0].pk)).status_code == 405


# --- the roster ---------------------------------------------------------------------------------


def test_the_sections_page_links_each_section_to_its_roster(staff_client, roster):
    html = page(staff_client.get(reverse("staff:structure-sections")))
    assert f'href="{roster_url(roster.section)}"' in html


def test_the_roster_shows_the_header_the_students_and_the_line(staff_client, roster, office):
    section = roster.section
    section.instructor = office
    section.schedule = "Mon 16:00-17:00"
    section.save()
    response = staff_client.get(roster_url(section))
    assert response.status_code == 200
    html = page(response)
    assert f"{section.course.code}-{section.code}" in html and section.course.title in html
    assert 'data-testid="capacity">2<' in html
    assert 'data-testid="seats-left">0<' in html
    assert 'data-testid="waitlist-length">2<' in html
    assert 'data-testid="instructor">office<' in html
    assert "Mon 16:00-17:00" in html
    assert {e.pk for e in response.context["enrollments"]} == {e.pk for e in roster.seated}
    for enrollment in roster.seated:
        assert enrollment.student.full_name in html and detail_url(enrollment) in html
    assert [(e.pk, e.place_in_line) for e in response.context["waitlist"]] == [
        (roster.line[0].pk, 1),
        (roster.line[1].pk, 2),
    ]
    # the first in line can only move down, the last only up
    assert html.count("Move up") == 1 and html.count("Move down") == 1
    assert "Enroll a student" in html


def test_the_roster_shows_an_offer_and_until_when(staff_client, roster, office):
    services.enrollment_withdraw(enrollment=roster.seated[1], actor=office, reason="Moved")
    response = staff_client.get(roster_url(roster.section))
    html = page(response)
    offered = WaitlistEntry.objects.get(pk=roster.line[0].pk)
    assert offered.status == "offered"
    assert "Seat offered" in html and "until" in html
    assert "Accept for the family" in html
    # the withdrawn student is listed under "left this section", not on the roster
    assert roster.seated[1].pk not in {e.pk for e in response.context["enrollments"]}
    assert [e.pk for e in response.context["ended"]] == [roster.seated[1].pk]
    assert 'data-testid="seats-left">0<' in html


@pytest.mark.parametrize("students", [1, 8])
def test_the_roster_runs_a_bounded_number_of_queries(
    client, office, make_section, make_student, django_assert_max_num_queries, students
):
    section = make_section(capacity=students)
    for _ in range(students):
        services.enroll(student=make_student(), section=section, actor=office)
    for _ in range(students):
        services.enroll(student=make_student(), section=section, actor=office, waitlist=True)
    client.force_login(office)
    client.get(roster_url(section))  # warm up: the user's grants are cached
    # session, user, locations (layout), section, active, ended, waitlist
    with django_assert_max_num_queries(7):
        response = client.get(roster_url(section))
    assert len(response.context["enrollments"]) == students and len(response.context["waitlist"]) == students


def test_the_roster_query_count_does_not_grow_in_one_test(
    client, office, make_section, make_student, django_assert_max_num_queries
):
    section = make_section(capacity=20)
    services.enroll(student=make_student(), section=section, actor=office)
    client.force_login(office)
    client.get(roster_url(section))
    with django_assert_max_num_queries(7) as small:
        client.get(roster_url(section))
    for _ in range(10):
        services.enroll(student=make_student(), section=section, actor=office)
    services.enrollment_pause(enrollment=section.enrollments.first(), actor=office, reason="Holiday")
    services.enrollment_withdraw(enrollment=section.enrollments.last(), actor=office, reason="Moved")
    full = make_section(capacity=0)
    for _ in range(3):
        services.enroll(student=make_student(), section=full, actor=office, waitlist=True)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(roster_url(section))


# --- enroll from the roster ---------------------------------------------------------------


def test_enroll_a_student_by_number(staff_client, section, make_student, fee_types, enrollment_fee):
    student = make_student()
    before = rows()
    response = staff_client.post(
        action_url("section-enroll", section.pk), {"student": student.student_number.lower()}, follow=True
    )
    assert response.redirect_chain[-1][0] == roster_url(section)
    enrollment = Enrollment.objects.get(student=student, section=section)
    assert enrollment.status == "enrolled" and enrollment.invoice.total == Decimal("50.00")
    assert latest_reason(Enrollment, enrollment.pk) == "Enrolled"
    assert Enrollment.history.filter(id=enrollment.pk).get().history_user.username == "office"
    assert rows()["enrollments"] == before["enrollments"] + 1
    assert any(enrollment.invoice.invoice_number in text for text in shown_messages(response))


def test_enroll_a_student_by_name(staff_client, section, make_student):
    student = make_student(first_name="Zelda", last_name="Quirrel")
    make_student(first_name="Zara", last_name="Other")
    staff_client.post(action_url("section-enroll", section.pk), {"student": "zelda quirrel"})
    assert Enrollment.objects.filter(student=student, section=section, status="enrolled").exists()


def test_an_ambiguous_name_asks_for_the_number_and_changes_nothing(staff_client, section, make_student):
    first = make_student(first_name="Ann", last_name="Lee")
    second = make_student(first_name="Ann", last_name="Leeward")
    before = rows()
    response = staff_client.post(action_url("section-enroll", section.pk), {"student": "ann lee"})
    assert response.status_code == 400
    errors = response.context["enroll_form"].errors["student"]
    assert "Several students match" in errors[0]
    assert first.student_number in errors[0] and second.student_number in errors[0]
    assert rows() == before


def test_a_student_of_another_location_is_not_found(staff_client, section, other_location, make_student):
    stranger = make_student(location=other_location)
    before = rows()
    response = staff_client.post(action_url("section-enroll", section.pk), {"student": stranger.student_number})
    assert response.status_code == 400
    assert "No student at Main campus matches" in response.context["enroll_form"].errors["student"][0]
    assert rows() == before


def test_a_full_section_is_a_conflict_shown_at_the_top_and_nothing_changes(staff_client, roster, make_student):
    newcomer = make_student()
    before = rows()
    response = staff_client.post(
        action_url("section-enroll", roster.section.pk), {"student": newcomer.student_number, "waitlist": ""}
    )
    assert response.status_code == 400
    assert "The section is full (2 seats)." in response.context["enroll_form"].non_field_errors()
    assert 'data-testid="form-errors"' in page(response)
    assert rows() == before


def test_a_full_section_puts_the_student_on_the_waitlist_when_asked(staff_client, roster, make_student):
    newcomer = make_student()
    response = staff_client.post(
        action_url("section-enroll", roster.section.pk),
        {"student": newcomer.student_number, "waitlist": "on"},
        follow=True,
    )
    entry = WaitlistEntry.objects.get(student=newcomer, section=roster.section)
    assert entry.status == "waiting"
    assert any("joined its waitlist at place 3" in text for text in shown_messages(response))
    assert not Enrollment.objects.filter(student=newcomer).exists()


def test_a_finance_hold_is_a_conflict_and_nothing_changes(staff_client, section, make_student, location):
    student = make_student()
    FinancePolicyFactory(location=location, block_enrollment=True, hold_threshold=Decimal("100.00"))
    issue(student, "150.00")
    before = rows()
    response = staff_client.post(action_url("section-enroll", section.pk), {"student": student.student_number})
    assert response.status_code == 400
    assert response.context["enroll_form"].non_field_errors()
    assert rows() == before


def test_a_closed_term_is_a_conflict(staff_client, section, make_student):
    Term.objects.filter(pk=section.term_id).update(status="closed")
    student = make_student()
    before = rows()
    response = staff_client.post(action_url("section-enroll", section.pk), {"student": student.student_number})
    assert response.status_code == 400
    assert "closed for enrollment" in " ".join(response.context["enroll_form"].non_field_errors())
    assert 'data-testid="term-closed"' in page(response)
    assert rows() == before


# --- the waitlist ---------------------------------------------------------------------------------


def test_move_up_reorders_the_line_and_records_why(staff_client, roster):
    response = staff_client.post(action_url("waitlist-move", roster.line[1].pk), {"position": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == roster_url(roster.section)
    assert [e.pk for e in response.context["waitlist"]] == [roster.line[1].pk, roster.line[0].pk]
    assert latest_reason(WaitlistEntry, roster.line[1].pk) == "Moved from place 2 to 1 in the line"
    assert any("is now number 1 in line" in text for text in shown_messages(response))


def test_move_down(staff_client, roster):
    staff_client.post(action_url("waitlist-move", roster.line[0].pk), {"position": "2"})
    line = WaitlistEntry.objects.live().filter(section=roster.section).order_by("position")
    assert [e.pk for e in line] == [roster.line[1].pk, roster.line[0].pk]


def test_a_bad_place_is_an_error_message_and_nothing_changes(staff_client, roster):
    before = rows()
    response = staff_client.post(action_url("waitlist-move", roster.line[1].pk), {"position": "0"}, follow=True)
    assert any("Choose a place in the line" in text for text in shown_messages(response))
    assert rows() == before


def test_remove_takes_the_entry_out_with_the_reason(staff_client, roster):
    response = staff_client.post(
        action_url("waitlist-remove", roster.line[0].pk), {"reason": "Found another school"}, follow=True
    )
    entry = WaitlistEntry.objects.get(pk=roster.line[0].pk)
    assert (entry.status, entry.closed_reason) == ("removed", "Found another school")
    assert latest_reason(WaitlistEntry, entry.pk) == "Removed from the waitlist: Found another school"
    assert [e.pk for e in response.context["waitlist"]] == [roster.line[1].pk]


def test_removing_twice_is_a_conflict_message(staff_client, roster):
    staff_client.post(action_url("waitlist-remove", roster.line[0].pk), {"reason": "x"})
    before = rows()
    response = staff_client.post(action_url("waitlist-remove", roster.line[0].pk), {"reason": "y"}, follow=True)
    # the entry is no longer live but still the user's to see: the refusal is a message
    assert any("already removed" in text for text in shown_messages(response))
    assert rows() == before


def test_accepting_an_offer_for_the_family(staff_client, roster, office):
    services.enrollment_withdraw(enrollment=roster.seated[0], actor=office)
    response = staff_client.post(action_url("waitlist-accept", roster.line[0].pk), follow=True)
    enrollment = Enrollment.objects.get(student=roster.line[0].student, section=roster.section)
    assert response.redirect_chain[-1][0] == detail_url(enrollment)
    assert WaitlistEntry.objects.get(pk=roster.line[0].pk).status == "accepted"


def test_accepting_a_waiting_entry_is_a_conflict_message(staff_client, roster):
    before = rows()
    response = staff_client.post(action_url("waitlist-accept", roster.line[0].pk), follow=True)
    assert any("No seat has been offered" in text for text in shown_messages(response))
    assert rows() == before


# --- one enrollment ---------------------------------------------------------------------


def test_the_enrollment_page_shows_the_invoice_and_the_billing_effects(staff_client, roster):
    enrollment = roster.seated[0]
    response = staff_client.get(detail_url(enrollment))
    html = page(response)
    assert enrollment.invoice.invoice_number in html
    # office staff may open the invoice in finance
    assert reverse("staff:finance-invoice-detail", kwargs={"pk": enrollment.invoice.pk}) in html
    remaining = enrollment.sessions_remaining
    withdraw = response.context["billing"]["withdraw"]
    assert withdraw.startswith(f"The invoice already issued ({enrollment.invoice.invoice_number}) stays as it is")
    assert "nothing more is billed for this enrollment" in withdraw
    if remaining:
        assert f"{remaining} unused session" in withdraw and "not refunded automatically" in withdraw
        assert "record an adjustment or refund in Finance" in withdraw
    assert 'data-testid="withdraw-effect"' in html and 'data-testid="pause-effect"' in html
    assert "Billing continues as before: no new invoice is issued" in response.context["billing"]["pause"]


@pytest.fixture
def priced(section, make_student, office, fee_types):
    """An enrollment of 7 sessions at 12.50 (billed), 2 already completed."""
    enrollment = services.enroll(
        student=make_student(),
        section=section,
        actor=office,
        sessions_allocated=7,
        session_rate=Decimal("12.50"),
        enrollment_fee=Decimal("0"),
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(sessions_completed=2, sessions_remaining=5)
    enrollment.refresh_from_db()
    return enrollment


def test_the_withdraw_page_states_the_unused_sessions_and_what_they_are_worth(staff_client, priced):
    response = staff_client.get(detail_url(priced))
    withdraw = response.context["billing"]["withdraw"]
    assert (
        f"The invoice already issued ({priced.invoice.invoice_number}) stays as it is; "
        "nothing more is billed for this enrollment; 5 unused sessions (worth USD 62.50 at USD 12.50 a session) "
        "are not refunded automatically — record an adjustment or refund in Finance if you give money back."
    ) in withdraw
    assert "The seat and the 5 unused sessions" in response.context["billing"]["pause"]
    assert "5 unused sessions" in page(response)


def test_without_an_invoice_the_page_says_so(staff_client, roster):
    free = roster.seated[1]
    assert free.invoice_id is None
    billing = staff_client.get(detail_url(free)).context["billing"]
    assert billing["withdraw"].startswith("No invoice was issued for this enrollment; nothing more is billed")


def test_pause_with_a_reason_then_resume(staff_client, roster):
    enrollment = roster.seated[0]
    response = staff_client.post(
        action_url("enrollment-pause", enrollment.pk), {"pause-reason": "Family holiday"}, follow=True
    )
    assert response.redirect_chain[-1][0] == detail_url(enrollment)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_reason) == ("paused", "Family holiday")
    assert latest_reason(Enrollment, enrollment.pk) == "Paused: Family holiday"
    html = page(response)
    assert 'data-testid="resume-effect"' in html and "Family holiday" in html
    staff_client.post(action_url("enrollment-resume", enrollment.pk))
    enrollment.refresh_from_db()
    assert enrollment.status == "enrolled"
    assert latest_reason(Enrollment, enrollment.pk) == "Resumed"


def test_pause_needs_a_reason_and_changes_nothing_without(staff_client, roster):
    before = rows()
    response = staff_client.post(action_url("enrollment-pause", roster.seated[0].pk), {"pause-reason": ""})
    assert response.status_code == 400
    assert response.context["pause_form"].errors["reason"]
    assert rows() == before


def test_pausing_twice_is_a_conflict_message_and_nothing_changes(staff_client, roster, office):
    services.enrollment_pause(enrollment=roster.seated[0], actor=office, reason="Holiday")
    before = rows()
    response = staff_client.post(
        action_url("enrollment-pause", roster.seated[0].pk), {"pause-reason": "Again"}, follow=True
    )
    assert any("cannot become paused" in text for text in shown_messages(response))
    assert rows() == before


def test_resuming_an_enrolled_student_is_a_conflict_message(staff_client, roster):
    before = rows()
    response = staff_client.post(action_url("enrollment-resume", roster.seated[0].pk), follow=True)
    assert any("cannot become enrolled" in text for text in shown_messages(response))
    assert rows() == before


def test_withdraw_frees_the_seat_for_the_first_in_line(staff_client, roster):
    enrollment = roster.seated[0]
    invoices = Invoice.objects.count()
    response = staff_client.post(
        action_url("enrollment-withdraw", enrollment.pk),
        {"withdraw-reason": "Moved away", "withdraw-end_date": ""},
        follow=True,
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_reason) == ("withdrawn", "Moved away")
    assert enrollment.end_date is not None
    assert latest_reason(Enrollment, enrollment.pk) == "Withdrawn: Moved away"
    assert WaitlistEntry.objects.get(pk=roster.line[0].pk).status == "offered"
    assert Invoice.objects.count() == invoices  # nothing billed, nothing cancelled
    # an ended enrollment offers no more status changes
    assert "withdraw_form" not in response.context and "pause_form" not in response.context


def test_withdraw_before_the_start_is_a_field_error_and_nothing_changes(staff_client, roster):
    before = rows()
    response = staff_client.post(
        action_url("enrollment-withdraw", roster.seated[0].pk),
        {"withdraw-reason": "Moved away", "withdraw-end_date": "2020-01-01"},
    )
    assert response.status_code == 400
    assert "cannot be before the start" in response.context["withdraw_form"].errors["end_date"][0]
    assert rows() == before


def test_transfer_moves_the_student_and_opens_the_new_enrollment(staff_client, roster, make_section):
    target = make_section(capacity=5)
    enrollment = roster.seated[0]
    remaining = enrollment.sessions_remaining
    page_before = staff_client.get(detail_url(enrollment))
    offered = list(page_before.context["transfer_form"].fields["section"].queryset)
    assert target in offered and roster.section not in offered
    response = staff_client.post(
        action_url("enrollment-transfer", enrollment.pk),
        {"transfer-section": str(target.pk), "transfer-reason": "Better time"},
        follow=True,
    )
    moved = Enrollment.objects.get(student=enrollment.student, section=target)
    assert response.redirect_chain[-1][0] == detail_url(moved)
    assert moved.status == "enrolled" and moved.sessions_allocated == remaining and moved.invoice_id is None
    enrollment.refresh_from_db()
    assert enrollment.status == "withdrawn" and "Better time" in enrollment.status_reason
    assert WaitlistEntry.objects.get(pk=roster.line[0].pk).status == "offered"


def test_transfer_into_a_full_section_is_a_conflict_message_and_nothing_changes(
    staff_client, roster, make_section, make_student, office
):
    full = make_section(capacity=1)
    services.enroll(student=make_student(), section=full, actor=office)
    before = rows()
    response = staff_client.post(
        action_url("enrollment-transfer", roster.seated[0].pk), {"transfer-section": str(full.pk)}, follow=True
    )
    assert response.redirect_chain[-1][0] == detail_url(roster.seated[0])
    assert any("The section is full" in text for text in shown_messages(response))
    assert rows() == before


def test_transfer_offers_only_open_sections_at_the_students_location(
    staff_client, roster, make_section, other_location, term
):
    closed_term = Term.objects.create(
        academic_year=term.academic_year,
        name="Closed",
        start_date=datetime.date(2025, 9, 1),
        end_date=datetime.date(2025, 12, 1),
        status="closed",
    )
    closed = make_section(term=closed_term)
    elsewhere = make_section(location=other_location)
    same = make_section(capacity=3)
    form = staff_client.get(detail_url(roster.seated[0])).context["transfer_form"]
    offered = list(form.fields["section"].queryset)
    assert same in offered and closed not in offered and elsewhere not in offered
    assert "3 seats left" in form.fields["section"].label_from_instance(offered[offered.index(same)])
    before = rows()
    response = staff_client.post(
        action_url("enrollment-transfer", roster.seated[0].pk), {"transfer-section": str(elsewhere.pk)}
    )
    assert response.status_code == 400 and response.context["transfer_form"].errors["section"]
    assert rows() == before


# --- enroll in a class from the student's page ------------------------------------------------------


def test_the_student_page_links_to_enroll_in_a_class(staff_client, make_student):
    student = make_student()
    html = page(staff_client.get(reverse("staff:student-detail", kwargs={"pk": student.pk})))
    assert reverse("staff:student-enroll", kwargs={"pk": student.pk}) in html
    assert "Enroll in a class" in html


def test_the_enroll_page_lists_the_classes_and_offers_open_sections_with_seats(
    staff_client, roster, make_section, other_location
):
    student = roster.line[0].student
    roomy = make_section(capacity=4)
    elsewhere = make_section(location=other_location)
    response = staff_client.get(reverse("staff:student-enroll", kwargs={"pk": student.pk}))
    assert response.status_code == 200
    field = response.context["form"].fields["section"]
    offered = list(field.queryset)
    assert roomy in offered and roster.section in offered and elsewhere not in offered
    html = page(response)
    assert "4 seats left" in html and "full, 2 waiting" in html
    # the place in line is shown with the student's classes
    assert [e.pk for e in response.context["waitlist"]] == [roster.line[0].pk]
    other = roster.seated[0].student
    listed = staff_client.get(reverse("staff:student-enroll", kwargs={"pk": other.pk})).context["enrollments"]
    assert [e.pk for e in listed] == [roster.seated[0].pk]


def test_enrolling_from_the_student_page(staff_client, make_section, make_student):
    roomy = make_section(capacity=4)
    student = make_student()
    start = timezone.localdate() + datetime.timedelta(days=10)
    response = staff_client.post(
        reverse("staff:student-enroll", kwargs={"pk": student.pk}),
        {"section": str(roomy.pk), "start_date": start.isoformat(), "notes": "Bring goggles"},
        follow=True,
    )
    enrollment = Enrollment.objects.get(student=student, section=roomy)
    assert response.redirect_chain[-1][0] == detail_url(enrollment)
    assert enrollment.start_date == start and enrollment.notes == "Bring goggles"
    assert any(f"{student.full_name} was enrolled" in text for text in shown_messages(response))


def test_a_service_validation_error_goes_next_to_its_field(staff_client, make_section, make_student):
    roomy = make_section(capacity=4)
    student = make_student()
    before = rows()
    response = staff_client.post(
        reverse("staff:student-enroll", kwargs={"pk": student.pk}),
        {"section": str(roomy.pk), "start_date": "2001-01-01"},
    )
    assert response.status_code == 400
    term = roomy.term
    assert response.context["form"].errors["start_date"] == [
        f"The start date must lie inside the term {term} ({term.start_date:%d %b %Y} to {term.end_date:%d %b %Y})."
    ]
    assert rows() == before
    # a start inside the term but before the day of enrollment (today) is the model's field error
    response = staff_client.post(
        reverse("staff:student-enroll", kwargs={"pk": student.pk}),
        {"section": str(roomy.pk), "start_date": term.start_date.isoformat()},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["start_date"] == ["Classes cannot start before the enrollment date."]
    assert rows() == before


def test_enrolling_from_the_student_page_into_a_full_section_is_a_conflict(staff_client, roster, make_student):
    student = make_student()
    before = rows()
    response = staff_client.post(
        reverse("staff:student-enroll", kwargs={"pk": student.pk}), {"section": str(roster.section.pk)}
    )
    assert response.status_code == 400
    assert "The section is full (2 seats)." in response.context["form"].non_field_errors()
    assert rows() == before


def test_enrolling_twice_is_a_conflict(staff_client, roster):
    student = roster.seated[0].student
    before = rows()
    response = staff_client.post(
        reverse("staff:student-enroll", kwargs={"pk": student.pk}),
        {"section": str(roster.section.pk), "waitlist": "on"},
    )
    assert response.status_code == 400
    assert "already enrolled" in " ".join(response.context["form"].non_field_errors())
    assert rows() == before


@pytest.mark.parametrize("classes", [1, 6])
def test_the_student_enroll_page_runs_a_fixed_number_of_queries(
    client, office, make_section, make_student, django_assert_max_num_queries, classes
):
    student = make_student()
    for _ in range(classes):
        services.enroll(student=student, section=make_section(capacity=3), actor=office)
    client.force_login(office)
    url = reverse("staff:student-enroll", kwargs={"pk": student.pk})
    client.get(url)
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert len(response.context["enrollments"]) == classes
