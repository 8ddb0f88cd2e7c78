from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AcademyConfig(AppConfig):
    name = "academy"
    verbose_name = "Academy structure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from academy import signals  # noqa: F401  (login-failure accounting)
        from academy.services import roles_sync

        post_migrate.connect(_sync_roles_after_migrate(roles_sync), dispatch_uid="academy_roles_sync", weak=False)


def _sync_roles_after_migrate(roles_sync):
    from django.apps import apps

    def handler(sender, app_config=None, using="default", **kwargs):
        # post_migrate is sent app by app; every app's permissions exist after the last one.
        if app_config is not None and app_config.label == list(apps.get_app_configs())[-1].label:
            roles_sync(using=using)

    return handler
