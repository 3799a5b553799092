from django.urls import path

from surveys import api

urlpatterns = [
    path("surveys/", api.SurveyList.as_view(), name="api-survey-list"),
    path("surveys/<slug:slug>/", api.SurveyDetail.as_view(), name="api-survey-detail"),
    path("surveys/<slug:slug>/progress/", api.SurveyProgressView.as_view(), name="api-survey-progress"),
    path("surveys/<slug:slug>/export/<str:fmt>/", api.SurveyExportView.as_view(), name="api-survey-export"),
]

# The weight-comparison report as JSON (surveys/report_views.py, docs/report.md).
from surveys import report_views  # noqa: E402

urlpatterns += [
    path("surveys/<slug:slug>/report/", report_views.SurveyReportView.as_view(), name="api-survey-report"),
]
