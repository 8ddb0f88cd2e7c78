"""The parent portal's waitlist: each child's place in the line of a full class, and a
seat offered to them, which the family accepts (the child is enrolled and the
enrollment fee billed, as at the office) or declines (the seat goes to the next in
line).

Whose entries a parent sees: ``enrollment.selectors.waitlist_list`` with the parent,
i.e. the children their active guardian record is linked to. Any other entry answers
404, never 403. Every write is one ``enrollment.services`` call with the parent as the
actor; a refusal (the offer expired, a finance hold, ...) is shown as a message and
changes nothing.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from enrollment import selectors, services
from enrollment.models import WaitlistEntry
from families.portal_shell import parent_required
from notifications.selectors import notification_unread_count

DECLINED_BY_THE_FAMILY = "Declined by the family"


def _entries(request):
    """The live waitlist entries of the signed-in parent's children."""
    return selectors.waitlist_list(user=request.user).live()


def _entry_or_404(request, pk) -> WaitlistEntry:
    entry = _entries(request).filter(pk=pk).first()
    if entry is None:
        raise Http404("No such waitlist entry.")
    return entry


def _section_name(entry: WaitlistEntry) -> str:
    section = entry.section
    return f"{section.course.title} ({section.course.code}-{section.code})"


@parent_required
def waitlist(request):
    """Each child's places in line, first the offers waiting for an answer. A fixed
    number of queries whatever the number of children and entries."""
    now = timezone.now()
    entries = list(
        _entries(request)
        .select_related("section__term__academic_year")
        .order_by("student__last_name", "student__first_name", "student_id", "section__term__start_date", "position")
    )
    for entry in entries:
        entry.is_offered = entry.status == WaitlistEntry.Status.OFFERED
        entry.offer_lapsed = entry.is_offered and entry.offer_expires_at <= now
    context = {
        "guardian": request.guardian,
        "portal_nav": True,
        "nav": "children",
        "unread_count": notification_unread_count(user=request.user),
        "entries": entries,
        "offers": [entry for entry in entries if entry.is_offered and not entry.offer_lapsed],
    }
    return render(request, "portal/waitlist.html", context)


def _refusal(error) -> str:
    if isinstance(error, Conflict):
        return str(error.detail)
    return " ".join(error.messages)


@require_POST
@parent_required
def waitlist_accept(request, pk):
    entry = _entry_or_404(request, pk)
    try:
        enrollment = services.waitlist_accept(entry=entry, actor=request.user)
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{entry.student.first_name}, {_section_name(entry)}: {_refusal(error)}")
    else:
        text = f"{entry.student.first_name} now has a seat in {_section_name(entry)}."
        if enrollment.invoice_id:
            text += f" Invoice {enrollment.invoice.invoice_number} was issued for the enrollment."
        messages.success(request, text)
    return redirect("portal:waitlist")


@require_POST
@parent_required
def waitlist_decline(request, pk):
    """Decline an offered seat, or leave the line: the entry is removed and a seat it
    was offered goes to the next in line."""
    entry = _entry_or_404(request, pk)
    try:
        services.waitlist_remove(entry=entry, actor=request.user, reason=DECLINED_BY_THE_FAMILY)
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{entry.student.first_name}, {_section_name(entry)}: {_refusal(error)}")
    else:
        messages.success(request, f"{entry.student.first_name} is no longer on the waitlist of {_section_name(entry)}.")
    return redirect("portal:waitlist")
