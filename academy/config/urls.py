"""The one module that mounts every app."""

from functools import partial

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from academy import staff_structure_views
from academy import urls as staff_shell_urls
from academy.config import health
from attendance import portal_urls as attendance_portal_urls
from attendance import staff_urls as attendance_staff_urls
from enrollment import portal_urls as enrollment_portal_urls
from enrollment import staff_urls as enrollment_staff_urls
from enrollment.selectors import sections_with_seats
from families import portal_urls as families_portal_urls
from families import staff_urls as families_staff_urls
from finance import portal_urls as finance_portal_urls
from finance import staff_urls as finance_staff_urls
from grading import portal_document_urls as grading_portal_document_urls
from grading import portal_urls as grading_portal_urls
from grading import staff_document_urls as grading_staff_document_urls
from grading import staff_report_urls as grading_staff_report_urls
from grading import staff_skill_urls as grading_staff_skill_urls
from grading import staff_urls as grading_staff_urls
from grading import verify_views
from promotion import portal_urls as promotion_portal_urls
from promotion import staff_urls as promotion_staff_urls

# One "staff" namespace from several apps: academy holds the shell (login, logout);
# pages that list students live in families (layer rule) and higher apps.
staff_urlpatterns = [
    *staff_shell_urls.urlpatterns,
    # academy's sections page with the seats enrollment knows of (academy cannot import enrollment)
    path(
        "structure/sections/",
        partial(staff_structure_views.structure_sections, with_seats=sections_with_seats),
        name="structure-sections",
    ),
    *families_staff_urls.urlpatterns,
    *finance_staff_urls.urlpatterns,
    *enrollment_staff_urls.urlpatterns,
    *attendance_staff_urls.urlpatterns,
    *grading_staff_urls.urlpatterns,
    *grading_staff_skill_urls.urlpatterns,
    *grading_staff_report_urls.urlpatterns,
    *grading_staff_document_urls.urlpatterns,
    *promotion_staff_urls.urlpatterns,
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="staff:dashboard", permanent=False)),
    path("admin/", admin.site.urls),
    # browsers ask for /favicon.ico on pages without an icon link (the admin has one too)
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("img/favicon.ico"), permanent=False)),
    path("api/v1/", include("academy.config.api")),
    # for load balancers and monitoring, no login (answered by HealthCheckMiddleware first)
    path("health/", health.health, name="health"),
    # the public check of an issued document's QR code (no login)
    path("verify/<str:token>/", verify_views.verify, name="verify"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from our static files, its start-up script with the CSP nonce (templates/api_docs.html)
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("staff/", include((staff_urlpatterns, "staff"))),
    # One "portal" namespace: the parent portal lives in families, its money pages in finance,
    # its waitlist pages in enrollment, its classes and attendance pages in attendance,
    # its results and documents in grading, its year-end notices in promotion.
    path(
        "portal/",
        include(
            (
                [
                    *families_portal_urls.urlpatterns,
                    *finance_portal_urls.urlpatterns,
                    *enrollment_portal_urls.urlpatterns,
                    *attendance_portal_urls.urlpatterns,
                    *grading_portal_urls.urlpatterns,
                    *grading_portal_document_urls.urlpatterns,
                    *promotion_portal_urls.urlpatterns,
                ],
                families_portal_urls.app_name,
            )
        ),
    ),
]

# JSON errors under /api/, the site's pages elsewhere (academy.common.exceptions)
handler400 = "academy.common.exceptions.bad_request"
handler404 = "academy.common.exceptions.page_not_found"
handler500 = "academy.common.exceptions.server_error"
