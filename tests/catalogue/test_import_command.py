"""`manage.py import_catalog PATH`: the bundled sample catalogue, zips and folders, idempotent upserts,
the Kaggle file's unquoted commas, image checks, hostile zips and broken CSVs, as its user sees them
(the summary it prints, the CommandError it ends with, and what the catalogue holds afterwards).

Runs against the real database; nothing here needs a worker (EMBEDDINGS_AUTO_QUEUE is off, and the
staleness of embeddings is read from the rows, as the embeddings dashboard reads it).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding
from embeddings.selectors import space_coverage
from tests.catalogue import zips
from tests.fixtures import jpeg_bytes

pytestmark = pytest.mark.django_db

SAMPLE = Path(django_settings.FASHIONSITE_SAMPLE_CATALOG)
SAMPLE_ROWS = 300
SAMPLE_WITHOUT_IMAGE = 3


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMBEDDINGS_AUTO_QUEUE = False
    return settings.MEDIA_ROOT


def import_catalog(path, *args: str, stdout=None) -> str:
    stdout = stdout or io.StringIO()
    call_command("import_catalog", str(path), "--no-progress", *args, stdout=stdout)
    return stdout.getvalue()


def counts(output: str) -> dict[str, int]:
    """The summary's count lines ('  created   300') as {label: number}."""
    found = {}
    for label, number in re.findall(r"^  ([a-z][a-z ()]+?)\s{2,}([\d,]+)$", output, flags=re.M):
        found[label] = int(number.replace(",", ""))
    return found


