"""Staff portal pages of the grading app (gradebooks, publishing and freezing, grade change
requests, a student's results), mounted in the ``staff`` namespace by
``academy.config.urls``."""

from django.urls import path

from grading import staff_change_views, staff_views

urlpatterns = [
    path("grading/gradebooks/", staff_views.gradebook_list, name="grading-gradebooks"),
    path("grading/gradebooks/<uuid:pk>/", staff_views.gradebook, name="grading-gradebook"),
    path("grading/gradebooks/<uuid:pk>/assessments/new/", staff_views.assessment_new, name="grading-assessment-new"),
    path("grading/gradebooks/<uuid:pk>/publish/", staff_views.section_publish, name="grading-publish"),
    path("grading/gradebooks/<uuid:pk>/freeze/", staff_views.section_freeze, name="grading-freeze"),
    path("grading/assessments/<uuid:pk>/edit/", staff_views.assessment_edit, name="grading-assessment-edit"),
    path("grading/assessments/<uuid:pk>/delete/", staff_views.assessment_delete, name="grading-assessment-delete"),
    path("grading/terms/<uuid:pk>/freeze/", staff_views.term_freeze, name="grading-term-freeze"),
    path("grading/results/<uuid:pk>/change/", staff_change_views.change_request, name="grading-change-request"),
    path("grading/changes/", staff_change_views.change_queue, name="grading-changes"),
    path("grading/changes/<uuid:pk>/approve/", staff_change_views.change_approve, name="grading-change-approve"),
    path("grading/changes/<uuid:pk>/reject/", staff_change_views.change_reject, name="grading-change-reject"),
    path("grading/students/<uuid:pk>/results/", staff_change_views.student_results, name="grading-student-results"),
]
