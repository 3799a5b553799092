from django.apps import AppConfig


class EmbeddingsConfig(AppConfig):
    name = "embeddings"
    verbose_name = "Embeddings"

    def ready(self):
        # The catalogue announces changed products; embeddings decides what that means for vectors.
        from catalogue.signals import products_changed
        from embeddings.sweep import queue_sweep

        products_changed.connect(queue_sweep, dispatch_uid="embeddings.queue_sweep")
