"""Staff portal shell: login and logout. ``academy.config.urls`` mounts these together
with ``families.staff_urls`` (dashboard and student pages) and the higher apps' staff
pages in the ``staff`` namespace."""

from django.urls import path

from academy import job_views, staff_structure_views, token_views, views

app_name = "staff"

urlpatterns = [
    path("login/", views.StaffLoginView.as_view(), name="login"),
    path("logout/", views.StaffLogoutView.as_view(), name="logout"),
    path("account/api-token/", token_views.api_token, name="api-token"),
    # academy structure, read only (academy.staff_structure_views)
    path("structure/", staff_structure_views.structure_overview, name="structure"),
    path("structure/locations/", staff_structure_views.structure_locations, name="structure-locations"),
    path("structure/years/", staff_structure_views.structure_years, name="structure-years"),
    path("structure/grades/", staff_structure_views.structure_grades, name="structure-grades"),
    path("structure/programs/", staff_structure_views.structure_programs, name="structure-programs"),
    path("structure/curricula/", staff_structure_views.structure_curricula, name="structure-curricula"),
    path("structure/curricula/<uuid:pk>/", staff_structure_views.structure_curriculum, name="structure-curriculum"),
    # structure/sections/ (with seats) is mounted by academy.config.urls
    # long jobs of every kind (academy.jobs): progress, cancel, the file they made
    path("jobs/<uuid:pk>/", job_views.job_detail, name="job-detail"),
    path("jobs/<uuid:pk>/download/", job_views.job_download, name="job-download"),
    path("jobs/<uuid:pk>/cancel/", job_views.job_cancel_view, name="job-cancel"),
]
