"""Catalogue uploads: hostile and broken files are refused with a message naming what and where,
and nothing of a refused upload is stored (no Product rows, no media files, no zip left on disk).

The analysis and import services are the ones the Celery tasks call; here they run in the test
process (the browser journey in tests/browser/test_upload_journey.py uses the real worker).
"""

from __future__ import annotations

import io
import os
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from catalogue import importing, uploads
from catalogue.models import CatalogUpload, Product
from tests.catalogue import zips
from tests.fixtures import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "incoming")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    settings.DATA_DIR = tmp_path / "data"
    return settings.MEDIA_ROOT


def media_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


def upload_files(settings) -> list[Path]:
    folder = Path(settings.DATA_DIR) / "uploads"
    return list(folder.iterdir()) if folder.exists() else []


def post_zip(client, data: bytes, *, name="catalogue.zip", all_or_nothing=False):
    payload = {"file": SimpleUploadedFile(name, data, content_type="application/zip")}
    if all_or_nothing:
        payload["all_or_nothing"] = "on"
    return client.post(reverse("catalogue:upload-new"), payload)


def analysed(client, data: bytes, **kwargs) -> CatalogUpload:
    response = post_zip(client, data, **kwargs)
    assert response.status_code == 302, response.content.decode()[:2000]
    upload = CatalogUpload.objects.latest("pk")
    return uploads.analyse_upload(upload_id=upload.pk)


def assert_refused_and_nothing_stored(upload: CatalogUpload, settings, media_root, *words: str):
    upload.refresh_from_db()
    assert upload.status == CatalogUpload.Status.REFUSED, upload.error
    for word in words:
        assert word in upload.error, f"{word!r} not in {upload.error!r}"
    assert Product.objects.count() == 0
    assert media_files(media_root) == []
    assert upload_files(settings) == []
    assert upload.file_path == ""


# --------------------------------------------------------------------------- a good upload, for contrast


def test_good_zip_previews_without_writing_then_imports(catalogue_admin_client, settings, media_root):
    upload = analysed(catalogue_admin_client, zips.kaggle_zip(5))
    assert upload.status == CatalogUpload.Status.PREVIEWED
    assert upload.plan_summary["counts"]["created"] == 5
    assert Product.objects.count() == 0 and media_files(media_root) == []
    page = catalogue_admin_client.get(reverse("catalogue:upload-detail", args=[upload.pk])).content.decode()
    assert "Confirm and import" in page

    uploads.confirm_upload(upload=upload, all_or_nothing=False)
    upload = uploads.import_upload(upload_id=upload.pk)
    assert upload.status == CatalogUpload.Status.IMPORTED, upload.error
    assert Product.objects.count() == 5
    assert len(media_files(media_root)) == 5
    assert upload_files(settings) == []  # the zip is deleted once imported
    status = catalogue_admin_client.get(reverse("catalogue:upload-status", args=[upload.pk])).json()
    assert status["import"]["percent"] == 100


def test_a_preview_nobody_confirms_expires_with_its_zip_when_the_next_upload_arrives(
    catalogue_admin_client, settings, media_root
):
    settings.FASHIONSITE_UPLOAD_PREVIEW_HOURS = 48
    old = analysed(catalogue_admin_client, zips.kaggle_zip(2))
    recent = analysed(catalogue_admin_client, zips.kaggle_zip(3))
    CatalogUpload.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=49))
    CatalogUpload.objects.filter(pk=recent.pk).update(updated_at=timezone.now() - timedelta(hours=47))
    assert len(upload_files(settings)) == 2

    analysed(catalogue_admin_client, zips.kaggle_zip(1))
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == CatalogUpload.Status.DISCARDED and old.file_path == ""
    assert "FASHIONSITE_UPLOAD_PREVIEW_HOURS" in old.error
    assert recent.status == CatalogUpload.Status.PREVIEWED and Path(recent.file_path).exists()
    assert len(upload_files(settings)) == 2  # the recent preview's zip and the new one
    assert Product.objects.count() == 0


