"""Staff portal pages of the enrollment app."""

from django.views.decorators.http import require_safe

from academy import staff_structure_views
from academy.views import staff_permission_required
from enrollment.selectors import sections_with_seats


@staff_permission_required("academy.view_section")
@require_safe
def structure_sections(request):
    """The structure's sections page with the seats taken, held for offers and waited for."""
    return staff_structure_views.structure_sections(request, with_seats=sections_with_seats)
