from django.urls import path

from embeddings import views

app_name = "embeddings"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("spaces/<int:pk>/activate/", views.activate, name="activate"),
    path("spaces/<int:pk>/embed/", views.start_job, name="start-job"),
    path("failures/retry/", views.retry, name="retry"),
    path("uploads/<int:pk>/progress.json", views.upload_progress, name="upload-progress"),
]
