"""Frozen result sets: ResultSet.items, filled for existing result sets from their SearchRun's stored
result rows (images are referenced where they are; new result sets keep their own copies)."""

from django.db import migrations, models


def fill_items(apps, schema_editor):
    ResultSet = apps.get_model("surveys", "ResultSet")
    SearchResult = apps.get_model("search", "SearchResult")
    Product = apps.get_model("catalogue", "Product")
    for result_set in ResultSet.objects.filter(items=[]).iterator(chunk_size=500):
        rows = {row.product_id: row for row in SearchResult.objects.filter(run_id=result_set.search_run_id)}
        images = dict(Product.objects.filter(pk__in=result_set.product_ids).values_list("pk", "image"))
        items = []
        for pk in result_set.product_ids:
            row = rows.get(pk)
            if row is None:
                continue
            items.append(
                {
                    "rank": row.rank,
                    "result_id": row.pk,
                    "product_id": pk,
                    "catalog_id": row.catalog_id,
                    "title": row.title,
                    "image": images.get(pk) or "",
                    "stage1_score": row.stage1_score,
                    "stage2_score": row.stage2_score,
                }
            )
        result_set.items = items
        result_set.save(update_fields=["items"])


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0103_survey_arm_space"),
        ("search", "0103_seed_weight_configs"),
        ("catalogue", "0002_adopt_search_tables"),
    ]

    operations = [
        migrations.AddField(
            model_name="resultset",
            name="items",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(fill_items, migrations.RunPython.noop),
    ]
