"""Staff portal pages of guardians: the list (search, filters, sorting, pages), a
guardian's page (profile, children, notifications sent, history), edit, linking and unlinking children,
changing a child's primary guardian and the invitation to the parent portal.

Reads go through ``families.selectors`` (``guardians_visible_to`` and
``students_visible_to`` decide the scope: anything outside it is a 404); every write
is one call to ``families.services``.
"""

import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from academy.common.history import as_of, history_page
from academy.views import staff_layout_context, staff_permission_required
from families.filters import GuardianFilterSet
from families.models import Guardian, StudentGuardian
from families.selectors import (
    guardian_child_links,
    guardian_get,
    guardian_hidden_children_count,
    guardian_recipient_key,
    guardian_staff_list,
    student_list,
)
from families.services import (
    guardian_invite,
    guardian_update,
    primary_guardian_change,
    student_guardian_link,
    student_guardian_unlink,
)
from families.staff_guardian_forms import (
    GuardianAsOfForm,
    GuardianForm,
    StudentGuardianLinkForm,
    add_service_errors,
)
from notifications.selectors import notification_list_for_keys

PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 20
STUDENT_CANDIDATES = 20
RESULTS_TARGET = "guardian-results"
CANDIDATES_TARGET = "student-candidates"
# Columns the list sorts by (the ``ordering`` fields of ``GuardianFilterSet``).
SORTABLE = (
    ("guardian_number", "Number"),
    ("last_name", "Name"),
    ("created_at", "Added"),
)
NOTIFICATIONS_PAGE_SIZE = 20
TABS = ("profile", "children", "notifications", "history")


def _guardian_or_404(request, pk) -> Guardian:
    try:
        return guardian_get(user=request.user, pk=pk)
    except Guardian.DoesNotExist:
        raise Http404("No such guardian.") from None


def _detail_url(guardian: Guardian, tab: str = "") -> str:
    url = reverse("staff:guardian-detail", kwargs={"pk": guardian.pk})
    return f"{url}?tab={tab}" if tab else url


def _sort_links(request) -> tuple[str, list[dict]]:
    """The current ``ordering`` (one sortable column, maybe descending) and, for each
    sortable column, the query string that sorts by it (or reverses it)."""
    current = request.GET.get("ordering", "")
    if current.lstrip("-") not in dict(SORTABLE):
        current = ""
    links = []
    for name, label in SORTABLE:
        is_current = current.lstrip("-") == name
        descending = is_current and current.startswith("-")
        query = request.GET.copy()
        query.pop("page", None)
        query["ordering"] = name if descending or not is_current else f"-{name}"
        links.append(
            {
                "label": label,
                "query": query.urlencode(),
                "current": is_current,
                "descending": descending,
            }
        )
    return current, links


