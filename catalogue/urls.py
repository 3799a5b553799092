"""Catalogue admin pages under /catalogue/ (staff with catalogue.manage_catalog)."""

from django.urls import path

from catalogue import views

app_name = "catalogue"
urlpatterns = [
    path("", views.catalogue_home, name="home"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<int:pk>/edit/", views.product_edit, name="product-edit"),
    path("products/<int:pk>/delete/", views.product_delete, name="product-delete"),
    path("upload/", views.upload_new, name="upload-new"),
    path("upload/<int:pk>/", views.upload_detail, name="upload-detail"),
    path("upload/<int:pk>/status.json", views.upload_status, name="upload-status"),
    path("upload/<int:pk>/confirm/", views.upload_confirm, name="upload-confirm"),
    path("upload/<int:pk>/discard/", views.upload_discard, name="upload-discard"),
]
