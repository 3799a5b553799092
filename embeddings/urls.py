from django.urls import path

from embeddings import training_views, views

app_name = "embeddings"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("spaces/<int:pk>/activate/", views.activate, name="activate"),
    path("spaces/<int:pk>/embed/", views.start_job, name="start-job"),
    path("failures/retry/", views.retry, name="retry"),
    path("uploads/<int:pk>/progress.json", views.upload_progress, name="upload-progress"),
    path("products/<int:pk>/progress.json", views.product_progress, name="product-progress"),
    path("training/", training_views.training, name="training"),
    path("training/start/", training_views.start, name="training-start"),
    path("training/<int:pk>/", training_views.run_detail, name="training-run"),
    path("training/<int:pk>/cancel/", training_views.cancel, name="training-cancel"),
]
