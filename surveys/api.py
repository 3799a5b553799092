"""REST API for researchers (token or session auth): surveys, progress and exports.

Participants have no API: everything they do goes through the pages, and nothing here is
reachable without the surveys.conduct_survey permission.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys import exports, selectors
from surveys.models import Survey


class IsResearcher(permissions.BasePermission):
    message = "Only researchers (staff with the surveys.conduct_survey permission) can use the survey API."

    def has_permission(self, request, view):
        return selectors.researcher_can_manage(request.user)


class SurveyArmSerializer(serializers.Serializer):
    code = serializers.CharField()
    weight_config = serializers.CharField(help_text="the configuration's name")
    version = serializers.IntegerField()


class SurveyQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    wording = serializers.CharField()
    required = serializers.BooleanField()
    expected_value = serializers.IntegerField(allow_null=True)


class SurveySerializer(serializers.ModelSerializer):
    configs = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()

    class Meta:
        model = Survey
        fields = [
            "slug",
            "title",
            "status",
            "results_per_task",
            "target_ratings_per_cell",
            "seed",
            "exact",
            "own_query_tasks",
            "configs",
            "questions",
            "created_at",
            "opened_at",
            "closed_at",
        ]

    @extend_schema_field(SurveyArmSerializer(many=True))
    def get_configs(self, survey):
        return [
            {"code": c.code, "weight_config": c.weight_config.name, "version": c.weight_config.version}
            for c in survey.configs.select_related("weight_config")
        ]

    @extend_schema_field(SurveyQuestionSerializer(many=True))
    def get_questions(self, survey):
        return [
            {
                "id": q.pk,
                "kind": q.kind,
                "wording": q.wording,
                "required": q.required,
                "expected_value": q.expected_value,
            }
            for q in survey.questions.all()
        ]


class SurveyList(generics.ListAPIView):
    """Surveys, newest first."""

    permission_classes = [IsResearcher]
    serializer_class = SurveySerializer
    queryset = Survey.objects.all().order_by("-created_at")


class SurveyDetail(generics.RetrieveAPIView):
    permission_classes = [IsResearcher]
    serializer_class = SurveySerializer
    queryset = Survey.objects.all()
    lookup_field = "slug"


class ProgressCellSerializer(serializers.Serializer):
    query_id = serializers.IntegerField()
    config_code = serializers.CharField()
    assigned = serializers.IntegerField()
    rated = serializers.IntegerField()
    target = serializers.IntegerField()


class SurveyProgressSerializer(serializers.Serializer):
    participants_started = serializers.IntegerField()
    participants_finished = serializers.IntegerField()
    ratings = serializers.IntegerField()
    median_time_on_task_s = serializers.FloatField(allow_null=True)
    participants_failed_attention = serializers.IntegerField()
    cells = ProgressCellSerializer(many=True)


class SurveyProgressView(APIView):
    """Ratings per (query, configuration) cell and participant counts."""

    permission_classes = [IsResearcher]

    @extend_schema(responses={200: SurveyProgressSerializer})
    def get(self, request, slug):
        survey = generics.get_object_or_404(Survey, slug=slug)
        progress = selectors.survey_progress(survey)
        return Response(
            {
                "participants_started": progress.participants_started,
                "participants_finished": progress.participants_finished,
                "ratings": progress.ratings,
                "median_time_on_task_s": progress.median_time_on_task_s,
                "participants_failed_attention": progress.participants_failed_attention,
                "cells": [
                    {
                        "query_id": cell["query"].pk,
                        "config_code": cell["config"].code,
                        "assigned": cell["assigned"],
                        "rated": cell["rated"],
                        "target": cell["target"],
                    }
                    for cell in progress.cells
                ],
            }
        )


class SurveyExportView(APIView):
    """All ratings of a survey in long form: csv, json, parquet, or the codebook (CSV); streamed."""

    permission_classes = [IsResearcher]

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(exports.FORMATS))],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request, slug, fmt):
        survey = generics.get_object_or_404(Survey, slug=slug)
        return exports.export_response(survey=survey, fmt=fmt)
