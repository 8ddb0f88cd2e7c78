"""The parent portal's year-end notices, mounted into the "portal" namespace by
``academy.config.urls`` (the portal itself lives in families)."""

from django.urls import path

from promotion import portal_views

urlpatterns = [
    path("promotions/", portal_views.promotions, name="promotions"),
    path("children/<uuid:pk>/promotions/", portal_views.child_promotions, name="child-promotions"),
]
