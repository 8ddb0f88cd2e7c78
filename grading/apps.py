from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "grading"

    def ready(self):
        # the default scales exist after every migrate, and after a flush (which sends
        # post_migrate): a test that empties the database gets them back, as the roles
        post_migrate.connect(_default_scales_after_migrate, sender=self, dispatch_uid="grading_default_scales")


def _default_scales_after_migrate(sender, apps=None, using="default", **kwargs):
    from django.apps import apps as global_apps

    from grading.migrations import _default_scales

    # migrate passes the migrated state's apps; flush passes none
    _default_scales.create(apps or global_apps, None, using=using)
