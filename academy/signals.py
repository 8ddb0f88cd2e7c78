"""Signals of the academy app: login-failure accounting, what a new password ends, and
what academy tells the apps above it (which it may not import)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from academy import login_limits
from academy.models import User

# Sent by ``academy.services.structure_save`` after the commit that raised a section's
# capacity, with ``section``, ``previous_capacity`` and ``actor`` (may be ``None``).
# ``enrollment.receivers`` offers the new seats to the section's waitlist.
section_capacity_raised = Signal()


@receiver(user_login_failed, dispatch_uid="academy_login_failed")
def _record_login_failure(sender, credentials, request=None, **kwargs):
    login_limits.login_failure_record(request, credentials.get("username") or "")


@receiver(user_logged_in, dispatch_uid="academy_logged_in")
def _login_succeeded(sender, request, user, **kwargs):
    login_limits.login_success(request, user.get_username())


@receiver(post_save, sender=User, dispatch_uid="academy_password_set")
def _password_set(sender, instance: User, created: bool, **kwargs):
    """A new password (a reset, a change, the admin, ``changepassword``) ends what the
    old one opened: the user's API token is revoked and their login counters start
    again. Their other sessions end too: Django keeps a hash of the password in each
    session and drops a session whose hash no longer matches (the session that changed
    the password is kept by ``update_session_auth_hash``). ``set_password`` leaves the
    raw password on ``_password`` until the save that stores it has finished."""
    if created or getattr(instance, "_password", None) is None:
        return
    from academy.services import api_token_revoke

    api_token_revoke(user=instance)
    login_limits.login_failures_clear(instance.get_username())
