"""The parent portal's classes and attendance page, mounted into the "portal" namespace
by ``academy.config.urls`` (the portal itself lives in families, below attendance)."""

from django.urls import path

from attendance import portal_views

urlpatterns = [
    path("children/<uuid:pk>/classes/", portal_views.child_classes, name="child-classes"),
]
