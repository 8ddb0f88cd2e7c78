"""Parent portal."""

from django.urls import path

from families import portal_views

app_name = "portal"

urlpatterns = [
    path("", portal_views.dashboard, name="dashboard"),
    path("login/", portal_views.PortalLoginView.as_view(), name="login"),
    path("logout/", portal_views.PortalLogoutView.as_view(), name="logout"),
]
