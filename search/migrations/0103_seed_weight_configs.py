"""Seed the weight configurations every installation starts with (search.models.SEED_WEIGHT_CONFIGS)."""

from django.db import migrations

from search.models import SEED_WEIGHT_CONFIGS


def seed(apps, schema_editor):
    WeightConfig = apps.get_model("search", "WeightConfig")
    for definition in SEED_WEIGHT_CONFIGS:
        if not WeightConfig.objects.filter(name=definition["name"]).exists():
            # ef_search was NOT NULL until 0105 (which blanks it for seeds that nothing cites yet).
            WeightConfig.objects.create(version=1, is_current=True, **{**definition, "ef_search": 400})


def unseed(apps, schema_editor):
    WeightConfig = apps.get_model("search", "WeightConfig")
    names = [definition["name"] for definition in SEED_WEIGHT_CONFIGS]
    WeightConfig.objects.filter(name__in=names, runs__isnull=True, version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("search", "0102_search_runs")]

    operations = [migrations.RunPython(seed, unseed)]
