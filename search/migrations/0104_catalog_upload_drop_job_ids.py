"""CatalogUpload: drop embedding_job_ids (the upload page measures embedding progress from the
products' embeddings and failures instead; queue_product_embeddings does not return job ids)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("search", "0103_seed_weight_configs")]

    operations = [migrations.RemoveField(model_name="catalogupload", name="embedding_job_ids")]
