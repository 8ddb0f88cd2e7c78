"""The grade scales every academy starts with (``grading.migrations._default_scales``)."""

from django.db import migrations

from grading.migrations._default_scales import create


class Migration(migrations.Migration):
    dependencies = [("grading", "0002_result_guard")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
