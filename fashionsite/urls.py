"""URL map: each app owns its pages (`<app>/urls.py`) and API routes (`<app>/api_urls.py`)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from fashionsite.media import serve_media

api_patterns = [
    path("", include("search.api_urls")),
    path("", include("embeddings.api_urls")),
    path("", include("surveys.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("catalogue/", include("catalogue.urls")),
    path("embeddings/", include("embeddings.urls")),
    path("surveys/", include("surveys.urls")),
    path("", include("search.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve_media, name="media"),
    ]
