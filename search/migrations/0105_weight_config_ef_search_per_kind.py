"""WeightConfig.ef_search may be blank: each query kind then gets its own default
(settings.SEARCH_EF_SEARCH). Seeded configs that nothing cites yet are blanked; a cited one keeps
its explicit 400 (cited configs are never edited in place; edit it to get a new, blank version)."""

from django.db import migrations, models

SEED_NAMES = ("two-stage-0.9-0.1", "equal-weights", "text-only", "image-only")


def blank_uncited_seeds(apps, schema_editor):
    WeightConfig = apps.get_model("search", "WeightConfig")
    seeds = WeightConfig.objects.filter(name__in=SEED_NAMES, version=1, ef_search=400)
    for relation in WeightConfig._meta.related_objects:
        if relation.related_model is not WeightConfig:
            cited = relation.related_model._default_manager.values(relation.field.attname)
            seeds = seeds.exclude(pk__in=cited)
    seeds.update(ef_search=None)


def restore_seeds(apps, schema_editor):
    apps.get_model("search", "WeightConfig").objects.filter(ef_search__isnull=True).update(ef_search=400)


class Migration(migrations.Migration):
    dependencies = [("search", "0103_seed_weight_configs")]

    operations = [
        migrations.AlterField(
            model_name="weightconfig",
            name="ef_search",
            field=models.PositiveIntegerField(
                blank=True,
                default=None,
                help_text="hnsw.ef_search, at least k1; blank: the default for the query kind (SEARCH_EF_SEARCH)",
                null=True,
            ),
        ),
        migrations.RunPython(blank_uncited_seeds, restore_seeds),
    ]
