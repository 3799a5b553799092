from django.urls import path

from embeddings import api

urlpatterns = [
    path("training-runs/", api.TrainingRunList.as_view(), name="api-training-runs"),
    path("training-runs/<int:pk>/", api.TrainingRunDetail.as_view(), name="api-training-run"),
    path("training-runs/<int:pk>/cancel/", api.TrainingRunCancel.as_view(), name="api-training-run-cancel"),
]