def write_zip(tmp_path: Path, data: bytes, name: str = "catalogue.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def media_files(media_root: Path) -> list[Path]:
    return sorted(path for path in media_root.rglob("*") if path.is_file()) if media_root.exists() else []


def sample_zip(tmp_path: Path) -> Path:
    entries = {path.relative_to(SAMPLE).as_posix(): path.read_bytes() for path in SAMPLE.rglob("*.*")}
    return write_zip(tmp_path, zips.make_zip(entries), "sample.zip")


def catalogue_state() -> list[tuple]:
    return list(
        Product.objects.order_by("catalog_id").values_list(
            "catalog_id", "title", "base_colour", "revision", "image", "updated_at"
        )
    )


# --------------------------------------------------------------------------- happy path


def test_the_bundled_sample_folder_imports_every_row(media_root):
    output = import_catalog(SAMPLE)

    assert counts(output) == {
        "created": SAMPLE_ROWS,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "products without an image": SAMPLE_WITHOUT_IMAGE,
        "unreadable images (rows kept)": 0,
        "images without a row": 0,
    }
    assert Product.objects.count() == SAMPLE_ROWS
    assert Product.objects.exclude(image="").count() == SAMPLE_ROWS - SAMPLE_WITHOUT_IMAGE
    assert len(media_files(media_root)) == SAMPLE_ROWS - SAMPLE_WITHOUT_IMAGE
    jersey = Product.objects.get(catalog_id="1163")
    assert (jersey.title, jersey.gender, jersey.article_type, jersey.base_colour, jersey.year) == (
        "Nike Sahara Team India Fanwear Round Neck Jersey",
        "Men",
        "Tshirts",
        "Blue",
        2011,
    )
    # The ids without an image are listed under the counts.
    listed = output.split("Products without an image:")[1].split()
    assert len(listed) == SAMPLE_WITHOUT_IMAGE
    assert all(not Product.objects.get(catalog_id=catalog_id).image for catalog_id in listed)


def test_a_zip_of_the_sample_imports_the_same_catalogue(tmp_path, media_root):
    output = import_catalog(sample_zip(tmp_path))

    summary = counts(output)
    assert (summary["created"], summary["products without an image"]) == (SAMPLE_ROWS, SAMPLE_WITHOUT_IMAGE)
    assert Product.objects.count() == SAMPLE_ROWS
    assert len(media_files(media_root)) == SAMPLE_ROWS - SAMPLE_WITHOUT_IMAGE


def test_a_progress_bar_is_drawn_on_a_terminal(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    call_command("import_catalog", str(write_zip(tmp_path, zips.kaggle_zip(4))), stdout=terminal)
    assert "importing" in terminal.getvalue() and "4/4" in terminal.getvalue()
    assert "importing" not in import_catalog(write_zip(tmp_path, zips.kaggle_zip(4), "again.zip"))


# --------------------------------------------------------------------------- idempotency and staleness


def test_importing_the_same_catalogue_twice_changes_nothing(media_root):
    import_catalog(SAMPLE)
    before = catalogue_state()
    files = media_files(media_root)

    summary = counts(import_catalog(SAMPLE))

    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, SAMPLE_ROWS)
    assert catalogue_state() == before
    assert media_files(media_root) == files


def test_a_changed_row_updates_and_only_its_embeddings_become_stale(tmp_path, media_root):
    rows = zips.kaggle_rows(5)
    images = {f"images/{row['id']}.jpg": jpeg_bytes((10 * i, 80, 90)) for i, row in enumerate(rows)}
    import_catalog(
        write_zip(tmp_path, zips.make_zip({"styles.csv": zips.kaggle_csv(rows).encode(), **images}))
    )
    space = EmbeddingSpace.objects.create(
        name="import-staleness", model_name="import-test-4d", pretrained="none", dimension=4
    )
    # Embedding rows as the worker leaves them: computed from each product's current revision.
    ProductEmbedding.objects.bulk_create(
        ProductEmbedding(
            product=product,
            space=space,
            image_vector=[1.0, 0.0, 0.0, 0.0],
            title_vector=[0.0, 1.0, 0.0, 0.0],
            product_revision=product.revision,
        )
        for product in Product.objects.all()
    )
    coverage = next(row for row in space_coverage() if row["space"] == space)
    assert (coverage["embedded"], coverage["stale"]) == (5, 0)
    old_image = Product.objects.get(catalog_id=rows[2]["id"]).image.name

    rows[1]["productDisplayName"] = "Renamed shirt"
    images[f"images/{rows[2]['id']}.jpg"] = jpeg_bytes((250, 250, 0))
    data = zips.make_zip({"styles.csv": zips.kaggle_csv(rows).encode(), **images})
    summary = counts(import_catalog(write_zip(tmp_path, data, "changed.zip")))

    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 2, 3)
    renamed = Product.objects.get(catalog_id=rows[1]["id"])
    assert (renamed.title, renamed.revision) == ("Renamed shirt", 2)
    new_image = Product.objects.get(catalog_id=rows[2]["id"]).image.name
    assert new_image != old_image
    assert Product.objects.filter(revision=1).count() == 3
    coverage = next(row for row in space_coverage() if row["space"] == space)
    assert (coverage["embedded"], coverage["stale"]) == (3, 2)


# --------------------------------------------------------------------------- the Kaggle file's commas


def test_unquoted_commas_in_kaggle_titles_stay_in_the_title(tmp_path):
    header = zips.KAGGLE_HEADER
    styles = (
        f"{header}\n"
        "39403,Men,Apparel,Topwear,Shirts,Blue,Summer,2012,Casual,Peter England Men Party Blue, Black Shirt\n"
        '12347,Women,Accessories,Watches,Watches,Silver,Winter,2016,Casual,Skagen Women "Slim", Silver, Dial\n'
        "12348,Women,Apparel,Topwear,Tops,Red,Summer,2013,Casual,Plain title\n"
    )
    output = import_catalog(write_zip(tmp_path, zips.make_zip({"styles.csv": styles.encode()})))

    assert counts(output)["created"] == 3 and counts(output)["rejected"] == 0
    shirt = Product.objects.get(catalog_id="39403")
    assert shirt.title == "Peter England Men Party Blue, Black Shirt"
    assert (shirt.usage, shirt.year, shirt.base_colour) == ("Casual", 2012, "Blue")
    assert Product.objects.get(catalog_id="12347").title == 'Skagen Women "Slim", Silver, Dial'
    assert Product.objects.get(catalog_id="12348").title == "Plain title"


# --------------------------------------------------------------------------- images


