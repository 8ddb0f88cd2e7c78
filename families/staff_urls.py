"""Staff portal pages of the families app, mounted in the ``staff`` namespace by
``academy.config.urls`` next to ``academy.urls`` (login and logout)."""

from django.urls import path

from families import staff_views

urlpatterns = [
    path("", staff_views.dashboard, name="dashboard"),
]
