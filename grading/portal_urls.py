"""The parent portal's results, report cards and skill progress, mounted into the
"portal" namespace by ``academy.config.urls`` (the portal itself lives in families)."""

from django.urls import path

from grading import portal_views

urlpatterns = [
    path("children/<uuid:pk>/results/", portal_views.child_results, name="grading-results"),
    path(
        "children/<uuid:pk>/results/<uuid:term_pk>/report-card/",
        portal_views.child_report_card,
        name="grading-report-card",
    ),
    path("children/<uuid:pk>/progress/", portal_views.child_progress, name="grading-progress"),
]
