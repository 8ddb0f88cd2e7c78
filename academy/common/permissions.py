"""API permissions by role. Object scoping is not decided here: every view's queryset
comes from a selector that takes the user (out of scope answers 404)."""

from rest_framework import permissions

_ACTION_BY_METHOD = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def model_permission(model, method: str) -> str:
    return f"{model._meta.app_label}.{_ACTION_BY_METHOD[method]}_{model._meta.model_name}"


class RolePermission(permissions.BasePermission):
    """Staff need the model permission of their role for the method; parents may read
    the resources a view marks ``parent_readable`` (their own children's data only)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method not in _ACTION_BY_METHOD:
            return True  # DRF answers 405 itself
        model = getattr(view, "permission_model", None) or view.get_queryset().model
        if user.is_academy_staff:
            return user.has_perm(getattr(view, "required_permission", None) or model_permission(model, request.method))
        if user.is_parent:
            return request.method in permissions.SAFE_METHODS and getattr(view, "parent_readable", False)
        return False


class AuthenticatedOnly(permissions.IsAuthenticated):
    """For endpoints about the caller themself (``me/``)."""