def test_an_import_run_again_after_its_worker_died_still_announces_every_written_product(
    catalogue_admin_client, settings, media_root, django_capture_on_commit_callbacks
):
    from catalogue.signals import products_changed
    from embeddings.models import EmbeddingSpace
    from embeddings.sweep import sweep_changed_products

    settings.EMBEDDINGS_AUTO_QUEUE = False  # no broker message: the sweep runs here, not in a worker
    EmbeddingSpace.objects.create(
        name="upload-resume", model_name="known-resume", pretrained="none", dimension=4, is_active=True
    )
    upload = analysed(catalogue_admin_client, zips.kaggle_zip(4))
    upload = uploads.confirm_upload(upload=upload, all_or_nothing=False)
    # The first run wrote every row, then its worker died before marking the upload imported;
    # Celery redelivers the task (acks_late), and the second run finds the rows unchanged.
    importing.import_catalogue(Path(upload.file_path))
    announced = []

    def listen(sender, product_ids, **kwargs):
        announced.append(product_ids)

    products_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            upload = uploads.import_upload(upload_id=upload.pk)
    finally:
        products_changed.disconnect(listen)
    assert upload.status == CatalogUpload.Status.IMPORTED, upload.error
    assert upload.plan_summary["result"]["unchanged"] == 4
    product_ids = sorted(Product.objects.values_list("pk", flat=True))
    assert upload.plan_summary["embedded_product_ids"] == product_ids
    assert announced == [product_ids]
    [job] = sweep_changed_products()
    assert job.total == 4
    progress = catalogue_admin_client.get(reverse("embeddings:upload-progress", args=[upload.pk])).json()
    assert progress == {
        "upload": upload.pk,
        "spaces": [{"space": "upload-resume", "done": 0, "failed": 0, "total": 4, "percent": 0}],
        "settled": False,
    }


# --------------------------------------------------------------------------- whole-file refusals


def test_upload_over_the_size_limit_is_refused_while_streaming(catalogue_admin_client, settings, media_root):
    data = zips.kaggle_zip(20)
    settings.FASHIONSITE_MAX_UPLOAD_BYTES = len(data) // 2
    response = post_zip(catalogue_admin_client, data)
    assert response.status_code == 413
    assert "larger than the limit" in response.content.decode()
    assert CatalogUpload.objects.count() == 0
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    assert upload_files(settings) == []


def duplicated_entry_zip() -> bytes:
    """600 rows whose styles.csv appears twice: the first copy is harmless, the second is what a
    reader taking the last entry would import (issue 18: a half-import that could never finish)."""
    good = zips.kaggle_csv(zips.kaggle_rows(600)).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("styles.csv", good)
        archive.writestr("styles.csv", good.replace(b"Uploadtest", b"Swapped"))
    return buffer.getvalue()


# One integration case per kind of refusal: the rules themselves are unit-tested in
# tests/foundation/test_upload_rules.py (zip entries) and tests/catalogue/test_import_rows.py (CSV).
@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: b"this is not a zip at all" * 100, ["zip"]),
        (lambda: zips.zip_with_raw_name("images/../../evil.jpg"), ["images/../../evil.jpg"]),
        (duplicated_entry_zip, ["'styles.csv' appears twice"]),
        (
            lambda: zips.zip_bomb_entry(8 * 1024 * 1024),
            ["images/zeros.jpg", "FASHIONSITE_MAX_ZIP_ENTRY_BYTES"],
        ),
    ],
    ids=["not-a-zip", "dotdot", "duplicate-entry", "bomb"],
)
def test_an_unsafe_zip_is_refused_whole_and_nothing_is_stored(
    catalogue_admin_client, settings, media_root, build, words
):
    settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES = 5 * 1024 * 1024
    upload = analysed(catalogue_admin_client, build())
    assert_refused_and_nothing_stored(upload, settings, media_root, *words)


def test_csv_with_the_wrong_columns_is_refused(catalogue_admin_client, settings, media_root):
    data = zips.make_zip({"styles.csv": b"sku,name,price\n1,Shirt,10\n", "images/1.jpg": jpeg_bytes()})
    upload = analysed(catalogue_admin_client, data)
    assert_refused_and_nothing_stored(upload, settings, media_root, "styles.csv")


# --------------------------------------------------------------------------- row refusals


def run_import(upload: CatalogUpload, *, all_or_nothing=False) -> CatalogUpload:
    upload = uploads.confirm_upload(upload=upload, all_or_nothing=all_or_nothing)
    if upload.status == CatalogUpload.Status.IMPORTING:
        upload = uploads.import_upload(upload_id=upload.pk)
    upload.refresh_from_db()
    return upload


def rejected_reasons(upload: CatalogUpload) -> list[str]:
    return [f"{row['line']} {row['catalog_id']} {row['reason']}" for row in upload.plan_summary["rejected"]]