def test_missing_images_and_images_without_a_row_are_reported(tmp_path, media_root):
    data = zips.kaggle_zip(3, images={"images/55555.jpg": jpeg_bytes()})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist() if name != "images/90002.jpg"}
    output = import_catalog(write_zip(tmp_path, zips.make_zip(entries)))

    summary = counts(output)
    assert (summary["created"], summary["products without an image"], summary["images without a row"]) == (
        3,
        1,
        1,
    )
    assert "Products without an image:\n  90002\n" in output
    assert "Images without a row:\n  images/55555.jpg\n" in output
    assert not Product.objects.get(catalog_id="90002").image
    assert Product.objects.get(catalog_id="90001").image
    assert len(media_files(media_root)) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            b"this is a text file, not a JPEG",
            "is not a readable image (by its content it is not a JPEG, PNG or WebP file)",
        ),
        (
            b"GIF89a" + b"\0" * 40,
            "is not a readable image (by its content it is not a JPEG, PNG or WebP file)",
        ),
        (jpeg_bytes()[:-120], "is not a readable image ("),
    ],
    ids=["text", "gif-content", "truncated-jpeg"],
)
def test_an_image_that_is_not_a_readable_image_is_refused_and_its_row_kept(
    tmp_path, media_root, content, reason
):
    data = zips.kaggle_zip(2, images={"images/90002.jpg": content})
    output = import_catalog(write_zip(tmp_path, data))

    assert counts(output)["unreadable images (rows kept)"] == 1
    assert f"images/90002.jpg: images/90002.jpg {reason}" in output
    assert Product.objects.get(catalog_id="90002").image.name == ""
    assert len(media_files(media_root)) == 1


def test_images_over_the_pixel_limit_are_refused(tmp_path, settings):
    settings.FASHIONSITE_MAX_IMAGE_PIXELS = 1000  # the test JPEGs have 60x80 = 4,800 pixels
    output = import_catalog(write_zip(tmp_path, zips.kaggle_zip(2)))

    assert counts(output)["unreadable images (rows kept)"] == 2
    assert "4,800 pixels is more than the limit of 1,000 pixels (FASHIONSITE_MAX_IMAGE_PIXELS)" in output
    assert not Product.objects.exclude(image="").exists()


def test_a_png_named_jpg_is_stored_as_what_it_is(tmp_path):
    import_catalog(
        write_zip(tmp_path, zips.kaggle_zip(1, images={"images/90001.jpg": zips.png_bomb_bytes(8, 8)}))
    )
    assert Product.objects.get(catalog_id="90001").image.name.endswith(".png")


# --------------------------------------------------------------------------- hostile zips and folders


def corrupt_entry_zip() -> bytes:
    data = bytearray(zips.kaggle_zip(3))
    start = data.index(b"styles.csv") + len(b"styles.csv")  # the local header's name, then the data
    data[start + 20 : start + 60] = b"\xff" * 40
    return bytes(data)


def duplicate_entry_zip() -> bytes:
    buffer = io.BytesIO(zips.kaggle_zip(2))
    with zipfile.ZipFile(buffer, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("images/90001.jpg", jpeg_bytes((0, 200, 0)))
    return buffer.getvalue()


# One case per kind on the command line (its message and "nothing stored"); every zip rule is in
# tests/foundation/test_upload_rules.py.
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (lambda: zips.zip_with_raw_name("/etc/evil.jpg"), ["'/etc/evil.jpg'", "absolute path"]),
        (lambda: b"PK\x03\x04 not really a zip", ["is not a readable zip file"]),
        (corrupt_entry_zip, ["entry 'styles.csv' cannot be read"]),
        (duplicate_entry_zip, ["entry 'images/90001.jpg' appears twice"]),
    ],
    ids=["absolute", "not-a-zip", "corrupt-entry", "duplicate-entry"],
)
def test_hostile_zips_are_refused_whole_and_nothing_is_stored(tmp_path, media_root, data, words):
    path = write_zip(tmp_path, data())
    with pytest.raises(CommandError) as refused:
        import_catalog(path)

    message = str(refused.value)
    assert message.startswith(str(path)) or message.startswith(path.name)
    for word in words:
        assert word in message
    assert message.endswith("Nothing was imported.")
    assert Product.objects.count() == 0
    assert media_files(media_root) == []


