"""CatalogUpload: one bulk catalogue upload (written by hand; the lead merges migration leaves)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0100_catalogue_admins_group"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
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
                ("embedding_job_ids", models.JSONField(blank=True, default=list)),
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
            options={"ordering": ["-created_at"]},
        ),
    ]
