"""The product's filter attributes on its vector rows, kept equal to the product by PostgreSQL.

A filtered search used to join every HNSW candidate (or every matching product, for the exact
plan) to the product table. With gender, categories, article type, colour, season, usage and year
on `embeddings_productembedding` the iterative HNSW scan tests the filter on the row it has
already read, and the exact plan reads one table through a (space_id, attribute) btree index.

Why triggers (docs/search-scoring.md, "Filters"): the copy must never go stale, and products
change through the admin and product pages, CSV imports, `QuerySet.update` and raw SQL alike.
A trigger sees every one of them, inside the same transaction, and costs one join per UPDATE
statement on the product table. The alternative, the embeddings app's "product changed" sweep,
runs after commit and only for writes that bump the product's revision: a window in which a
filter returns the wrong products, and a `QuerySet.update` it never hears of.

- BEFORE INSERT (or a change of product_id) on the vector row: copy the product's attributes, so
  every way vector rows are written (upsert_vectors, bulk COPY, the ORM) fills them with no
  second write of the row (an UPDATE afterwards would insert it into the HNSW graph again).
- AFTER UPDATE on the product table, once per statement over its transition table: copy the
  attributes to the product's rows in every space, touching only rows whose copy differs (a title
  edit writes no vector row).

Backfill: rows written before this migration are updated in batches of 20,000 (each its own
transaction, so vacuum can reuse the space between them). Every updated row is a new tuple version
that each index, the HNSW indexes included, must insert (measured cost in docs/search-scoring.md);
the btree indexes are created after the backfill so they are built once, not maintained row by row.
"""

from django.db import migrations, models

TABLE = "embeddings_productembedding"
PRODUCTS = "search_product"
# The attributes copied (embeddings.models.FILTER_ATTRIBUTES when this migration was written).
ATTRIBUTES = (
    "gender",
    "master_category",
    "sub_category",
    "article_type",
    "base_colour",
    "season",
    "usage",
    "year",
)
BATCH = 20_000


def _differs(row: str, source: str) -> str:
    left = ", ".join(f"{row}.{name}" for name in ATTRIBUTES)
    right = ", ".join(f"{source}.{name}" for name in ATTRIBUTES)
    return f"({left}) IS DISTINCT FROM ({right})"


def _assign(source: str) -> str:
    return ", ".join(f"{name} = {source}.{name}" for name in ATTRIBUTES)


FILL_ON_WRITE = f"""
CREATE OR REPLACE FUNCTION embeddings_vector_row_attributes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    product {PRODUCTS}%ROWTYPE;
BEGIN
    SELECT * INTO product FROM {PRODUCTS} WHERE id = NEW.product_id;
    IF FOUND THEN
        {" ".join(f"NEW.{name} := product.{name};" for name in ATTRIBUTES)}
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER embeddings_vector_row_attributes
    BEFORE INSERT OR UPDATE OF product_id ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION embeddings_vector_row_attributes();
"""

FOLLOW_PRODUCTS = f"""
CREATE OR REPLACE FUNCTION embeddings_follow_product_attributes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {TABLE} e SET {_assign("changed")}
      FROM changed_products changed
     WHERE e.product_id = changed.id AND {_differs("e", "changed")};
    RETURN NULL;
END
$$;
CREATE TRIGGER embeddings_follow_product_attributes
    AFTER UPDATE ON {PRODUCTS} REFERENCING NEW TABLE AS changed_products
    FOR EACH STATEMENT EXECUTE FUNCTION embeddings_follow_product_attributes();
"""

DROP_TRIGGERS = f"""
DROP TRIGGER IF EXISTS embeddings_follow_product_attributes ON {PRODUCTS};
DROP FUNCTION IF EXISTS embeddings_follow_product_attributes();
DROP TRIGGER IF EXISTS embeddings_vector_row_attributes ON {TABLE};
DROP FUNCTION IF EXISTS embeddings_vector_row_attributes();
"""


def backfill(apps, schema_editor):
    """Copy the attributes onto existing rows, one batch of row ids per statement (autocommit)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM {TABLE}")
        low, high = cursor.fetchone()
    for start in range(low, high + 1, BATCH):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TABLE} e SET {_assign('p')} FROM {PRODUCTS} p "
                f"WHERE p.id = e.product_id AND e.id >= %s AND e.id < %s AND {_differs('e', 'p')}",
                [start, start + BATCH],
            )


class Migration(migrations.Migration):
    # Each backfill batch commits on its own (a million rows in one transaction would hold every
    # old version until the end); every step is safe to rerun.
    atomic = False

    dependencies = [
        ('catalogue', '0002_adopt_search_tables'),
        ('embeddings', '0005_vectors_stored_inline'),
    ]

    operations = [
        migrations.AddField(
            model_name='productembedding',
            name='article_type',
            field=models.CharField(db_default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='productembedding',
            name='base_colour',
            field=models.CharField(db_default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='productembedding',
            name='gender',
            field=models.CharField(db_default='', editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name='productembedding',
            name='master_category',
            field=models.CharField(db_default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='productembedding',
            name='season',
            field=models.CharField(db_default='', editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name='productembedding',
            name='sub_category',
            field=models.CharField(db_default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='productembedding',
            name='usage',
            field=models.CharField(db_default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='productembedding',
            name='year',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.RunSQL(FILL_ON_WRITE + FOLLOW_PRODUCTS, reverse_sql=DROP_TRIGGERS),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'gender'], name='emb_space_gender'),
        ),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'master_category'], name='emb_space_master_category'),
        ),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'sub_category'], name='emb_space_sub_category'),
        ),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'article_type'], name='emb_space_article_type'),
        ),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'base_colour'], name='emb_space_base_colour'),
        ),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'season'], name='emb_space_season'),
        ),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'usage'], name='emb_space_usage'),
        ),
        migrations.AddIndex(
            model_name='productembedding',
            index=models.Index(fields=['space', 'year'], name='emb_space_year'),
        ),
    ]