def test_non_image_content_with_an_image_name_is_refused_and_its_row_imports_without_it(
    catalogue_admin_client, settings, media_root
):
    data = zips.kaggle_zip(3, images={"images/90002.jpg": b"<?php system($_GET['c']); ?>"})
    upload = analysed(catalogue_admin_client, data)
    assert upload.status == CatalogUpload.Status.PREVIEWED
    assert upload.plan_summary["counts"]["created"] == 3
    unreadable = upload.plan_summary["unreadable_images"]
    assert [item["name"] for item in unreadable] == ["images/90002.jpg"]
    assert "not a readable image" in unreadable[0]["reason"]
    upload = run_import(upload)
    assert upload.status == CatalogUpload.Status.IMPORTED, upload.error
    assert sorted(Product.objects.values_list("catalog_id", flat=True)) == ["90001", "90002", "90003"]
    assert not Product.objects.get(catalog_id="90002").image
    assert not any("90002" in path.name for path in media_files(media_root))


def test_decompression_bomb_image_is_rejected(catalogue_admin_client, settings, media_root):
    settings.FASHIONSITE_MAX_IMAGE_PIXELS = 1_000_000
    data = zips.kaggle_zip(2, images={"images/90002.jpg": zips.png_bomb_bytes(2000, 2000)})
    upload = analysed(catalogue_admin_client, data)
    text = " ".join(
        rejected_reasons(upload) + [i["reason"] for i in upload.plan_summary["unreadable_images"]]
    )
    assert "pixel" in text.lower()
    upload = run_import(upload)
    assert sorted(Product.objects.values_list("catalog_id", flat=True)) == ["90001", "90002"]
    assert not Product.objects.get(catalog_id="90002").image
    assert not any("90002" in path.name for path in media_files(media_root))


def test_duplicate_ids_are_rejected_by_line(catalogue_admin_client, settings, media_root):
    rows = zips.kaggle_rows(3)
    rows.append(dict(rows[0], productDisplayName="A second row with the same id"))
    data = zips.make_zip(
        {
            "styles.csv": zips.kaggle_csv(rows).encode(),
            **{f"images/{r['id']}.jpg": jpeg_bytes() for r in rows},
        }
    )
    upload = analysed(catalogue_admin_client, data)
    reasons = rejected_reasons(upload)
    assert any(reason.startswith("5 90001") and "duplicate" in reason.lower() for reason in reasons), reasons
    # The rejected line does not stop the good ones; the first row with the id wins.
    upload = run_import(upload)
    assert upload.status == CatalogUpload.Status.IMPORTED, upload.error
    assert Product.objects.count() == 3
    assert Product.objects.get(catalog_id="90001").title == rows[0]["productDisplayName"]


def test_all_or_nothing_refuses_the_whole_upload_when_a_row_is_rejected(
    catalogue_admin_client, settings, media_root
):
    rows = zips.kaggle_rows(3)
    rows[1]["year"] = "last year"
    data = zips.make_zip({"styles.csv": zips.kaggle_csv(rows).encode()})
    upload = analysed(catalogue_admin_client, data, all_or_nothing=True)
    upload = run_import(upload, all_or_nothing=True)
    assert_refused_and_nothing_stored(upload, settings, media_root, "All or nothing")


# --------------------------------------------------------------------------- who may upload


def admin_page_urls() -> list[str]:
    """Every page of the catalogue and the embeddings dashboard, read from their URLconfs (so a page
    added later is checked too); <pk> is 1, which need not exist: access is refused before lookup."""
    from catalogue import urls as catalogue_urls
    from embeddings import urls as embeddings_urls

    found = []
    for module in (catalogue_urls, embeddings_urls):
        for pattern in module.urlpatterns:
            kwargs = {"pk": 1} if "pk" in pattern.pattern.converters else {}
            found.append(reverse(f"{module.app_name}:{pattern.name}", kwargs=kwargs))
    return found


# The pages known today; the access tests enumerate the URLconfs, so pages added later are checked too.
KNOWN_ADMIN_PAGES = [
    "/catalogue/",
    "/catalogue/products/new/",
    "/catalogue/products/1/edit/",
    "/catalogue/products/1/delete/",
    "/catalogue/upload/",
    "/catalogue/upload/1/",
    "/catalogue/upload/1/status.json",
    "/catalogue/upload/1/confirm/",
    "/catalogue/upload/1/discard/",
    "/embeddings/",
    "/embeddings/spaces/1/activate/",
    "/embeddings/spaces/1/embed/",
    "/embeddings/failures/retry/",
]


