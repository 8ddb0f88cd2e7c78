"""Staff pages of report cards, mounted in the ``staff`` namespace by
``academy.config.urls``. A batch's progress and ZIP: ``staff:job-detail``."""

from django.urls import path

from grading import staff_report_views as views

urlpatterns = [
    path("grading/report-cards/", views.report_cards, name="grading-report-cards"),
    path("grading/report-cards/student/", views.report_card_find, name="grading-report-card-find"),
    path(
        "grading/report-cards/<uuid:term_pk>/students/<uuid:student_pk>/",
        views.report_card,
        name="grading-report-card",
    ),
    path("grading/report-cards/batch/", views.report_card_batch, name="grading-report-card-batch"),
]
