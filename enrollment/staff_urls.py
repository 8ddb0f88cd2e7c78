"""Staff portal pages of the enrollment app, mounted in the ``staff`` namespace by
``academy.config.urls``."""

from django.urls import path

from enrollment import staff_transfer_views, staff_views

urlpatterns = [
    # a section's roster and waitlist, one enrollment, enroll from the student's page
    path("sections/<uuid:pk>/", staff_views.section_roster, name="section-roster"),
    path("sections/<uuid:pk>/enroll/", staff_views.section_enroll, name="section-enroll"),
    path("waitlist/<uuid:pk>/move/", staff_views.waitlist_move, name="waitlist-move"),
    path("waitlist/<uuid:pk>/remove/", staff_views.waitlist_remove, name="waitlist-remove"),
    path("waitlist/<uuid:pk>/accept/", staff_views.waitlist_accept, name="waitlist-accept"),
    path("enrollments/<uuid:pk>/", staff_views.enrollment_detail, name="enrollment-detail"),
    path("enrollments/<uuid:pk>/pause/", staff_views.enrollment_pause, name="enrollment-pause"),
    path("enrollments/<uuid:pk>/resume/", staff_views.enrollment_resume, name="enrollment-resume"),
    path("enrollments/<uuid:pk>/withdraw/", staff_views.enrollment_withdraw, name="enrollment-withdraw"),
    path("enrollments/<uuid:pk>/transfer/", staff_views.enrollment_transfer, name="enrollment-transfer"),
    path("students/<uuid:pk>/enroll/", staff_views.student_enroll, name="student-enroll"),
    # location transfers (enrollment.staff_transfer_views)
    path("transfers/", staff_transfer_views.transfer_list_view, name="transfer-list"),
    path("transfers/new/", staff_transfer_views.transfer_new, name="transfer-new"),
    path("transfers/<uuid:pk>/", staff_transfer_views.transfer_detail, name="transfer-detail"),
    path("transfers/<uuid:pk>/approve/", staff_transfer_views.transfer_approve, name="transfer-approve"),
    path("transfers/<uuid:pk>/reject/", staff_transfer_views.transfer_reject, name="transfer-reject"),
    path("transfers/<uuid:pk>/apply/", staff_transfer_views.transfer_apply, name="transfer-apply"),
]
