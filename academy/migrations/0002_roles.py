from django.db import migrations

from academy.migrations._roles import create_roles


class Migration(migrations.Migration):
    """The role groups; their permissions are kept in step by academy.services.roles_sync
    after every migrate (permissions of later apps do not exist yet here)."""

    dependencies = [("academy", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
