"""Staff portal pages of the attendance app, mounted in the ``staff`` namespace by
``academy.config.urls``."""

from django.urls import path

from attendance import staff_views

urlpatterns = [
    path("attendance/", staff_views.sessions_of_day, name="attendance-day"),
    path("attendance/sessions/<uuid:pk>/", staff_views.session_attendance, name="attendance-session"),
    path("attendance/students/<uuid:pk>/", staff_views.student_attendance, name="attendance-student"),
    path("attendance/makeups/<uuid:pk>/book/", staff_views.makeup_book, name="attendance-makeup-book"),
    path("attendance/makeups/<uuid:pk>/cancel/", staff_views.makeup_cancel, name="attendance-makeup-cancel"),
    path("attendance/report/", staff_views.attendance_report, name="attendance-report"),
]
