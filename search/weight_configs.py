"""Weight configurations: creation and versioning (a cited config is never edited in place)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from fashionsite.compiled_query import CompiledRows
from search.models import DEFAULT_WEIGHT_CONFIG, SEED_WEIGHT_CONFIGS, WeightConfig

# Every search without a chosen config reads it: SQL compiled once per process.
_CURRENT_DEFAULT = CompiledRows(
    lambda: WeightConfig.objects.filter(name=DEFAULT_WEIGHT_CONFIG, is_current=True)[:1]
)


def default_weight_config() -> WeightConfig:
    """The current version of the default config; re-created from the seed if someone deleted it."""
    config = _CURRENT_DEFAULT.first()
    if config is None:
        definition = next(d for d in SEED_WEIGHT_CONFIGS if d["name"] == DEFAULT_WEIGHT_CONFIG)
        config = create_weight_config(**definition)
    return config


@transaction.atomic
def create_weight_config(*, name: str, **values) -> WeightConfig:
    """Create version 1 of a new named config (validated)."""
    if WeightConfig.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A weight configuration named {name!r} exists; edit it instead."})
    config = WeightConfig(name=name, version=1, is_current=True, **values)
    config.full_clean()
    config.save()
    return config


def citing_relations(model) -> list:
    """Foreign keys of other models that point at `model`, hidden ones (related_name="+") included.

    Lets search ask "does anything cite this row?" without importing the apps that cite it.
    """
    return [
        field
        for field in model._meta.get_fields(include_hidden=True)
        if field.is_relation
        and field.auto_created
        and not field.concrete
        and field.related_model is not model
    ]


def weight_config_in_use(config: WeightConfig) -> bool:
    """Whether any stored row cites this version: a search run, a survey comparing it, an evaluation."""
    return any(
        relation.related_model._default_manager.filter(**{relation.field.name: config}).exists()
        for relation in citing_relations(WeightConfig)
    )


@transaction.atomic
def update_weight_config(*, config: WeightConfig, **changes) -> WeightConfig:
    """Apply changes to a config; returns the row that now carries them.

    A config that anything cites (a SearchRun, a survey, an evaluation) is never edited in place:
    the changes go into a new version (the old one is marked superseded), so stored runs and
    surveys keep citing what they showed. An unused config is edited in place. The name is the
    config's identity and cannot change.
    """
    config = WeightConfig.objects.select_for_update().get(pk=config.pk)
    if not config.is_current:
        raise ValidationError(f"{config} was superseded by a newer version; edit the current one.")
    if "name" in changes and changes.pop("name") != config.name:
        raise ValidationError({"name": "A configuration cannot be renamed; create a new one instead."})
    if not changes or all(getattr(config, key) == value for key, value in changes.items()):
        return config
    if not weight_config_in_use(config):
        for key, value in changes.items():
            setattr(config, key, value)
        config.full_clean()
        config.save()
        return config
    new = WeightConfig(
        **{
            field.name: getattr(config, field.name)
            for field in WeightConfig._meta.concrete_fields
            if field.name not in {"id", "created_at", "superseded_by", "version", "is_current"}
        }
    )
    for key, value in changes.items():
        setattr(new, key, value)
    new.version = (WeightConfig.objects.filter(name=config.name).order_by("-version").first().version) + 1
    new.is_current = True
    new.full_clean(validate_constraints=False)
    WeightConfig.objects.filter(pk=config.pk).update(is_current=False)
    new.save()
    WeightConfig.objects.filter(pk=config.pk).update(superseded_by=new)
    config.refresh_from_db()
    return new
