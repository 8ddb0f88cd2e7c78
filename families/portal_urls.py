"""Parent portal."""

from django.urls import path

from families import portal_views

app_name = "portal"

urlpatterns = [
    path("", portal_views.dashboard, name="dashboard"),
]
