"""The untrusted-upload rules (fashionsite/uploads.py), one table each: image decoding, zip checks,
the size wording. Pure functions: no database, no HTTP (the paths that use them have one
integration test each, in tests/foundation/test_upload_paths.py)."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from PIL import Image

from fashionsite.uploads import (
    ImageRefused,
    ZipRefused,
    check_zip,
    decode_untrusted_image,
    open_zip,
    read_zip_entry,
    size_label,
)
from tests.catalogue import zips
from tests.fixtures import POLYGLOT_SCRIPT, image_bytes, polyglot_jpeg

MB = 1024 * 1024

# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("data", "fmt", "suffix"),
    [
        (image_bytes("JPEG"), "JPEG", ".jpg"),
        (image_bytes("PNG"), "PNG", ".png"),
        (image_bytes("WEBP"), "WEBP", ".webp"),
        (polyglot_jpeg(), "JPEG", ".jpg"),
    ],
    ids=["jpeg", "png", "webp", "polyglot-jpeg"],
)
def test_jpeg_png_and_webp_decode_to_their_own_suffix(data, fmt, suffix):
    decoded = decode_untrusted_image(data, max_bytes=MB)
    assert (decoded.format, decoded.suffix, decoded.image.size) == (fmt, suffix, (60, 80))
    assert decoded.stored_name("query_images/") == f"query_images/{decoded.sha256}{suffix}"


def test_a_polyglot_keeps_its_bytes_but_is_named_as_the_jpeg_it_is():
    data = polyglot_jpeg()
    assert POLYGLOT_SCRIPT in data
    assert decode_untrusted_image(data, max_bytes=MB, name="poc.html").stored_name().endswith(".jpg")


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", "empty", "is empty"),
        (image_bytes("GIF"), "unreadable", "not a JPEG, PNG or WebP file"),
        (image_bytes("BMP"), "unreadable", "not a JPEG, PNG or WebP file"),
        (image_bytes("TIFF"), "unreadable", "not a JPEG, PNG or WebP file"),
        (image_bytes("ICO", size=(32, 32)), "unreadable", "not a JPEG, PNG or WebP file"),
        (EPS, "unreadable", "not a JPEG, PNG or WebP file"),
        (SVG, "unreadable", "not a JPEG, PNG or WebP file"),
        (b"%PDF-1.4 not an image", "unreadable", "not a JPEG, PNG or WebP file"),
        (image_bytes("JPEG")[:-120], "unreadable", "is not a readable image ("),
        (image_bytes("PNG") + b"\0" * (2 * MB), "too_large", "more than the limit of 1 MB"),
    ],
    ids=["empty", "gif", "bmp", "tiff", "ico", "eps", "svg", "pdf", "truncated-jpeg", "too-large"],
)
def test_other_formats_and_broken_files_are_refused_with_the_reason(data, code, words):
    with pytest.raises(ImageRefused) as refused:
        decode_untrusted_image(data, max_bytes=MB, name="upload.bin")
    assert refused.value.code == code
    assert words in str(refused.value) and "upload.bin" in str(refused.value)


def test_a_format_list_narrows_what_is_decoded():
    with pytest.raises(ImageRefused, match=r"not a JPEG file"):
        decode_untrusted_image(image_bytes("PNG"), max_bytes=MB, formats=("JPEG",))


def test_pixels_are_counted_from_the_header_before_decoding(settings):
    settings.FASHIONSITE_MAX_IMAGE_PIXELS = 1_000
    with pytest.raises(ImageRefused) as refused:
        decode_untrusted_image(image_bytes("PNG"), max_bytes=MB, name="big.png")
    assert refused.value.code == "too_many_pixels"
    assert "big.png: 60x80 = 4,800 pixels is more than the limit of 1,000 pixels" in str(refused.value)


def test_a_decompression_bomb_is_refused_without_allocating_its_pixels():
    bomb = zips.png_bomb_bytes(12_000, 12_000)  # 144 megapixels in a few kilobytes
    assert len(bomb) < MB
    with pytest.raises(ImageRefused) as refused:
        decode_untrusted_image(bomb, max_bytes=MB)
    assert refused.value.code == "too_many_pixels" and "megapixels" in str(refused.value)


@pytest.mark.parametrize(
    ("orientation", "size"),
    [(None, (60, 80)), (1, (60, 80)), (3, (60, 80)), (6, (80, 60)), (8, (80, 60))],
)
def test_exif_orientation_is_applied(orientation, size):
    decoded = decode_untrusted_image(image_bytes("JPEG", exif_orientation=orientation), max_bytes=MB)
    assert decoded.image.size == size and (decoded.width, decoded.height) == size


def test_exif_rotation_moves_the_pixels_the_way_the_photo_was_taken():
    # A photo stored sideways: red left half, blue right half, orientation 6 (rotate 90° clockwise).
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif.tobytes())
    upright = decode_untrusted_image(buffer.getvalue(), max_bytes=MB).rgb()
    assert upright.size == (20, 40)
    assert upright.getpixel((10, 5))[0] > 200  # the red half is now on top
    assert upright.getpixel((10, 35))[2] > 200


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_max_side_downscales_while_keeping_the_original_size_on_record(fmt):
    data = image_bytes(fmt, size=(2000, 1000))
    decoded = decode_untrusted_image(data, max_bytes=4 * MB, max_side=256)
    assert max(decoded.image.size) <= 256
    assert (decoded.width, decoded.height) == (2000, 1000)


# --------------------------------------------------------------------------- zips


def special_entry(kind: str) -> bytes:
    return zips.zip_with_special_entry(kind)


def encrypted_entry() -> bytes:
    """A zip whose last entry claims to be encrypted (bit 0 of its central-directory flags)."""
    data = bytearray(zips.make_zip({"styles.csv": b"id,title\n", "images/locked.jpg": b"ciphertext"}))
    header = data.rfind(b"images/locked.jpg") - 46  # the central directory header precedes the name
    assert data[header : header + 4] == b"PK\x01\x02"
    data[header + 8] |= 0x1
    return bytes(data)


def duplicate_entry() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("styles.csv", b"id,title\n1,checked\n")
        archive.writestr("styles.csv", b"id,title\n1,imported\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: zips.zip_with_raw_name("/etc/evil.jpg"), ["'/etc/evil.jpg'", "absolute path"]),
        (lambda: zips.zip_with_raw_name("C:/evil.jpg"), ["'C:/evil.jpg'", "absolute path"]),
        (lambda: zips.zip_with_raw_name("../evil.jpg"), ["'../evil.jpg'", "outside the zip"]),
        (lambda: zips.zip_with_raw_name("images/../../evil.jpg"), ["images/../../evil.jpg", "'..'"]),
        (lambda: special_entry("symlink"), ["'images/evil.jpg'", "symbolic link"]),
        (lambda: special_entry("device"), ["'images/evil.jpg'", "device or special file"]),
        (encrypted_entry, ["'images/locked.jpg'", "encrypted"]),
        (duplicate_entry, ["'styles.csv'", "appears twice"]),
    ],
    ids=["absolute", "drive", "dotdot", "nested-dotdot", "symlink", "device", "encrypted", "duplicate"],
)
def test_unsafe_entries_refuse_the_whole_zip_naming_the_entry(build, words):
    with pytest.raises(ZipRefused) as refused, zipfile.ZipFile(io.BytesIO(build())) as archive:
        check_zip(archive, label="upload.zip")
    assert str(refused.value).startswith("upload.zip: ")
    for word in words:
        assert word in str(refused.value)


@pytest.mark.parametrize(
    ("limits", "build", "words"),
    [
        ({"FASHIONSITE_MAX_ZIP_ENTRY_BYTES": 2 * MB}, lambda: zips.zip_bomb_entry(3 * MB), "per-entry limit"),
        ({"FASHIONSITE_MAX_ZIP_RATIO": 50.0}, lambda: zips.zip_bomb_entry(2 * MB), "possible zip bomb"),
        ({"FASHIONSITE_MAX_ZIP_BYTES": 5_000}, lambda: zips.kaggle_zip(20), "more than 5,000 bytes in total"),
    ],
    ids=["entry-size", "ratio", "total"],
)
def test_bomb_limits_are_read_from_the_headers(settings, limits, build, words):
    for name, value in limits.items():
        setattr(settings, name, value)
    with pytest.raises(ZipRefused, match=words), zipfile.ZipFile(io.BytesIO(build())) as archive:
        check_zip(archive, label="bomb.zip")


def test_a_small_repetitive_csv_is_not_a_bomb():
    data = zips.make_zip({"styles.csv": b"id,title\n" + b"1,same title\n" * 2000})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        check_zip(archive, label="ok.zip")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"PK\x03\x04 not really a zip", "is not a readable zip file"),
        (zips.kaggle_zip(3)[:-40], "is not a readable zip file"),
        (b"", "is not a readable zip file"),
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_an_unreadable_zip_is_refused_by_name(tmp_path, data, words):
    path = tmp_path / "catalogue.zip"
    path.write_bytes(data)
    with pytest.raises(ZipRefused, match=f"catalogue.zip {words}"):
        open_zip(path)


def test_an_entry_whose_data_is_corrupt_is_refused_when_read(tmp_path):
    data = bytearray(zips.make_zip({"styles.csv": b"id,title\n" + b"1,a title\n" * 500}))
    data[60:80] = b"\xff" * 20  # inside the deflated data of the only entry
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        check_zip(archive, label="corrupt.zip")  # the headers are intact
        with pytest.raises(ZipRefused, match="entry 'styles.csv' cannot be read"):
            read_zip_entry(archive, archive.getinfo("styles.csv"))


def test_reading_an_entry_stops_at_the_limit(settings, tmp_path):
    # Read through the same function for a folder file, which may grow after it was listed.
    from catalogue.importing.sources import CatalogueFolder

    settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES = 1000
    (tmp_path / "styles.csv").write_bytes(b"x" * 5000)
    folder = CatalogueFolder(tmp_path)
    with pytest.raises(ZipRefused, match="past the per-entry limit of 1,000 bytes"):
        read_zip_entry(folder, folder.getinfo("styles.csv"))


# --------------------------------------------------------------------------- size wording


@pytest.mark.parametrize(
    ("size", "label"),
    [(200 * MB, "200 MB"), (10 * MB, "10 MB"), (1536, "1.5 KB"), (999, "999 bytes"), (2 * 1024**3, "2 GB")],
)
def test_sizes_read_the_same_everywhere(size, label):
    assert size_label(size) == label


def test_stat_modes_in_the_fixture_builders_are_what_the_check_reads():
    # Guards the table above: the builders really set Unix file types in external_attr.
    with zipfile.ZipFile(io.BytesIO(special_entry("symlink"))) as archive:
        assert stat.S_ISLNK(archive.getinfo("images/evil.jpg").external_attr >> 16)
