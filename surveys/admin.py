from django.contrib import admin

from surveys.models import (
    Assignment,
    Participant,
    Question,
    Rating,
    ResultSet,
    Survey,
    SurveyConfig,
    SurveyQuery,
)


class SurveyConfigInline(admin.TabularInline):
    model = SurveyConfig
    extra = 0


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "results_per_task", "target_ratings_per_cell", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [SurveyConfigInline, QuestionInline]


@admin.register(SurveyQuery)
class SurveyQueryAdmin(admin.ModelAdmin):
    list_display = ["id", "survey", "text", "image_name", "source", "source_product"]
    list_filter = ["source", "survey"]
    raw_id_fields = ["source_product", "participant"]


@admin.register(ResultSet)
class ResultSetAdmin(admin.ModelAdmin):
    list_display = ["id", "query", "survey_config", "search_run", "created_at"]
    raw_id_fields = ["query", "search_run"]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["public_id", "survey", "entry", "consent_at", "finished_at"]
    list_filter = ["survey", "entry"]
    readonly_fields = ["public_id", "plan"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["public_id", "participant", "query", "survey_config", "position", "shown_at"]
    raw_id_fields = ["participant", "query", "result_set", "search_run"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["id", "assignment", "match", "satisfaction", "submitted_at", "time_on_task_s"]
    raw_id_fields = ["assignment"]
    readonly_fields = ["answers", "submitted_at"]


# --------------------------------------------------------------------------- offline retrieval benchmark
# The weight-comparison report's RetrievalEvaluation rows (written by `manage.py evaluate_retrieval`).
from surveys.models import RetrievalEvaluation  # noqa: E402


@admin.register(RetrievalEvaluation)
class RetrievalEvaluationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "weight_config",
        "task",
        "space",
        "n_queries",
        "recall_at_1",
        "recall_at_5",
        "recall_at_10",
        "mrr",
        "random_weights",
    ]
    list_filter = ["task", "space", "random_weights"]
    readonly_fields = [field.name for field in RetrievalEvaluation._meta.fields]

    def has_add_permission(self, request):
        return False  # rows come from the command, never typed in
