from django.db import migrations

from students.migrations._search_index import backwards, forwards


class Migration(migrations.Migration):
    """Trigram index for search-as-you-type over number, names, email and phone."""

    dependencies = [("students", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
