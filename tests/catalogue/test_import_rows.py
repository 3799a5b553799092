"""The CSV rules of the catalogue import (catalogue/importing/rows.py), one table each: headers,
physical lines, one row's fields (incl. the Kaggle file's unquoted commas), encodings, the row
limit, catalogue ids and finding the CSV. Pure functions: no database, no HTTP, no command."""

from __future__ import annotations

import io
import zipfile

import pytest

from catalogue.importing import ImportRefused
from catalogue.importing.rows import (
    check_row_count,
    csv_records,
    decode_csv,
    find_csv,
    is_catalog_id,
    parse_header,
    row_fields,
)
from tests.catalogue import zips

KAGGLE = zips.KAGGLE_HEADER.split(",")
KAGGLE_COLUMNS = parse_header(KAGGLE, "styles.csv", "kaggle")
EMPTY = {
    "gender": "",
    "master_category": "",
    "sub_category": "",
    "article_type": "",
    "base_colour": "",
    "season": "",
    "usage": "",
}


def kaggle_line(title: str, *, year: str = "2012") -> str:
    return f"39403,Men,Apparel,Topwear,Shirts,Blue,Summer,{year},Casual,{title}\n"


def parse(line: str, columns=KAGGLE_COLUMNS) -> dict:
    [(_, values, physical)] = list(csv_records(line))
    return row_fields(values, columns, physical)


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("header", "layout", "columns"),
    [
        (KAGGLE, "kaggle", ["catalog_id", "gender", "master_category", "sub_category", "article_type",
                            "base_colour", "season", "year", "usage", "title"]),
        (["id", "title"], "simple", ["catalog_id", "title"]),
        ([" id ", "title", "baseColour", "base_colour"][:3], "simple", ["catalog_id", "title", "base_colour"]),
        (["title", "id", "year", "usage"], "simple", ["title", "catalog_id", "year", "usage"]),
    ],
    ids=["kaggle", "simple", "kaggle-spelling-in-simple", "any-order"],
)  # fmt: skip
def test_a_header_maps_to_model_fields(header, layout, columns):
    assert parse_header(header, "x.csv", layout) == columns


@pytest.mark.parametrize(
    ("header", "layout", "words"),
    [
        (["This catalogue is in the PDF"], "kaggle", "x.csv line 1 has no commas"),
        (KAGGLE[:-1], "kaggle", "missing column(s) productDisplayName"),
        (
            ["sku", "name", "price"],
            "simple",
            "missing column(s) id, title; unknown column(s) sku, name, price",
        ),
        (["id", "title", "colour"], "simple", "unknown column(s) colour"),
        (["id", "title", "title"], "simple", "a column appears twice"),
        (["id", "title", "baseColour", "base_colour"], "simple", "a column appears twice"),
    ],
    ids=["prose", "kaggle-missing-title", "wrong-columns", "unknown", "twice", "twice-by-two-spellings"],
)
def test_a_wrong_header_refuses_the_file_naming_the_columns(header, layout, words):
    with pytest.raises(ImportRefused) as refused:
        parse_header(header, "x.csv", layout)
    assert words in str(refused.value)


# --------------------------------------------------------------------------- rows


@pytest.mark.parametrize(
    ("line", "title"),
    [
        (kaggle_line("Plain title"), "Plain title"),
        (
            kaggle_line("Peter England Men Party Blue, Black Shirt"),
            "Peter England Men Party Blue, Black Shirt",
        ),
        (kaggle_line('Skagen Women "Slim", Silver, Dial'), 'Skagen Women "Slim", Silver, Dial'),
        (kaggle_line('"Quoted, properly"'), "Quoted, properly"),
        (kaggle_line("Trailing spaces   ").replace("\n", "\r\n"), "Trailing spaces"),
    ],
    ids=["plain", "unquoted-commas", "quotes-and-commas", "quoted", "crlf"],
)
def test_unquoted_commas_in_the_last_column_stay_in_the_title(line, title):
    fields = parse(line)
    assert fields["title"] == title
    # Never shifted into other columns.
    assert (fields["usage"], fields["year"], fields["base_colour"], fields["catalog_id"]) == (
        "Casual",
        2012,
        "Blue",
        "39403",
    )


