"""URL map: each app owns its pages (`<app>/urls.py`) and API routes (`<app>/api_urls.py`)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from fashionsite import accounts, api
from fashionsite.health import ReadyzView, healthz
from fashionsite.media import serve_media
from fashionsite.metrics import metrics_view

api_patterns = [
    path("", include("search.api_urls")),
    path("", include("embeddings.api_urls")),
    path("", include("surveys.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script as a file: no inline script (Content-Security-Policy);
    # api_docs.html adds a way back to the site above Swagger UI.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    # Last: an unknown address (or an id of the wrong shape, e.g. search-runs/<not a uuid>/) under
    # /api/ answers in the API's JSON error body, not with the HTML 404 page.
    re_path(r"^(?:[\s\S]*/)?$", api.not_found),
]

# A PermissionDenied raised anywhere renders the site's 403 page (reason + a way back).
handler403 = "fashionsite.accounts.permission_denied"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", ReadyzView.as_view(), name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts.urlpatterns)),
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
