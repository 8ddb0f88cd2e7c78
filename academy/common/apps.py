from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "academy.common"
    label = "common"
    verbose_name = "Shared kernel"

    def ready(self):
        from django.db.models import UUIDField
        from django.db.models.fields.related import ForeignObject

        from academy.common.lookups import InArray

        UUIDField.register_lookup(InArray)
        ForeignObject.register_lookup(InArray)
