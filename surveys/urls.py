from django.urls import path

from surveys import participant_views, researcher_views

app_name = "surveys"
urlpatterns = [
    # Participants: no account; the token in the link is their only identity.
    path("s/<slug:slug>/", participant_views.open_link, name="open"),
    path("i/<str:token>/", participant_views.invite, name="invite"),
    path("i/<str:token>/task/<uuid:assignment>/", participant_views.task, name="task"),
    path("i/<str:token>/own-query/", participant_views.own_query, name="own-query"),
    path("i/<str:token>/later/", participant_views.paused, name="paused"),
    path("i/<str:token>/thanks/", participant_views.thanks, name="thanks"),
    # Researchers.
    path("manage/", researcher_views.manage_list, name="manage-list"),
    path("manage/new/", researcher_views.manage_create, name="manage-create"),
    path("manage/<slug:slug>/", researcher_views.manage_detail, name="manage-detail"),
    path("manage/<slug:slug>/edit/", researcher_views.manage_edit, name="manage-edit"),
    path("manage/<slug:slug>/questions/", researcher_views.manage_questions, name="manage-questions"),
    path("manage/<slug:slug>/queries/add/", researcher_views.manage_add_query, name="manage-add-query"),
    path(
        "manage/<slug:slug>/queries/import/",
        researcher_views.manage_import_queries,
        name="manage-import-queries",
    ),
    path(
        "manage/<slug:slug>/queries/sample/",
        researcher_views.manage_sample_queries,
        name="manage-sample-queries",
    ),
    path(
        "manage/<slug:slug>/queries/<int:query_id>/delete/",
        researcher_views.manage_delete_query,
        name="manage-delete-query",
    ),
    path("manage/<slug:slug>/status/", researcher_views.manage_status, name="manage-status"),
    path("manage/<slug:slug>/preview/", researcher_views.manage_preview, name="manage-preview"),
    path("manage/<slug:slug>/progress/", researcher_views.manage_progress, name="manage-progress"),
    path("manage/<slug:slug>/invites/", researcher_views.manage_invites, name="manage-invites"),
    path("manage/<slug:slug>/export/<str:fmt>/", researcher_views.manage_export, name="manage-export"),
]

# The weight-comparison report (surveys/report_views.py, docs/report.md).
from surveys import report_views  # noqa: E402

urlpatterns += [
    path("manage/<slug:slug>/report/", report_views.report_page, name="report"),
    path("manage/<slug:slug>/report/download/", report_views.report_download, name="report-download"),
    path("manage/<slug:slug>/report/plot/<str:name>.png", report_views.report_plot_png, name="report-plot"),
]

# Design checks before fielding (surveys/design_views.py): arms that can differ, result diffs,
# sample-size plan and preregistration.
from surveys import design_views  # noqa: E402

urlpatterns += [
    path("manage/<slug:slug>/arms/", design_views.arms_page, name="manage-arms"),
    path("manage/<slug:slug>/arms/diff/", design_views.result_diff_page, name="manage-result-diff"),
    path("manage/<slug:slug>/plan/", design_views.plan_page, name="manage-plan"),
]

# Offline benchmark jobs and a survey's judgements as qrels (surveys/offline/, docs/offline-evaluation.md).
from surveys.offline import survey_exports, survey_views  # noqa: E402
from surveys.offline import views as offline_views  # noqa: E402

urlpatterns += [
    path("offline/", offline_views.evaluation_list, name="offline-list"),
    path("offline/<int:pk>/", offline_views.evaluation_detail, name="offline-detail"),
    path("offline/<int:pk>/progress/", offline_views.evaluation_progress, name="offline-progress"),
    path("offline/<int:pk>/config/", offline_views.config_from_point, name="offline-config"),
    path("manage/<slug:slug>/judgements.zip", survey_exports.download_judgements, name="judgements-zip"),
    path("manage/<slug:slug>/judgements/", survey_views.judgements_page, name="judgements"),
]

# Side-by-side preference surveys (surveys/sidebyside/).
from surveys.sidebyside import report_views as preference_views  # noqa: E402

urlpatterns += [
    path("manage/<slug:slug>/preferences/", preference_views.preferences_page, name="preferences"),
    path("manage/<slug:slug>/preferences.csv", preference_views.preferences_csv, name="preferences-csv"),
]

# Opening in the background with a progress bar (surveys/opening_views.py).
from surveys import opening_views  # noqa: E402

urlpatterns += [
    path("manage/<slug:slug>/opening/<int:job_id>/", opening_views.opening_page, name="manage-opening"),
]
