"""Product vectors stored in the table's own pages (STORAGE MAIN) instead of out of line.

pgvector's `vector` type defaults to STORAGE EXTERNAL: a 512-d vector (2 KB) is over PostgreSQL's
TOAST threshold, so every vector lived in the TOAST table and every read of one (exact scans,
filtered exact search, HNSW builds, stage 1 returning its candidates' vectors) was an extra
index lookup and two chunk reads. Measured on 44k 512-d rows (docs/search-scoring.md): exact scan
5x faster, HNSW build 2.2x faster. MAIN keeps a vector inline while the row fits a page (both
512-d or 768-d vectors do) and moves it out only as a last resort. Applies to rows written from
now on; existing rows move when rewritten (VACUUM FULL, or re-embedding).
"""

from django.db import migrations

TABLE = "embeddings_productembedding"
COLUMNS = ("image_vector", "title_vector")


def storage(kind: str) -> str:
    return "; ".join(f"ALTER TABLE {TABLE} ALTER COLUMN {column} SET STORAGE {kind}" for column in COLUMNS)


class Migration(migrations.Migration):
    dependencies = [("embeddings", "0004_training_run")]

    operations = [migrations.RunSQL(storage("MAIN"), reverse_sql=storage("EXTERNAL"))]
