import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("surveys", "0104_result_set_items")]

    operations = [
        migrations.CreateModel(
            name="StudyPlan",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("power_plan", models.JSONField(blank=True, default=dict, help_text="the planner's last result")),
                ("preregistered", models.BooleanField(default=False)),
                (
                    "primary_metric",
                    models.CharField(
                        choices=[
                            ("satisfaction", "Mean satisfaction (1–5)"),
                            ("match_yes", "Share of “matches the style: yes”"),
                        ],
                        default="satisfaction",
                        max_length=16,
                    ),
                ),
                (
                    "primary_test",
                    models.CharField(
                        choices=[
                            ("wilcoxon", "Wilcoxon signed-rank over per-query means, Holm across pairs"),
                            (
                                "mixed",
                                "Mixed model (participant, query, configuration × query), Holm-adjusted contrasts",
                            ),
                        ],
                        default="wilcoxon",
                        max_length=16,
                    ),
                ),
                ("alpha", models.FloatField(default=0.05)),
                ("planned_queries", models.PositiveIntegerField(blank=True, null=True)),
                ("planned_participants", models.PositiveIntegerField(blank=True, null=True)),
                (
                    "exclude_failed_attention",
                    models.BooleanField(
                        default=False,
                        help_text="leave out every rating of participants who failed an attention check",
                    ),
                ),
                (
                    "completed_only",
                    models.BooleanField(default=False, help_text="analyse completed participants only"),
                ),
                ("notes", models.TextField(blank=True, help_text="hypotheses, other exclusions, stopping rule")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("frozen_at", models.DateTimeField(blank=True, null=True)),
                (
                    "survey",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="study_plan", to="surveys.survey"
                    ),
                ),
            ],
        ),
    ]
