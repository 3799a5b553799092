from django.apps import AppConfig


class FashionsiteConfig(AppConfig):
    name = "fashionsite"
    verbose_name = "fashionsite"
