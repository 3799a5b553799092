"""An admin uploads a zip of 20 products in headless Chromium and finds them in search.

Real stack: the live server, the real Celery worker (analysis, import and embedding tasks), a
randomly initialised open_clip model (no weights can be downloaded) in an active space.
"""

from __future__ import annotations

import re

import pytest

from catalogue.models import CatalogUpload, Product
from tests.catalogue import zips

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def embedding_space():
    """An active space with a randomly initialised open_clip model (no weights can be downloaded)."""
    from embeddings.services import ensure_space

    return ensure_space(name="upload-test", model_name="fashionsite-tiny", pretrained="none", activate=True)


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/admin/login/?next=/catalogue/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/catalogue/$"))
    # Django's own admin login template has no icon link, so Chromium logs a /favicon.ico 404 there;
    # only errors on our pages count.
    if hasattr(page, "console_errors"):
        page.console_errors.clear()


def test_admin_uploads_a_zip_previews_confirms_and_finds_the_products(
    live_server, page, celery_worker, catalogue_admin, embedding_space
):
    log_in(page, live_server, "catalogue-admin", "pw-catalogue-admin-1")
    page.get_by_role("link", name="Bulk upload (zip)").click()
    page.get_by_label("Catalogue zip").set_input_files(
        {"name": "twenty.zip", "mimeType": "application/zip", "buffer": zips.kaggle_zip(20)}
    )
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/catalogue/upload/\d+/$"))

    # The analysis runs in the worker; the page reloads itself into the preview.
    confirm = page.get_by_test_id("confirm-import")
    confirm.wait_for(timeout=120_000)
    assert page.get_by_test_id("count-created").inner_text() == "20"
    assert page.get_by_test_id("count-rejected").inner_text() == "0"
    assert Product.objects.count() == 0  # nothing written before confirming

    confirm.click()
    # Arrow functions, not expression strings: Playwright evaluates those with eval(), which the
    # Content-Security-Policy refuses.
    # The rows reach 100% a moment before the upload is marked imported (its last write): wait
    # for the status a person waits for, then check the count beside it.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=upload-status]')?.textContent.trim() === 'imported'",
        timeout=120_000,
    )
    assert page.get_by_test_id("import-percent").inner_text() == "100%"
    assert Product.objects.filter(title__startswith="Uploadtest").count() == 20

    # Embedding progress for the upload's products reaches 20/20 on the same page, without reloading.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=embedding-progress] [data-field=done]')?.textContent.trim()"
        " === '20'",
        timeout=300_000,
    )
    upload = CatalogUpload.objects.get()
    assert upload.file_path == ""  # the zip is gone once imported

    search_for_uploaded_product(page, live_server)
    assert page.console_errors == []


def search_for_uploaded_product(page, live_server):
    """The search page returns the uploaded products (the catalogue holds nothing else)."""
    page.goto(f"{live_server.url}/")
    page.get_by_label("Describe what you are looking for").fill("Uploadtest Navy Blue Tshirt")
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_test_id("result")
    results.first.wait_for()
    shown = {item.get_attribute("data-catalog-id") for item in results.all()}
    uploaded = set(
        Product.objects.filter(title__startswith="Uploadtest").values_list("catalog_id", flat=True)
    )
    assert shown and shown <= uploaded
    # Filtering by an uploaded attribute narrows the results to the matching uploaded products.
    page.goto(f"{live_server.url}/?q=tshirt&base_colour=Navy+Blue")
    results.first.wait_for()
    navy = {item.get_attribute("data-catalog-id") for item in results.all()}
    assert navy == set(
        Product.objects.filter(title__startswith="Uploadtest", base_colour="Navy Blue").values_list(
            "catalog_id", flat=True
        )
    )


def test_upload_progress_works_without_javascript(live_server, browser, celery_worker, catalogue_admin):
    """No JavaScript: the <noscript> meta refresh carries the page from analysing to the preview and
    from importing to 100%."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server, "catalogue-admin", "pw-catalogue-admin-1")
        page.goto(f"{live_server.url}/catalogue/upload/")
        page.get_by_label("Catalogue zip").set_input_files(
            {"name": "five.zip", "mimeType": "application/zip", "buffer": zips.kaggle_zip(5)}
        )
        page.get_by_role("button", name="Upload and preview").click()
        page.get_by_test_id("confirm-import").wait_for(timeout=120_000)
        assert page.get_by_test_id("count-created").inner_text() == "5"
        page.get_by_test_id("confirm-import").click()
        page.wait_for_selector("[data-testid=import-percent]:text-is('100%')", timeout=120_000)
        assert Product.objects.filter(title__startswith="Uploadtest").count() == 5
    finally:
        context.close()
