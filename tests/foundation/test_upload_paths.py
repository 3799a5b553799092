"""Every image path goes through the one untrusted-upload rule (fashionsite/uploads.py): the polyglot
JPEG named `poc.html` (a script in its comment) is stored as .jpg under a content-hash name and served
as image/jpeg with nosniff on each path; other formats are refused where they enter. One integration
test per entry point; the rules themselves are unit-tested in test_upload_rules.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from catalogue.models import Product
from search.models import QueryImage
from surveys import services as survey_services
from surveys.models import SurveyQuery
from tests.catalogue import zips
from tests.fixtures import POLYGLOT_SCRIPT, image_bytes, polyglot_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SERVE_MEDIA = True
    return settings.MEDIA_ROOT


def poc_html() -> SimpleUploadedFile:
    return SimpleUploadedFile("poc.html", polyglot_jpeg(), content_type="text/html")


def assert_stored_and_served_as_jpeg(client, name: str) -> None:
    """The stored name has no trace of the client's name, and /media/ serves it as an inert image."""
    stem = Path(name).stem
    assert name.endswith(".jpg") and "html" not in name and len(stem.rsplit("-", 1)[-1]) >= 12, name
    response = client.get(f"/media/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert "sandbox" in response["Content-Security-Policy"]
    assert POLYGLOT_SCRIPT in b"".join(response.streaming_content)  # same bytes, harmless as a JPEG


def test_search_page_query_image(client):
    response = client.post("/", {"image": poc_html()})
    assert response.status_code == 302
    stored = QueryImage.objects.get()
    assert (stored.width, stored.height) == (60, 80)
    assert_stored_and_served_as_jpeg(client, stored.file.name)


@pytest.mark.parametrize(
    ("fmt", "name"), [("GIF", "q.gif"), ("BMP", "q.bmp"), ("TIFF", "q.tiff"), ("ICO", "q.ico")]
)
def test_search_page_refuses_other_formats_naming_the_allowed_ones(client, fmt, name):
    data = image_bytes(fmt, size=(32, 32))
    response = client.post("/", {"image": SimpleUploadedFile(name, data)})
    assert response.status_code == 400
    assert "not a JPEG, PNG or WebP file" in response.content.decode()
    assert not QueryImage.objects.exists()


def test_catalogue_product_form(catalogue_admin_client, client):
    form = {"catalog_id": "poc-1", "title": "Polyglot", "image_file": poc_html()}
    response = catalogue_admin_client.post(reverse("catalogue:product-create"), form)
    assert response.status_code == 302, response.content.decode()[:500]
    assert_stored_and_served_as_jpeg(client, Product.objects.get(catalog_id="poc-1").image.name)


def test_catalogue_import_names_images_by_what_they_are(tmp_path, client, settings):
    settings.EMBEDDINGS_AUTO_QUEUE = False
    path = tmp_path / "catalogue.zip"
    styles = zips.kaggle_csv(zips.kaggle_rows(1)).encode()
    path.write_bytes(zips.make_zip({"styles.csv": styles, "images/90001.png": polyglot_jpeg()}))
    call_command("import_catalog", str(path), stdout=io.StringIO())
    assert_stored_and_served_as_jpeg(client, Product.objects.get(catalog_id="90001").image.name)


@pytest.fixture
def survey(db, researcher):
    from tests.surveys.fixtures import make_weight_configs

    return survey_services.create_survey(
        title="Uploads", slug="uploads", weight_configs=make_weight_configs(2), exact=True
    )


def test_survey_researcher_query(researcher_client, survey, client):
    url = reverse("surveys:manage-add-query", args=[survey.slug])
    researcher_client.post(url, {"text": "poc", "image": poc_html()})
    query = SurveyQuery.objects.get(survey=survey)
    assert query.image_name == "poc.html"  # shown to researchers as uploaded, never used as a path
    assert_stored_and_served_as_jpeg(client, query.image.name)


def test_survey_query_csv_with_a_zip(survey, client):
    created = survey_services.import_queries_csv(
        survey=survey,
        csv_file=SimpleUploadedFile("q.csv", b"text,image\npoc,poc.html\n"),
        zip_file=io.BytesIO(zips.make_zip({"poc.html": polyglot_jpeg()})),
    )
    assert_stored_and_served_as_jpeg(client, created[0].image.name)


def test_survey_query_csv_refuses_a_zip_with_a_duplicated_entry_and_stores_nothing(survey):
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="Duplicate name"):
        import zipfile

        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a.jpg", image_bytes("JPEG"))
            archive.writestr("a.jpg", polyglot_jpeg())
    buffer.seek(0)
    with pytest.raises(survey_services.QueryImportError, match="'a.jpg' appears twice"):
        survey_services.import_queries_csv(
            survey=survey, csv_file=SimpleUploadedFile("q.csv", b"text,image\nx,a.jpg\n"), zip_file=buffer
        )
    assert not SurveyQuery.objects.filter(survey=survey).exists()


def test_survey_participant_own_query(client, settings):
    from tests.surveys.fixtures import join_through_open_link, make_own_query_survey

    survey = make_own_query_survey(slug="own-poc", own_query_tasks=1, products=8)
    url = reverse("surveys:own-query", args=[join_through_open_link(client, survey)])

    eps = SimpleUploadedFile("photo.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n")
    refused = client.post(url, {"image": eps})
    assert "photo.eps is not a readable image (by its content it is not a JPEG, PNG or WebP file)" in (
        refused.content.decode()
    )
    assert not SurveyQuery.objects.filter(survey=survey, source=SurveyQuery.Source.PARTICIPANT).exists()

    response = client.post(url, {"image": poc_html()})
    assert response.status_code == 302, response.content.decode()[:800]
    query = SurveyQuery.objects.get(survey=survey, source=SurveyQuery.Source.PARTICIPANT)
    assert_stored_and_served_as_jpeg(client, query.image.name)


def test_worker_decodes_by_content_and_upright(settings):
    from embeddings.services import decode_image

    default_storage.save("products/rotated.html", ContentFile(image_bytes("JPEG", exif_orientation=6)))
    image, reason = decode_image(default_storage, "products/rotated.html")
    assert reason is None and image.mode == "RGB" and image.size == (80, 60)

    default_storage.save("products/legacy.gif", ContentFile(image_bytes("GIF")))
    image, reason = decode_image(default_storage, "products/legacy.gif")
    assert image is None
    assert reason == (
        "image cannot be decoded: products/legacy.gif is not a readable image "
        "(by its content it is not a JPEG, PNG or WebP file)."
    )


def test_media_that_is_not_an_image_is_never_rendered(client):
    default_storage.save("legacy/page.html", ContentFile(b"<script>alert(1)</script>"))
    response = client.get("/media/legacy/page.html")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == "attachment"
    assert response["X-Content-Type-Options"] == "nosniff"
