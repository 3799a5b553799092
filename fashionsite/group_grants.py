"""Data-migration helpers: the apps' migrations create the staff groups and grant them permissions
through these. Applied migrations replay them, so they are frozen like migrations: never change what
one does; a migration that needs other behaviour gets a new function. Historical models only (the
`apps` a RunPython passes), so this module imports no app."""

from django.contrib.auth.management import create_permissions


def create_app_permissions(apps, *app_labels: str) -> None:
    """Create the permissions of `app_labels` now: Django normally creates them after migrate, too
    late for a migration that grants them."""
    for label in app_labels:
        app_config = apps.get_app_config(label)
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had_models


def grant_to_group(apps, group_name: str, permissions) -> None:
    """Create the group `group_name` if it is missing and give it `permissions`, (app_label,
    codename) pairs, creating those first."""
    create_app_permissions(apps, *dict.fromkeys(app_label for app_label, _ in permissions))
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    for app_label, codename in permissions:
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            group.permissions.add(permission)
