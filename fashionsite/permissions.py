"""Page access rules shared by the apps (a permission is named by its string, so no app imports another)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework import permissions

CATALOGUE_PERMISSION = "catalogue.manage_catalog"


def staff_permission_required(permission: str):
    """Anonymous visitors are sent to the login page; logged-in users need is_staff and `permission` (else 403)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not (user.is_active and user.is_staff and user.has_perm(permission)):
                raise PermissionDenied(f"This page needs the {permission} permission.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


catalogue_admin_required = staff_permission_required(CATALOGUE_PERMISSION)


# Named by string as above: search may not import surveys. The Researchers group has it.
RESEARCHER_PERMISSION = "surveys.conduct_survey"
WEIGHT_CONFIG_WRITE_PERMISSIONS = {"POST": "search.add_weightconfig", "PUT": "search.change_weightconfig"}


def is_staff_user(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def is_researcher(user) -> bool:
    """Staff with the researcher permission: they may see survey arms and the runs surveys pin."""
    return is_staff_user(user) and user.has_perm(RESEARCHER_PERMISSION)


def may_see_weight_configs(user) -> bool:
    """Configuration names, versions and weights are for staff only (the blinding of surveys)."""
    return is_staff_user(user)


class WeightConfigAccess(permissions.BasePermission):
    """Weight configurations: staff read; writes need search.add_/change_weightconfig (Researchers have both)."""

    def has_permission(self, request, view):
        user = request.user
        if not may_see_weight_configs(user):
            self.message = "Weight configurations are visible to staff only."
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        needed = WEIGHT_CONFIG_WRITE_PERMISSIONS.get(request.method, WEIGHT_CONFIG_WRITE_PERMISSIONS["PUT"])
        if not user.has_perm(needed):
            self.message = f"Creating or editing weight configurations needs the {needed} permission."
            return False
        return True
