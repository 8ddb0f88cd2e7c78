"""The parent portal's waitlist: each child's place in line, accepting or declining an
offered seat. Only a guardian of the child sees or acts (anyone else: 404); a refusal
is a message and changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment import services
from enrollment.models import WaitlistEntry
from notifications.models import Notification
from tests.enrollment.conftest import rows
from tests.factories.finance import FinancePolicyFactory, issue

pytestmark = pytest.mark.django_db

WAITLIST = "/portal/waitlist/"


def accept_url(entry) -> str:
    return reverse("portal:waitlist-accept", kwargs={"pk": entry.pk})


def decline_url(entry) -> str:
    return reverse("portal:waitlist-decline", kwargs={"pk": entry.pk})


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def lines(make_section, make_student, office, family, other_family, enrollment_fee):
    """A one-seat section, full, with the family's first child first in line and another
    family's child second; a second full section with the family's second child."""
    _guardian, children = family
    _other, (other_child,) = other_family
    section = make_section(capacity=1)
    seated = services.enroll(student=make_student(), section=section, actor=office)
    first = services.enroll(student=children[0], section=section, actor=office, waitlist=True)
    theirs = services.enroll(student=other_child, section=section, actor=office, waitlist=True)
    second_section = make_section(capacity=0)
    services.enroll(student=make_student(), section=second_section, actor=office, waitlist=True)
    services.enroll(student=make_student(), section=second_section, actor=office, waitlist=True)
    second = services.enroll(student=children[1], section=second_section, actor=office, waitlist=True)
    return section, seated, first, theirs, second


@pytest.fixture
def offered(lines, office):
    """The seat freed and offered to the family's first child."""
    _section, seated, first, _theirs, _second = lines
    services.enrollment_withdraw(enrollment=seated, actor=office, reason="Moved away")
    first.refresh_from_db()
    assert first.status == "offered"
    return first


@pytest.fixture
def parent_client(client, family):
    client.force_login(family[0].portal_user)
    return client


# --- who may see and act --------------------------------------------------------------------------


def test_anonymous_users_go_to_the_portal_login(client, offered):
    response = client.get(WAITLIST)
    assert response.status_code == 302 and response.url.startswith(reverse("portal:login"))
    before = rows()
    for url in (accept_url(offered), decline_url(offered)):
        response = client.post(url)
        assert response.status_code == 302 and response.url.startswith(reverse("portal:login"))
    assert rows() == before


def test_staff_are_sent_to_the_staff_portal(client, office, offered):
    client.force_login(office)
    assert client.get(WAITLIST).url == reverse("staff:dashboard")
    before = rows()
    assert client.post(accept_url(offered)).url == reverse("staff:dashboard")
    assert rows() == before


def test_a_parent_sees_only_their_own_childrens_places(parent_client, lines):
    _section, _seated, first, theirs, second = lines
    response = parent_client.get(WAITLIST)
    assert response.status_code == 200
    shown = {entry.pk: entry.place_in_line for entry in response.context["entries"]}
    assert shown == {first.pk: 1, second.pk: 3}
    html = response.content.decode()
    assert theirs.student.full_name not in html
    assert 'data-testid="place-in-line">3<' in html


def test_another_family_gets_404_and_nothing_changes(client, other_family, offered):
    client.force_login(other_family[0].portal_user)
    before = rows()
    assert client.post(accept_url(offered)).status_code == 404
    assert client.post(decline_url(offered)).status_code == 404
    assert rows() == before
    assert offered.pk not in {entry.pk for entry in client.get(WAITLIST).context["entries"]}


def test_a_closed_entry_is_not_listed_and_answers_404(parent_client, offered, office):
    services.waitlist_remove(entry=offered, actor=office, reason="Office")
    assert offered.pk not in {entry.pk for entry in parent_client.get(WAITLIST).context["entries"]}
    assert parent_client.post(accept_url(offered)).status_code == 404


def test_actions_are_post_only(parent_client, offered):
    assert parent_client.get(accept_url(offered)).status_code == 405
    assert parent_client.get(decline_url(offered)).status_code == 405


# --- an offered seat ------------------------------------------------------------------------------------


def test_an_offer_shows_until_when_with_accept_and_decline(parent_client, offered):
    response = parent_client.get(WAITLIST)
    html = response.content.decode()
    assert 'data-testid="offer-notice"' in html
    assert timezone.localtime(offered.offer_expires_at).strftime("%Y, %H:%M") in html
    assert accept_url(offered) in html and decline_url(offered) in html
    assert "Accept the seat" in html


