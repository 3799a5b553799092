"""The fixtures and helpers every test package shares (a pytest plugin: tests/conftest.py loads it).

One of each: `image_bytes` / `jpeg_bytes` / `png_bytes` build test images (also the polyglot JPEG
with a script in its comment), `catalogue_admin` / `catalogue_admin_client` are a staff user with
catalogue.manage_catalog (pytest-django's `admin_client` is the superuser for /admin/), and
`researcher` / `researcher_client` one with surveys.conduct_survey (`staff_role_fixtures` makes such
a pair), `staff` a staff user with no permission, `api_client` DRF's test client, and `wait_until`
polls a condition the real worker makes true.
"""

from __future__ import annotations

import contextlib
import functools
import io
import time

import pytest
from PIL import Image

# A valid JPEG whose comment segment is an HTML page with a script: served as text/html it would
# run with the site's origin (issue 18's stored XSS); it must be stored and served as a JPEG.
POLYGLOT_SCRIPT = b"<html><body><script>document.title='pwned'</script></body></html>"


@functools.cache  # the same arguments make the same bytes (a 100-megapixel PNG takes a second)
def image_bytes(
    format: str = "JPEG",
    *,
    colour=(200, 30, 30),
    size=(60, 80),
    mode: str = "RGB",
    exif_orientation: int | None = None,
    comment: bytes | None = None,
) -> bytes:
    """A small image in `format` (any Pillow writer), optionally with an EXIF orientation or a JPEG comment."""
    image = Image.new(mode, size, colour if mode in ("RGB", "RGBA") else 0)
    options = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation  # Orientation
        options["exif"] = exif.tobytes()
    if comment is not None:
        options["comment"] = comment
    if format == "JPEG":
        options.setdefault("quality", 85)
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def jpeg_bytes(colour=(200, 30, 30), size=(60, 80)) -> bytes:
    return image_bytes("JPEG", colour=colour, size=size)


def png_bytes(width: int = 24, height: int = 32, colour=(200, 30, 30), mode: str = "RGB") -> bytes:
    return image_bytes("PNG", colour=colour, size=(width, height), mode=mode)


def polyglot_jpeg() -> bytes:
    return image_bytes("JPEG", comment=POLYGLOT_SCRIPT)


def wait_until(predicate, *, timeout: float = 240.0, interval: float = 0.5, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned); AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


@contextlib.contextmanager
def module_transaction(django_db_blocker):
    """For a module-scoped fixture: what it creates lives in a transaction rolled back after the
    module's last test, and each test runs in a savepoint of it (pytest-django's `db`), so what a
    test writes is gone before the next one. Only for modules without transactional tests
    (tests/conftest.py checks the fixtures named in MODULE_TRANSACTION_FIXTURES)."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)


def staff_user(username: str, permission: str):
    """A staff user holding one permission ("app_label.codename"), as its group would grant it."""
    from django.contrib.auth.models import Permission, User

    app_label, codename = permission.split(".")
    user = User.objects.create_user(username, password=f"pw-{username}-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app_label))
    return user


def logged_in(user):
    """A new test client logged in as `user`."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def staff_role_fixtures(name: str, permission: str):
    """Two fixtures for a staff role: `name`, a staff user holding `permission` (as the role's group
    grants it), and `<name>_client`, pytest-django's test client logged in as that user."""

    @pytest.fixture(name=name)
    def user(db):
        return staff_user(name.replace("_", "-"), permission)

    @pytest.fixture(name=f"{name}_client")
    def user_client(client, request):
        client.force_login(request.getfixturevalue(name))
        return client

    return user, user_client


# What the Catalogue admins group grants, and what the Researchers group grants.
catalogue_admin, catalogue_admin_client = staff_role_fixtures("catalogue_admin", "catalogue.manage_catalog")
researcher, researcher_client = staff_role_fixtures("researcher", "surveys.conduct_survey")


@pytest.fixture
def api_client():
    """Django REST framework's test client (JSON bodies, force_authenticate)."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def staff(django_user_model):
    """A staff user with no permission: staff status alone opens nothing that a permission guards."""
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)
