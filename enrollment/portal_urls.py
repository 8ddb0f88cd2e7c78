"""The parent portal's waitlist pages, mounted into the "portal" namespace by
``academy.config.urls`` (the portal itself lives in families, below enrollment)."""

from django.urls import path

from enrollment import portal_views

urlpatterns = [
    path("waitlist/", portal_views.waitlist, name="waitlist"),
    path("waitlist/<uuid:pk>/accept/", portal_views.waitlist_accept, name="waitlist-accept"),
    path("waitlist/<uuid:pk>/decline/", portal_views.waitlist_decline, name="waitlist-decline"),
]
