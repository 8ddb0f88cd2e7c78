"""The parent portal's document pages, mounted into the "portal" namespace by
``academy.config.urls`` (the portal itself lives in families)."""

from django.urls import path

from grading import portal_document_views as views

urlpatterns = [
    path("documents/", views.documents, name="documents"),
    path("documents/new/", views.document_request_new, name="document-new"),
    path("documents/<uuid:pk>/download/", views.document_download, name="document-download"),
    path("documents/<uuid:pk>/progress/", views.document_progress, name="document-progress"),
]
