from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from academy.services import login_failure_record, login_failures_reset


@receiver(user_login_failed, dispatch_uid="academy_login_failed")
def _record_login_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    if username:
        login_failure_record(username)


@receiver(user_logged_in, dispatch_uid="academy_logged_in")
def _reset_login_failures(sender, request, user, **kwargs):
    login_failures_reset(user.get_username())
