"""Product vectors live in the table's own pages, not in its TOAST table (issue 17).

pgvector's default (STORAGE EXTERNAL) moved every 512-d vector out of line, so exact scans,
filtered exact searches and HNSW builds paid an extra index lookup and two chunk reads per row.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding

pytestmark = pytest.mark.django_db


def test_a_512_dimensional_product_vector_is_stored_inline():
    space = EmbeddingSpace.objects.create(
        name="inline-512", model_name="known-vectors-512d", pretrained="none", dimension=512
    )
    product = Product.objects.create(catalog_id="inline-1", title="Blue jeans")
    vector = np.ones(512, dtype=np.float32) / np.sqrt(512)
    ProductEmbedding.objects.create(
        product=product, space=space, image_vector=vector, title_vector=vector, product_revision=1
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname IN ('image_vector', 'title_vector') ORDER BY attname",
            [ProductEmbedding._meta.db_table],
        )
        assert cursor.fetchall() == [("image_vector", "m"), ("title_vector", "m")]
