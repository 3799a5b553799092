"""Page access rules shared by the apps (a permission is named by its string, so no app imports another)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

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
