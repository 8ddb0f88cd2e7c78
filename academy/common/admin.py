"""Django admin building blocks every app's ``admin.py`` shares.

Apps never import one another's ``admin`` module: base classes live here, and a higher
app that adds a section to a lower app's admin page (families adds the guardians to the
student page) contributes an inline with :func:`inline_contribute` instead of
subclassing and re-registering that app's ``ModelAdmin``.

Admin actions call services, and each action asks for the permission the same service
requires in the staff portal and the API: ``@admin.action(permissions=["cancel"])``
with a ``has_cancel_permission(request)`` method on the ``ModelAdmin`` that checks the
named permission (never ``"view"``).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from academy.common.exceptions import Conflict


def service_error_text(error: ValidationError | Conflict) -> str:
    if isinstance(error, Conflict):
        return str(error.detail)
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{field}: {message}" if field != "__all__" else message
            for field, field_messages in error.message_dict.items()
            for message in field_messages
        )
    return "; ".join(error.messages)


class ServiceAdminMixin:
    """A ``ModelAdmin`` whose ``save_model`` / ``delete_model`` call services.

    A service that refuses (a ``ValidationError`` or ``Conflict``) leaves the same page
    with the reason as an error message, and nothing is written (the admin's transaction
    rolls back), never a 500. Reverting to an old version from the history is off: that
    view saves outside this handling, and services such as ``student_update`` take the
    fields a person changed, not a whole old row."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, Conflict) as error:
            self.message_user(request, f"Nothing was saved: {service_error_text(error)}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except (ValidationError, Conflict) as error:
            self.message_user(request, f"Nothing was deleted: {service_error_text(error)}", messages.ERROR)
            opts = self.opts
            change = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id], current_app=self.admin_site.name
            )
            return HttpResponseRedirect(change)


class ReadOnlyAdmin(admin.ModelAdmin):
    """List and read only: the rows change through the app's services (actions call
    them), never through the admin's add, change or delete forms."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    """Read only, with the record's history."""


_contributed_inlines: dict[type, list[type]] = {}


def inline_contribute(model, inline) -> None:
    """Show ``inline`` on ``model``'s admin page, from the app that owns the inline's
    model. The page's ``ModelAdmin`` must use :class:`ContributedInlinesMixin`."""
    inlines = _contributed_inlines.setdefault(model, [])
    if inline not in inlines:
        inlines.append(inline)


def contributed_inlines(model) -> list[type]:
    return list(_contributed_inlines.get(model, []))


class ContributedInlinesMixin:
    """A ``ModelAdmin`` whose page also shows the inlines higher apps contribute."""

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *contributed_inlines(self.model)]
