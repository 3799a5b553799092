"""Finish moving the catalogue out of the search app in a database migrated before the move.

- The content types `search.product` / `search.catalogupload` become `catalogue.*`, so their
  permissions (`manage_catalog`, held by the "Catalogue admins" group), admin log entries and
  anything else pointing at them follow the models instead of being recreated empty.
- A database made before search's migration 0104 still has the unused `embedding_job_ids` column.

A new database has nothing to adopt: both steps then change nothing.
"""

from django.db import migrations

MODELS = ("product", "catalogupload")


def adopt_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        old = ContentType.objects.filter(app_label="search", model=model).first()
        if old is None:
            continue
        new = ContentType.objects.filter(app_label="catalogue", model=model).first()
        if new is None:
            old.app_label = "catalogue"
            old.save(update_fields=["app_label"])
            continue
        # Both exist: keep the catalogue's, carrying over the old permissions' grants.
        for permission in Permission.objects.filter(content_type=old):
            target = Permission.objects.filter(content_type=new, codename=permission.codename).first()
            if target is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            for group in permission.group_set.all():
                group.permissions.add(target)
            for user in permission.user_set.all():
                user.user_permissions.add(target)
        old.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(adopt_content_types, migrations.RunPython.noop),
        migrations.RunSQL(
            "ALTER TABLE search_catalogupload DROP COLUMN IF EXISTS embedding_job_ids",
            migrations.RunSQL.noop,
        ),
    ]
