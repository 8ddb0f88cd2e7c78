from django.db import migrations

from families.migrations._search_and_primary import backwards, forwards


class Migration(migrations.Migration):
    dependencies = [("families", "0001_initial"), ("students", "0002_search_index")]

    operations = [migrations.RunPython(forwards, backwards)]