def test_accepting_enrolls_the_child_and_bills_the_fee(parent_client, family, offered):
    response = parent_client.post(accept_url(offered), follow=True)
    assert response.redirect_chain[-1][0] == WAITLIST
    entry = WaitlistEntry.objects.get(pk=offered.pk)
    assert entry.status == "accepted"
    enrollment = entry.enrollment
    assert (enrollment.student, enrollment.status) == (offered.student, "enrolled")
    assert enrollment.invoice.total == Decimal("50.00")
    parent = family[0].portal_user
    record = WaitlistEntry.history.filter(id=entry.pk).order_by("-history_date").first()
    assert (record.history_user, record.history_change_reason) == (parent, "Offer accepted")
    assert any(enrollment.invoice.invoice_number in text for text in shown_messages(response))
    assert offered.pk not in {e.pk for e in response.context["entries"]}


def test_an_expired_offer_cannot_be_accepted(parent_client, offered):
    past = timezone.now() - timedelta(hours=1)
    WaitlistEntry.objects.filter(pk=offered.pk).update(offered_at=past - timedelta(hours=48), offer_expires_at=past)
    page = parent_client.get(WAITLIST)
    assert "Offer expired" in page.content.decode() and accept_url(offered) not in page.content.decode()
    before = rows()
    response = parent_client.post(accept_url(offered), follow=True)
    assert any("The offer has expired." in text for text in shown_messages(response))
    assert rows() == before


def test_a_waiting_child_has_no_seat_to_accept(parent_client, lines):
    second = lines[4]
    before = rows()
    response = parent_client.post(accept_url(second), follow=True)
    assert any("No seat has been offered" in text for text in shown_messages(response))
    assert rows() == before


def test_a_finance_hold_refuses_the_seat(parent_client, offered, location):
    FinancePolicyFactory(location=location, block_enrollment=True, hold_threshold=Decimal("100.00"))
    issue(offered.student, "150.00")
    before = rows()
    response = parent_client.post(accept_url(offered), follow=True)
    assert any(offered.student.first_name in text for text in shown_messages(response))
    assert rows() == before
    assert WaitlistEntry.objects.get(pk=offered.pk).status == "offered"


def test_declining_passes_the_seat_to_the_next_in_line(parent_client, lines, offered):
    theirs = lines[3]
    response = parent_client.post(decline_url(offered), follow=True)
    entry = WaitlistEntry.objects.get(pk=offered.pk)
    assert (entry.status, entry.closed_reason) == ("removed", "Declined by the family")
    assert WaitlistEntry.objects.get(pk=theirs.pk).status == "offered"
    assert any("no longer on the waitlist" in text for text in shown_messages(response))


def test_a_waiting_child_can_leave_the_line(parent_client, lines):
    second = lines[4]
    html = parent_client.get(WAITLIST).content.decode()
    assert "Leave the waitlist" in html
    parent_client.post(decline_url(second))
    assert WaitlistEntry.objects.get(pk=second.pk).status == "removed"


def test_the_offer_message_links_to_the_waitlist(offered):
    told = Notification.objects.filter(kind="waitlist_seat_offered")
    assert told.exists() and {n.action_url for n in told} == {WAITLIST}


# --- links and query counts --------------------------------------------------------------------------


def test_the_child_page_links_to_the_waitlist_only_when_waiting(parent_client, family, lines, office):
    _guardian, children = family
    html = parent_client.get(reverse("portal:child", kwargs={"pk": children[1].pk})).content.decode()
    assert 'data-testid="waitlist-link"' in html and WAITLIST in html
    services.waitlist_remove(entry=lines[4], actor=office)
    html = parent_client.get(reverse("portal:child", kwargs={"pk": children[1].pk})).content.decode()
    assert 'data-testid="waitlist-link"' not in html


def test_nothing_on_a_waitlist(client, other_family):
    client.force_login(other_family[0].portal_user)
    response = client.get(WAITLIST)
    assert response.status_code == 200 and 'data-testid="no-entries"' in response.content.decode()


@pytest.mark.parametrize("sections", [1, 5])
def test_the_waitlist_page_runs_a_fixed_number_of_queries(
    client, family, make_section, office, django_assert_max_num_queries, sections
):
    _guardian, children = family
    for _ in range(sections):
        section = make_section(capacity=0)
        for child in children:
            services.enroll(student=child, section=section, actor=office, waitlist=True)
    client.force_login(family[0].portal_user)
    client.get(WAITLIST)
    # session, user, guardian, unread count, entries
    with django_assert_max_num_queries(5):
        response = client.get(WAITLIST)
    assert len(response.context["entries"]) == 2 * sections
