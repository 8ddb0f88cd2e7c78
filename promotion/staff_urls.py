"""Staff pages of year-end promotion, mounted in the ``staff`` namespace by
``academy.config.urls``. A job's own page: ``staff:job-detail``."""

from django.urls import path

from promotion import staff_views as views

urlpatterns = [
    path("promotion/", views.run_list_view, name="promotion-runs"),
    path("promotion/new/", views.run_new, name="promotion-run-new"),
    path("promotion/runs/<uuid:pk>/", views.run_detail, name="promotion-run"),
    path("promotion/runs/<uuid:pk>/preview/", views.run_preview_view, name="promotion-run-preview"),
    path("promotion/runs/<uuid:pk>/approve/", views.run_approve_view, name="promotion-run-approve"),
    path("promotion/runs/<uuid:pk>/start/", views.run_start_view, name="promotion-run-start"),
    path("promotion/runs/<uuid:pk>/cancel/", views.run_cancel_view, name="promotion-run-cancel"),
    path("promotion/runs/<uuid:pk>/preview.csv", views.run_preview_csv, name="promotion-run-preview-csv"),
    path("promotion/runs/<uuid:pk>/records.csv", views.run_records_csv, name="promotion-run-records-csv"),
    path(
        "promotion/runs/<uuid:pk>/proposals/<int:proposal_pk>/override/",
        views.proposal_override_view,
        name="promotion-proposal-override",
    ),
]
