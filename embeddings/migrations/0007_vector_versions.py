"""A version per space, counted by PostgreSQL on every statement that changes its vector rows.

In-process copies of a space's vectors (embeddings/memory.py: the exact in-memory stage 1 of
small spaces) must never serve a vector table that has changed. Vectors are written by the
embedding workers' upserts, bulk loads, the ORM, cascading product deletes and the product
attribute triggers of migration 0006: statement-level triggers see every one of them, inside the
writer's transaction, once per statement (a 64-row batch bumps the version once).

The bump is an upsert on the space's row: a second writer waits on that row until the first
commits, so versions follow commit order (a sequence would not: a long transaction could commit
a lower number after a reader had seen a higher one). Spaces are locked in id order, so two
statements that touch several spaces cannot deadlock on them.
"""

from django.db import migrations, models

TABLE = "embeddings_productembedding"
VERSIONS = "embeddings_vectorversion"

BUMP = f"""
CREATE OR REPLACE FUNCTION embeddings_bump_vector_versions(spaces bigint[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO {VERSIONS} (space_id, version, changed_at)
    SELECT space_id, 1, clock_timestamp() FROM unnest(spaces) AS space_id ORDER BY space_id
    ON CONFLICT (space_id) DO UPDATE
    SET version = {VERSIONS}.version + 1, changed_at = EXCLUDED.changed_at
$$;
CREATE OR REPLACE FUNCTION embeddings_bump_vector_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM embeddings_bump_vector_versions(ARRAY(SELECT id FROM embeddings_embeddingspace));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM embeddings_bump_vector_versions(ARRAY(SELECT DISTINCT space_id FROM old_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM embeddings_bump_vector_versions(
            ARRAY(SELECT space_id FROM old_rows UNION SELECT space_id FROM new_rows)
        );
    ELSE
        PERFORM embeddings_bump_vector_versions(ARRAY(SELECT DISTINCT space_id FROM new_rows));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER embeddings_vector_version_insert AFTER INSERT ON {TABLE}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION embeddings_bump_vector_version();
CREATE TRIGGER embeddings_vector_version_update AFTER UPDATE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION embeddings_bump_vector_version();
CREATE TRIGGER embeddings_vector_version_delete AFTER DELETE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION embeddings_bump_vector_version();
CREATE TRIGGER embeddings_vector_version_truncate AFTER TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION embeddings_bump_vector_version();
"""

DROP = f"""
DROP TRIGGER IF EXISTS embeddings_vector_version_insert ON {TABLE};
DROP TRIGGER IF EXISTS embeddings_vector_version_update ON {TABLE};
DROP TRIGGER IF EXISTS embeddings_vector_version_delete ON {TABLE};
DROP TRIGGER IF EXISTS embeddings_vector_version_truncate ON {TABLE};
DROP FUNCTION IF EXISTS embeddings_bump_vector_version();
DROP FUNCTION IF EXISTS embeddings_bump_vector_versions(bigint[]);
"""


class Migration(migrations.Migration):
    dependencies = [("embeddings", "0006_filter_attributes_on_vector_rows")]

    operations = [
        migrations.CreateModel(
            name="VectorVersion",
            fields=[
                ("space_id", models.IntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField()),
                ("changed_at", models.DateTimeField()),
            ],
        ),
        migrations.RunSQL(BUMP, DROP),
    ]