def test_the_access_tests_enumerate_every_known_admin_page():
    assert set(KNOWN_ADMIN_PAGES) <= set(admin_page_urls())


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_login_from_every_admin_page(client, method):
    for url in admin_page_urls():
        response = getattr(client, method)(url)
        assert response.status_code == 302, f"{method.upper()} {url}: {response.status_code}"
        assert response["Location"].startswith("/accounts/login/?next="), url


# The permission (the Catalogue admins group) is enough, is_staff is not needed (#16 item 2):
# staff without it and plain users are refused.
@pytest.mark.parametrize("who", ["staff without the permission", "a plain user"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_logged_in_non_admins_get_403_on_every_admin_page(client, who, method):
    user = User.objects.create_user("not-an-admin", password="pw-x-12345", is_staff=who.startswith("staff"))
    client.force_login(user)
    for url in admin_page_urls():
        response = getattr(client, method)(url)
        assert response.status_code == 403, f"{who}: {method.upper()} {url}: {response.status_code}"


def test_a_non_admin_cannot_post_an_upload(client, settings, media_root):
    client.force_login(User.objects.create_user("plain", password="pw-x-12345"))
    response = post_zip(client, zips.kaggle_zip(2))
    assert response.status_code == 403
    assert CatalogUpload.objects.count() == 0


def test_the_catalogue_admins_group_holds_the_permission():
    group = Group.objects.get(name="Catalogue admins")
    assert group.permissions.filter(codename="manage_catalog", content_type__app_label="catalogue").exists()


# --------------------------------------------------------------------------- layouts and idempotence


def test_re_uploading_the_same_zip_changes_nothing_and_an_edit_updates_one_row(
    catalogue_admin_client, settings, media_root
):
    data = zips.kaggle_zip(4)
    run_import(analysed(catalogue_admin_client, data))
    revisions = dict(Product.objects.values_list("catalog_id", "revision"))

    again = analysed(catalogue_admin_client, data)
    assert again.plan_summary["counts"] == {
        **again.plan_summary["counts"],
        "created": 0,
        "updated": 0,
        "unchanged": 4,
    }
    # Nothing would change, so the preview says so and offers no "Confirm and import" (#16 item 12).
    page = catalogue_admin_client.get(reverse("catalogue:upload-detail", args=[again.pk])).content.decode()
    assert 'data-testid="nothing-to-import"' in page and 'data-testid="confirm-import"' not in page
    assert "Discard this upload" in page
    run_import(again)
    assert dict(Product.objects.values_list("catalog_id", "revision")) == revisions
    assert len(media_files(media_root)) == 4

    rows = zips.kaggle_rows(4)
    rows[1]["productDisplayName"] = "Renamed shirt"
    edited = zips.make_zip({"styles.csv": zips.kaggle_csv(rows).encode()})  # no images: keep the current ones
    upload = analysed(catalogue_admin_client, edited)
    assert upload.plan_summary["counts"]["updated"] == 1 and upload.plan_summary["counts"]["unchanged"] == 3
    run_import(upload)
    product = Product.objects.get(catalog_id="90002")
    assert product.title == "Renamed shirt" and product.revision == revisions["90002"] + 1
    assert product.image  # a row without an image keeps the product's image


def test_a_simple_csv_with_id_title_and_some_attributes(catalogue_admin_client, settings, media_root):
    data = zips.make_zip(
        {
            "products.csv": b"id,title,base_colour,gender\nA-1,Red dress,Red,Women\nA-2,Blue jeans,Blue,Men\n",
            "A-1.jpg": jpeg_bytes(),
            "photos/A-2.png": jpeg_bytes(),
        }
    )
    upload = run_import(analysed(catalogue_admin_client, data))
    assert upload.status == CatalogUpload.Status.IMPORTED, upload.error
    dress = Product.objects.get(catalog_id="A-1")
    assert (dress.title, dress.base_colour, dress.gender) == ("Red dress", "Red", "Women")
    assert Product.objects.get(catalog_id="A-2").image


def test_the_upload_form_still_checks_csrf(settings, media_root):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    user = User.objects.create_user("csrf-admin", password="pw-csrf-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_catalog"))
    client.force_login(user)
    assert post_zip(client, zips.kaggle_zip(2)).status_code == 403
    assert CatalogUpload.objects.count() == 0
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
