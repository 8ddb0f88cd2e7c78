"""Staff portal shell: login and logout. ``academy.config.urls`` mounts these together
with ``families.staff_urls`` (dashboard and student pages) in the ``staff`` namespace."""

from django.urls import path

from academy import views

app_name = "staff"

urlpatterns = [
    path("login/", views.StaffLoginView.as_view(), name="login"),
    path("logout/", views.StaffLogoutView.as_view(), name="logout"),
]
