from django.urls import path

from surveys import views

app_name = "surveys"
urlpatterns = [
    # Participants: no account; the token in the link is their only identity.
    path("s/<slug:slug>/", views.open_link, name="open"),
    path("i/<str:token>/", views.invite, name="invite"),
    path("i/<str:token>/task/<uuid:assignment>/", views.task, name="task"),
    path("i/<str:token>/own-query/", views.own_query, name="own-query"),
    path("i/<str:token>/later/", views.paused, name="paused"),
    path("i/<str:token>/thanks/", views.thanks, name="thanks"),
    # Researchers.
    path("manage/", views.manage_list, name="manage-list"),
    path("manage/new/", views.manage_create, name="manage-create"),
    path("manage/<slug:slug>/", views.manage_detail, name="manage-detail"),
    path("manage/<slug:slug>/edit/", views.manage_edit, name="manage-edit"),
    path("manage/<slug:slug>/questions/", views.manage_questions, name="manage-questions"),
    path("manage/<slug:slug>/queries/add/", views.manage_add_query, name="manage-add-query"),
    path("manage/<slug:slug>/queries/import/", views.manage_import_queries, name="manage-import-queries"),
    path("manage/<slug:slug>/queries/sample/", views.manage_sample_queries, name="manage-sample-queries"),
    path(
        "manage/<slug:slug>/queries/<int:query_id>/delete/",
        views.manage_delete_query,
        name="manage-delete-query",
    ),
    path("manage/<slug:slug>/status/", views.manage_status, name="manage-status"),
    path("manage/<slug:slug>/preview/", views.manage_preview, name="manage-preview"),
    path("manage/<slug:slug>/progress/", views.manage_progress, name="manage-progress"),
    path("manage/<slug:slug>/invites/", views.manage_invites, name="manage-invites"),
    path("manage/<slug:slug>/export/<str:fmt>/", views.manage_export, name="manage-export"),
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
