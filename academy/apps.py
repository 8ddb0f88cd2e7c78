from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


class AcademyConfig(AppConfig):
    name = "academy"
    verbose_name = "Academy structure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from academy import signals  # noqa: F401  (login-failure accounting)
        from academy.services import roles_sync

        post_migrate.connect(_sync_roles_after_migrate(roles_sync), dispatch_uid="academy_roles_sync", weak=False)
        _connect_grant_invalidation()


def _connect_grant_invalidation():
    """Any change that could alter what a user may do forgets the cached grants
    (``academy.authz``)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from rest_framework.authtoken.models import Token

    from academy import authz

    User = get_user_model()
    for through in (
        User.groups.through,
        User.user_permissions.through,
        User.locations.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(authz.invalidate, sender=through, dispatch_uid=f"authz_{through._meta.label}")
    for model in (Group, Permission):
        post_save.connect(authz.invalidate, sender=model, dispatch_uid=f"authz_save_{model._meta.label}")
        post_delete.connect(authz.invalidate, sender=model, dispatch_uid=f"authz_delete_{model._meta.label}")
    post_save.connect(authz.user_saved, sender=User, dispatch_uid="authz_user_saved")
    post_delete.connect(authz.invalidate, sender=User, dispatch_uid="authz_user_deleted")
    # a revoked API token stops working at once (academy.authentication caches tokens)
    post_delete.connect(authz.invalidate, sender=Token, dispatch_uid="authz_token_deleted")


def _sync_roles_after_migrate(roles_sync):
    from django.apps import apps

    def handler(sender, app_config=None, using="default", **kwargs):
        # post_migrate is sent app by app; every app's permissions exist after the last one.
        if app_config is not None and app_config.label == list(apps.get_app_configs())[-1].label:
            roles_sync(using=using)

    return handler