@pytest.mark.parametrize(
    ("line", "columns", "words"),
    [
        ("1004,Men,Apparel,Topwear,Shirts\n", KAGGLE_COLUMNS, "has 5 fields, the header has 10"),
        (
            "A-1,Red dress, long,Red\n",
            ["catalog_id", "title", "base_colour"],
            "has 4 fields, the header has 3",
        ),
        (kaggle_line("x", year="last year"), KAGGLE_COLUMNS, "year 'last year' is not a whole number"),
        (kaggle_line("x", year="99999"), KAGGLE_COLUMNS, "year '99999' is out of range"),
        (",title only\n", ["catalog_id", "title"], "has an empty id"),
        ("a/b,x\n", ["catalog_id", "title"], "id 'a/b' must be at most 64 letters"),
        ("ok," + "t" * 501 + "\n", ["catalog_id", "title"], "title is longer than 500 characters"),
    ],
    ids=["short", "extra-not-last", "year-text", "year-range", "empty-id", "slash-id", "long-title"],
)
def test_a_bad_row_is_refused_with_the_reason(line, columns, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        parse(line, columns)


def test_a_row_fills_every_product_field():
    assert parse("A-2,Jeans\n", ["catalog_id", "title"]) == {
        "catalog_id": "A-2",
        "title": "Jeans",
        "year": None,
        **EMPTY,
    }


def test_an_unclosed_quote_costs_only_its_own_line():
    text = 'id,title\n1,Good\n2,"Unclosed, quote\n3,After the quote\n'
    records = list(csv_records(text))
    assert [(line, values) for line, values, _ in records] == [
        (1, ["id", "title"]),
        (2, ["1", "Good"]),
        (3, None),
        (4, ["3", "After the quote"]),
    ]


# --------------------------------------------------------------------------- encodings and size


@pytest.mark.parametrize(
    ("data", "text"),
    [(b"id,title\n1,Caf\xc3\xa9\n", "id,title\n1,Café\n"), (b"\xef\xbb\xbfid,title\n", "id,title\n")],
    ids=["utf-8", "bom"],
)
def test_utf8_with_or_without_a_bom_decodes(data, text):
    assert decode_csv(data, "x.csv") == text


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"id,title\n1,Caf\xe9\n", "x.csv line 2, column 6: byte 0xe9 is not UTF-8"),
        (b"id,title\n1,\x00\x01\x02\n", "x.csv is not a CSV file: line 2 contains binary data"),
    ],
    ids=["latin-1", "binary"],
)
def test_other_encodings_refuse_the_file_naming_the_place(data, words):
    with pytest.raises(ImportRefused, match=words):
        decode_csv(data, "x.csv")


@pytest.mark.parametrize(("rows", "refused"), [(3, False), (4, True)])
def test_the_row_limit_is_checked_before_parsing(settings, rows, refused):
    settings.FASHIONSITE_MAX_IMPORT_ROWS = 3
    text = "id,title\n" + "".join(f"{i},t\n" for i in range(rows))
    if refused:
        with pytest.raises(
            ImportRefused, match=r"x.csv has 4 rows, more than the limit of 3 rows per import"
        ):
            check_row_count(text, "x.csv")
    else:
        check_row_count(text, "x.csv")


# --------------------------------------------------------------------------- ids and the CSV's place


@pytest.mark.parametrize(
    ("value", "ok"),
    [("39403", True), ("A-1_b.2", True), ("x" * 64, True), ("", False), ("..", False), ("a/b", False),
     ("a b", False), ("x" * 65, False), ("é", False)],
)  # fmt: skip
def test_catalogue_ids_are_url_and_file_name_safe(value, ok):
    assert is_catalog_id(value) is ok


def zip_of(*names: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(zips.make_zip(dict.fromkeys(names, b"id,title\n"))))


@pytest.mark.parametrize(
    ("names", "found", "layout"),
    [
        (("styles.csv", "images/1.jpg"), "styles.csv", "kaggle"),
        (("data/styles.csv", "styles.csv"), "styles.csv", "kaggle"),
        (("myntra/fashion/styles.csv",), "myntra/fashion/styles.csv", "kaggle"),
        (("products.csv", "images/1.jpg"), "products.csv", "simple"),
    ],
    ids=["kaggle", "shallowest-styles", "nested-styles", "simple"],
)
def test_the_csv_is_found_by_name_and_depth(names, found, layout):
    info, got_layout = find_csv(zip_of(*names), "x.zip")
    assert (info.filename, got_layout) == (found, layout)


@pytest.mark.parametrize(
    ("names", "words"),
    [(("images/1.jpg",), "x.zip has no styles.csv and no CSV at its top level"),
     (("a.csv", "b.csv"), "x.zip has several CSV files at its top level (a.csv, b.csv)")],
    ids=["none", "several"],
)  # fmt: skip
def test_no_csv_or_several_refuse_the_file(names, words):
    with pytest.raises(ImportRefused, match=words.replace("(", r"\(").replace(")", r"\)")):
        find_csv(zip_of(*names), "x.zip")
