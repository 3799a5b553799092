from django.urls import path
from rest_framework.routers import SimpleRouter

from search import api

router = SimpleRouter()
router.register("products", api.ProductViewSet, basename="api-product")
router.register("weight-configs", api.WeightConfigViewSet, basename="api-weight-config")

urlpatterns = [
    path("search/", api.SearchView.as_view(), name="api-search"),
    path("search-runs/<uuid:uuid>/", api.SearchRunDetail.as_view(), name="api-search-run"),
    *router.urls,
]
