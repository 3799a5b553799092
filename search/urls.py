from django.urls import path

from search import views

app_name = "search"
urlpatterns = [
    path("", views.search_page, name="search"),
    path("products/<str:catalog_id>/", views.product_page, name="product"),
]
