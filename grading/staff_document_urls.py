"""Staff pages of document requests and issued documents, mounted in the ``staff``
namespace by ``academy.config.urls``. A PDF's progress and download: ``staff:job-detail``."""

from django.urls import path

from grading import staff_document_views as views

urlpatterns = [
    path("grading/documents/", views.document_queue, name="grading-documents"),
    path("grading/documents/requests/<uuid:pk>/", views.document_request_detail, name="grading-document-request"),
    path(
        "grading/documents/requests/<uuid:pk>/approve/",
        views.document_request_approve_view,
        name="grading-document-approve",
    ),
    path(
        "grading/documents/requests/<uuid:pk>/reject/",
        views.document_request_reject_view,
        name="grading-document-reject",
    ),
    path(
        "grading/documents/requests/<uuid:pk>/complete/",
        views.document_request_complete_view,
        name="grading-document-complete",
    ),
    path("grading/documents/issued/<uuid:pk>/pdf/", views.document_regenerate, name="grading-document-regenerate"),
    path("grading/students/<uuid:pk>/documents/", views.student_documents, name="grading-student-documents"),
    path(
        "grading/students/<uuid:pk>/transcript/",
        views.student_transcript_issue,
        name="grading-student-transcript",
    ),
]
