"""Attendance API paths outside the router (on students, which families owns).
Mounted by ``academy.config.api`` before the router."""

from django.urls import path

from attendance.api import views

urlpatterns = [
    path(
        "students/<uuid:pk>/attendance-summary/",
        views.StudentAttendanceSummaryView.as_view(),
        name="student-attendance-summary",
    ),
]
