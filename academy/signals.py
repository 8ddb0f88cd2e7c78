"""Signals of the academy app: login-failure accounting, and what academy tells the
apps above it (which it may not import)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import Signal, receiver

from academy.services import login_failure_record, login_failures_reset

# Sent by ``academy.services.structure_save`` after the commit that raised a section's
# capacity, with ``section``, ``previous_capacity`` and ``actor`` (may be ``None``).
# ``enrollment.receivers`` offers the new seats to the section's waitlist.
section_capacity_raised = Signal()


@receiver(user_login_failed, dispatch_uid="academy_login_failed")
def _record_login_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    if username:
        login_failure_record(username)


@receiver(user_logged_in, dispatch_uid="academy_logged_in")
def _reset_login_failures(sender, request, user, **kwargs):
    login_failures_reset(user.get_username())
