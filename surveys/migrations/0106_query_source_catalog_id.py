"""Survey queries sampled from the catalogue keep their product's catalogue id (the export's
`query_source_product`), so deleting the product later changes no export."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    SurveyQuery = apps.get_model("surveys", "SurveyQuery")
    Product = apps.get_model("catalogue", "Product")
    SurveyQuery.objects.exclude(source_product=None).update(
        source_catalog_id=Subquery(
            Product.objects.filter(pk=OuterRef("source_product_id")).values("catalog_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [("surveys", "0105_study_plan"), ("catalogue", "0002_adopt_search_tables")]

    operations = [
        migrations.AddField(
            model_name="surveyquery",
            name="source_catalog_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
