# OpeningJob.Status became fashionsite.job_status.JobStatus: same stored values, the shared labels
# (the opening page words its own status). Choices only: no SQL runs.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0111_opening_job"),
    ]

    operations = [
        migrations.AlterField(
            model_name="openingjob",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
    ]