@staff_permission_required("families.view_guardian")
def guardian_list(request):
    layout = staff_layout_context(request)
    filterset = GuardianFilterSet(
        request.GET,
        queryset=guardian_staff_list(user=request.user, location=layout["current_location"]),
        request=request,
    )
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ordering, sort_links = _sort_links(request)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **layout,
        "filter": filterset,
        "page": page,
        "ordering": ordering,
        "sort_links": sort_links,
        "query": query.urlencode(),
    }
    partial = request.htmx and request.htmx.target == RESULTS_TARGET
    response = render(request, "staff/guardian_results.html" if partial else "staff/guardian_list.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))  # a cached table must not stand in for the page
    return response


@staff_permission_required("families.view_guardian")
def guardian_detail(request, pk):
    guardian = _guardian_or_404(request, pk)
    tab = request.GET.get("tab", "profile")
    if tab not in TABS:
        tab = "profile"
    links = list(guardian_child_links(user=request.user, guardian=guardian))
    context = {
        **staff_layout_context(request),
        "guardian": guardian,
        "tab": tab,
        "links": links,
        "hidden_children": guardian_hidden_children_count(user=request.user, guardian=guardian),
    }
    if tab == "notifications":
        # what was sent to the guardian, newest first: three queries a page (count, page, deliveries)
        sent = notification_list_for_keys(keys=[guardian_recipient_key(guardian)]).order_by("-created_at", "pk")
        context["notifications_page"] = Paginator(sent, NOTIFICATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    if tab == "history":
        context["history_page"], context["history"] = history_page(
            guardian, page=request.GET.get("page"), per_page=HISTORY_PAGE_SIZE
        )
        as_of_form = GuardianAsOfForm(request.GET if request.GET.get("as_of") else None)
        context["as_of_form"] = as_of_form
        if as_of_form.is_valid() and as_of_form.cleaned_data["as_of"]:
            context["as_of"] = as_of_form.cleaned_data["as_of"]
            context["as_of_fields"] = as_of(guardian, context["as_of"])
    return render(request, "staff/guardian_detail.html", context)


@staff_permission_required("families.change_guardian")
def guardian_edit(request, pk):
    guardian = _guardian_or_404(request, pk)
    posted = request.method == "POST"
    # The form works on a copy: a rejected edit must not show as the guardian's name.
    form = GuardianForm(request.POST if posted else None, instance=copy.copy(guardian))
    if posted and form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, "Nothing to save: the guardian's details are unchanged.")
            return redirect(_detail_url(guardian))
        try:
            guardian_update(guardian=guardian, actor=request.user, data=changes, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "The guardian's details were saved.")
            return redirect(_detail_url(guardian))
    context = {**staff_layout_context(request), "guardian": guardian, "form": form}
    return render(request, "staff/guardian_edit.html", context, status=400 if posted else 200)


@staff_permission_required("families.add_studentguardian")
def guardian_link(request, pk):
    guardian = _guardian_or_404(request, pk)
    posted = request.method == "POST"
    search = (request.POST if posted else request.GET).get("q", "").strip()[:100]
    form = StudentGuardianLinkForm(request.POST if posted else None, user=request.user)
    if posted and form.is_valid():
        try:
            student_guardian_link(
                actor=request.user,
                student=form.cleaned_data["student"],
                guardian=guardian,
                relationship_type=form.cleaned_data["relationship_type"],
                flags=form.flags(),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, conflict.detail)
        else:
            student = form.cleaned_data["student"]
            messages.success(request, f"{student.full_name} is now linked to {guardian.full_name}.")
            return redirect(_detail_url(guardian, "children"))

    candidates = list(student_list(user=request.user, search=search)[:STUDENT_CANDIDATES]) if search else []
    chosen = form.cleaned_data.get("student") if posted and hasattr(form, "cleaned_data") else None
    if chosen is not None and all(student.pk != chosen.pk for student in candidates):
        candidates.insert(0, chosen)
    linked = {link.student_id for link in guardian_child_links(user=request.user, guardian=guardian)}
    context = {
        "guardian": guardian,
        "form": form,
        "search": search,
        "candidates": candidates,
        "linked": linked,
        "chosen": str(form["student"].value() or ""),
    }
    if request.htmx and request.htmx.target == CANDIDATES_TARGET and not posted:
        response = render(request, "staff/guardian_link_candidates.html", context)
    else:
        context.update(staff_layout_context(request))
        response = render(request, "staff/guardian_link.html", context, status=400 if posted else 200)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _link_or_404(request, guardian: Guardian, link_pk) -> StudentGuardian:
    link = guardian_child_links(user=request.user, guardian=guardian).filter(pk=link_pk).first()
    if link is None:
        raise Http404("No such link.")
    return link


@staff_permission_required("families.delete_studentguardian")
def guardian_unlink(request, pk, link_pk):
    """GET asks for confirmation; POST unlinks. A primary guardian cannot be unlinked:
    the service refuses and the refusal shows at the top of the page."""
    guardian = _guardian_or_404(request, pk)
    link = _link_or_404(request, guardian, link_pk)
    errors = []
    if request.method == "POST":
        try:
            student_guardian_unlink(link=link, actor=request.user)
        except Conflict as conflict:
            errors.append(conflict.detail)
        except ValidationError as error:
            errors.extend(error.messages)
        else:
            messages.success(request, f"{link.student.full_name} is no longer linked to {guardian.full_name}.")
            return redirect(_detail_url(guardian, "children"))
    context = {**staff_layout_context(request), "guardian": guardian, "link": link, "errors": errors}
    return render(request, "staff/guardian_unlink.html", context, status=409 if errors else 200)


@staff_permission_required("families.change_studentguardian")
@require_POST
def guardian_make_primary(request, pk, student_pk):
    """Make this guardian the primary guardian of one of their children (the previous
    primary becomes a secondary guardian)."""
    guardian = _guardian_or_404(request, pk)
    link = guardian_child_links(user=request.user, guardian=guardian).filter(student_id=student_pk).first()
    if link is None:
        raise Http404("No such child.")
    if link.relationship_type == StudentGuardian.RelationshipType.PRIMARY:
        messages.info(request, f"{guardian.full_name} is already the primary guardian of {link.student.full_name}.")
        return redirect(_detail_url(guardian, "children"))
    try:
        primary_guardian_change(student=link.student, guardian=guardian, actor=request.user)
    except Conflict as conflict:
        messages.error(request, conflict.detail)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{guardian.full_name} is now the primary guardian of {link.student.full_name}.")
    return redirect(_detail_url(guardian, "children"))


@staff_permission_required("families.change_guardian")
@require_POST
def guardian_invite_view(request, pk):
    """Invite the guardian to the parent portal (their login is created if needed)."""
    guardian = _guardian_or_404(request, pk)
    try:
        guardian = guardian_invite(guardian=guardian, actor=request.user, base_url=request.build_absolute_uri("/"))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, f"The invitation was not sent: {message}")
    except Conflict as conflict:
        messages.error(request, f"The invitation was not sent: {conflict.detail}")
    else:
        messages.success(request, f"An invitation to the parent portal was sent to {guardian.email}.")
    return redirect(_detail_url(guardian))
