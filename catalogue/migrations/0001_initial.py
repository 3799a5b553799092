"""The catalogue's tables, which the search app created before the catalogue had its own app.

The tables keep their names (`search_product`, `search_catalogupload`), so no row moves. A database
migrated before the move has search's 0001/0100/0101 applied: `replaces` makes Django count this
migration as applied there (and record it), without running it. A new database runs it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from fashionsite.group_grants import grant_to_group

GROUP_NAME = "Catalogue admins"


def create_group(apps, schema_editor):
    grant_to_group(apps, GROUP_NAME, [("catalogue", "manage_catalog")])


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("search", "0001_initial"),
        ("search", "0100_catalogue_admins_group"),
        ("search", "0101_catalog_upload"),
    ]

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Product",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("catalog_id", models.CharField(max_length=64, unique=True)),
                ("gender", models.CharField(blank=True, db_index=True, max_length=32)),
                ("master_category", models.CharField(blank=True, db_index=True, max_length=64)),
                ("sub_category", models.CharField(blank=True, db_index=True, max_length=64)),
                ("article_type", models.CharField(blank=True, db_index=True, max_length=64)),
                ("base_colour", models.CharField(blank=True, db_index=True, max_length=64)),
                ("season", models.CharField(blank=True, db_index=True, max_length=32)),
                ("year", models.PositiveSmallIntegerField(blank=True, db_index=True, null=True)),
                ("usage", models.CharField(blank=True, db_index=True, max_length=64)),
                ("title", models.CharField(blank=True, max_length=500)),
                ("image", models.ImageField(blank=True, max_length=255, upload_to="products/")),
                ("image_sha256", models.CharField(blank=True, max_length=64)),
                ("revision", models.PositiveIntegerField(default=1)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "search_product",
                "ordering": ["id"],
                "permissions": [("manage_catalog", "Can upload and edit the catalogue")],
            },
        ),
        migrations.CreateModel(
            name="CatalogUpload",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file_path", models.CharField(blank=True, help_text="the zip on disk; emptied once deleted", max_length=500)),
                ("original_name", models.CharField(max_length=255)),
                ("size_bytes", models.PositiveBigIntegerField(default=0)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("uploaded", "uploaded, waiting for analysis"),
                            ("analysing", "analysing"),
                            ("previewed", "preview ready"),
                            ("importing", "importing"),
                            ("imported", "imported"),
                            ("failed", "failed"),
                            ("refused", "refused"),
                            ("discarded", "discarded"),
                        ],
                        default="uploaded",
                        max_length=16,
                    ),
                ),
                ("all_or_nothing", models.BooleanField(default=False)),
                ("plan_summary", models.JSONField(blank=True, default=dict)),
                ("rows_total", models.PositiveIntegerField(default=0)),
                ("rows_done", models.PositiveIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("analysed_at", models.DateTimeField(blank=True, null=True)),
                ("import_started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "uploader",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="catalog_uploads",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"db_table": "search_catalogupload", "ordering": ["-created_at"]},
        ),
        migrations.RunPython(create_group, remove_group),
    ]
