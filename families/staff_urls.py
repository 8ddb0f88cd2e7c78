"""Staff portal pages of the families app, mounted in the ``staff`` namespace by
``academy.config.urls`` next to ``academy.urls`` (login and logout)."""

from django.urls import path

from families import staff_guardian_views, staff_imports, staff_lookup_views, staff_views

urlpatterns = [
    path("", staff_views.dashboard, name="dashboard"),
    # students (families.staff_views)
    path("students/", staff_views.student_list_view, name="student-list"),
    path("students/export.csv", staff_views.student_export, name="student-export"),
    path("students/new/", staff_views.student_admit_view, name="student-admit"),
    path("students/import/", staff_imports.student_import, name="student-import"),
    path("students/<uuid:pk>/", staff_views.student_detail, name="student-detail"),
    path("students/<uuid:pk>/edit/", staff_views.student_edit, name="student-edit"),
    path("students/<uuid:pk>/status/", staff_views.student_status, name="student-status"),
    path("students/<uuid:pk>/delete/", staff_views.student_delete, name="student-delete"),
    # guardians (families.staff_guardian_views)
    path("guardians/", staff_guardian_views.guardian_list, name="guardian-list"),
    path("guardians/<uuid:pk>/", staff_guardian_views.guardian_detail, name="guardian-detail"),
    path("guardians/<uuid:pk>/edit/", staff_guardian_views.guardian_edit, name="guardian-edit"),
    path("guardians/<uuid:pk>/invite/", staff_guardian_views.guardian_invite_view, name="guardian-invite"),
    path("guardians/<uuid:pk>/link/", staff_guardian_views.guardian_link, name="guardian-link"),
    path("guardians/<uuid:pk>/unlink/<uuid:link_pk>/", staff_guardian_views.guardian_unlink, name="guardian-unlink"),
    path(
        "guardians/<uuid:pk>/make-primary/<uuid:student_pk>/",
        staff_guardian_views.guardian_make_primary,
        name="guardian-make-primary",
    ),
    # the pickers' lookups (families.staff_lookup_views, academy.common.widgets)
    path("lookup/students/", staff_lookup_views.student_lookup, name="student-lookup"),
    path("lookup/guardians/", staff_lookup_views.guardian_lookup, name="guardian-lookup"),
]
