"""The Researchers group: staff in it may design surveys, watch progress, export ratings, see reports."""

from django.db import migrations

from fashionsite.group_grants import grant_to_group

GROUP = "Researchers"
PERMISSIONS = [("surveys", "conduct_survey"), ("search", "view_weightconfig")]


def create_researchers_group(apps, schema_editor):
    grant_to_group(apps, GROUP, PERMISSIONS)


def remove_researchers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_researchers_group, remove_researchers_group)]
