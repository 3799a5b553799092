from django.apps import AppConfig


class FashionsiteConfig(AppConfig):
    name = "fashionsite"
    verbose_name = "fashionsite"

    def ready(self):
        from fashionsite.metrics import connect_signals

        connect_signals()
