"""Parent portal."""

from django.urls import path

from families import portal_token_views, portal_views

app_name = "portal"

urlpatterns = [
    path("", portal_views.dashboard, name="dashboard"),
    path("login/", portal_views.PortalLoginView.as_view(), name="login"),
    path("logout/", portal_views.PortalLogoutView.as_view(), name="logout"),
    path("children/<uuid:pk>/", portal_views.child_detail, name="child"),
    path("my-details/", portal_views.my_details, name="my_details"),
    path("my-details/api-token/", portal_token_views.api_token, name="api-token"),
    path("notifications/", portal_views.notification_list, name="notifications"),
    path(
        "notifications/mark-all-read/",
        portal_views.notifications_mark_all_read,
        name="notifications_mark_all_read",
    ),
    path("notifications/<uuid:pk>/", portal_views.notification_detail, name="notification"),
    path("password-reset/", portal_views.PortalPasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", portal_views.PortalPasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        portal_views.PortalPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        portal_views.PortalPasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("invitation/<uidb64>/<token>/", portal_views.PortalInvitationView.as_view(), name="invitation"),
]