def test_a_folder_with_a_symbolic_link_is_refused(tmp_path, media_root):
    folder = tmp_path / "catalogue"
    (folder / "images").mkdir(parents=True)
    (folder / "styles.csv").write_text(zips.kaggle_csv(zips.kaggle_rows(2)))
    (folder / "images" / "90001.jpg").write_bytes(jpeg_bytes())
    os.symlink("/etc/passwd", folder / "images" / "90002.jpg")

    with pytest.raises(CommandError, match=r"images/90002\.jpg is a symbolic link; the folder is refused"):
        import_catalog(folder)
    assert Product.objects.count() == 0 and media_files(media_root) == []


def test_a_path_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(CommandError, match="nowhere.zip does not exist"):
        import_catalog(tmp_path / "nowhere.zip")


# --------------------------------------------------------------------------- broken CSVs


def _rows_as_csv(header: str, encoding: str = "utf-8") -> bytes:
    rows = zips.kaggle_rows(3)
    rows[0]["productDisplayName"] = "Caf\u00e9 T\u00f6p renamed"
    text = zips.kaggle_csv(rows)
    return (header + text[text.index("\n") :]).encode(encoding)


# The CLI's wording for a refused CSV; every CSV rule is in tests/catalogue/test_import_rows.py.
@pytest.mark.parametrize(
    ("styles", "words"),
    [
        (
            _rows_as_csv("id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage"),
            ["styles.csv line 1", "missing column(s) productDisplayName"],
        ),
        (_rows_as_csv(zips.KAGGLE_HEADER, "latin-1"), ["styles.csv line 2", "is not UTF-8"]),
        (b"", ["styles.csv is empty"]),
    ],
    ids=["missing-column", "latin-1", "empty"],
)
def test_a_broken_csv_stops_with_its_name_and_leaves_the_catalogue_unchanged(
    tmp_path, media_root, styles, words
):
    import_catalog(write_zip(tmp_path, zips.kaggle_zip(3), "first.zip"))
    before = catalogue_state()
    files = media_files(media_root)
    images = {f"images/{90001 + i}.jpg": jpeg_bytes((0, 0, 60 * i)) for i in range(3)}
    broken = write_zip(tmp_path, zips.make_zip({"styles.csv": styles, **images}), "broken.zip")

    with pytest.raises(CommandError) as refused:
        import_catalog(broken)

    message = str(refused.value)
    assert message.startswith(f"{broken}: ")
    for word in words:
        assert word in message
    assert message.endswith("Nothing was imported.")
    assert catalogue_state() == before
    assert media_files(media_root) == files


# --------------------------------------------------------------------------- dry run, all or nothing


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(tmp_path, media_root):
    output = import_catalog(SAMPLE, "--dry-run")
    assert "nothing was written" in output
    assert counts(output)["would create"] == SAMPLE_ROWS
    assert Product.objects.count() == 0 and media_files(media_root) == []

    import_catalog(write_zip(tmp_path, zips.kaggle_zip(2)))
    before, files = catalogue_state(), media_files(media_root)
    rows = zips.kaggle_rows(2)
    rows[0]["baseColour"] = "Purple"
    output = import_catalog(
        write_zip(tmp_path, zips.make_zip({"styles.csv": zips.kaggle_csv(rows).encode()}), "b.zip"),
        "--dry-run",
    )
    assert (counts(output)["would update"], counts(output)["unchanged"]) == (1, 1)
    assert catalogue_state() == before and media_files(media_root) == files


def test_all_or_nothing_imports_nothing_when_a_row_is_rejected(tmp_path, media_root):
    rows = zips.kaggle_rows(3)
    rows[2]["year"] = "twenty"
    path = write_zip(tmp_path, zips.make_zip({"styles.csv": zips.kaggle_csv(rows).encode()}))

    with pytest.raises(CommandError, match=r"line 4: styles.csv line 4 year 'twenty' is not a whole number"):
        import_catalog(path, "--all-or-nothing")
    assert Product.objects.count() == 0

    assert counts(import_catalog(path))["created"] == 2
