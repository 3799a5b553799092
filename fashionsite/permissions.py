"""Page access rules shared by the apps (a permission is named by its string, so no app imports another).

Group membership is enough: a user in the Researchers or Catalogue admins group signs in on the
site's own login page (/accounts/login/) and needs no `is_staff` (that flag is for /admin/ only)."""

import logging
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from rest_framework import permissions

logger = logging.getLogger("fashionsite.permissions")

CATALOGUE_PERMISSION = "catalogue.manage_catalog"
# Named by string as above: search may not import surveys. The Researchers group has it.
RESEARCHER_PERMISSION = "surveys.conduct_survey"
TRAINING_PERMISSION = "embeddings.run_training"
WEIGHT_CONFIG_WRITE_PERMISSIONS = {"POST": "search.add_weightconfig", "PUT": "search.change_weightconfig"}

# What a forbidden page tells the user they lack (the groups are made by migrations).
PERMISSION_NEEDS = {
    CATALOGUE_PERMISSION: "the Catalogue admins group",
    RESEARCHER_PERMISSION: "the Researchers group",
    TRAINING_PERMISSION: "the embeddings.run_training permission (a site admin grants it in /admin/)",
}


def needs(permission: str) -> str:
    """What holding `permission` means to a user: a group name, or the permission itself."""
    return PERMISSION_NEEDS.get(permission, f"the {permission} permission")


def has_page_permission(user, permission: str) -> bool:
    """An active signed-in user holding `permission` (through a group, directly, or as superuser)."""
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(permission))


def forbidden(request, reason: str):
    """The 403 page inside the site layout: the reason and a way back. Rendered, not raised, so
    the log gets Django's one "Forbidden: <path>" line and no traceback."""
    return render(request, "403.html", {"reason": reason}, status=403)


def permission_required(permission: str):
    """Anonymous visitors are sent to the login page; signed-in users without `permission` get the
    403 page naming the group that grants it."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_page_permission(user, permission):
                return forbidden(request, f"This page needs {needs(permission)}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


catalogue_admin_required = permission_required(CATALOGUE_PERMISSION)


def is_staff_user(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def is_researcher(user) -> bool:
    """Holders of the researcher permission: they may see survey arms and the runs surveys pin."""
    return has_page_permission(user, RESEARCHER_PERMISSION)


def may_see_weight_configs(user) -> bool:
    """Configuration names, versions and weights are for staff and researchers only (the blinding of surveys)."""
    return is_staff_user(user) or is_researcher(user)


class WeightConfigAccess(permissions.BasePermission):
    """Weight configurations: staff and researchers read; writes need search.add_/change_weightconfig
    (Researchers have both)."""

    def has_permission(self, request, view):
        user = request.user
        if not may_see_weight_configs(user):
            self.message = "Weight configurations are visible to staff and researchers only."
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        needed = WEIGHT_CONFIG_WRITE_PERMISSIONS.get(request.method, WEIGHT_CONFIG_WRITE_PERMISSIONS["PUT"])
        if not user.has_perm(needed):
            self.message = f"Creating or editing weight configurations needs the {needed} permission."
            return False
        return True


def navigation(user) -> list[tuple[str, str]]:
    """(label, address) of the main pages this user may open, in header order."""
    items = [("Search", "/")]
    if has_page_permission(user, CATALOGUE_PERMISSION):
        items += [("Catalogue", "/catalogue/"), ("Embeddings", "/embeddings/")]
    if has_page_permission(user, RESEARCHER_PERMISSION):
        items.append(("Surveys", "/surveys/manage/"))
    if is_staff_user(user):
        items.append(("Admin", "/admin/"))
    items.append(("API", "/api/docs/"))
    return items
