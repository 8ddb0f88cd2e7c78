"""A published result changes only through an approved change request; a frozen one never
(``grading.migrations._result_guard``)."""

from django.db import migrations

from grading.migrations._result_guard import drop_result_guard, ensure_result_guard


class Migration(migrations.Migration):
    dependencies = [("grading", "0001_initial")]

    operations = [migrations.RunPython(ensure_result_guard, drop_result_guard)]
