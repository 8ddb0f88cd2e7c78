"""Staff portal: the shell (login, logout, dashboard). Later apps add their pages."""

from django.urls import path

from academy import views

app_name = "staff"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
