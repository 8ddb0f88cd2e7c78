"""The role groups (created by migration; their permissions are kept in step by
academy.services.roles_sync after every migrate)."""

ROLES = ("Academy admin", "Office staff", "Finance", "Instructor", "Parent")


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.using(schema_editor.connection.alias).get_or_create(name=name)
