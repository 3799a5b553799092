"""The GPU benchmarks' inputs (benchmarks/catalogue_sample.py, benchmarks/finetune_gpu.py): the sample
zip keeps the dataset's layout and only usable products, and the recall split never puts one title
on both sides (a shared title would let the test set be memorised)."""

from __future__ import annotations

import csv
import io
import zipfile

from PIL import Image

from benchmarks.catalogue_sample import decode, read_items, write_sample
from benchmarks.finetune_gpu import split_pairs


def _jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 80), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _dataset(path, rows, images) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", "productDisplayName", "baseColour"])
        writer.writeheader()
        writer.writerows(rows)
        zf.writestr("myntradataset/styles.csv", buffer.getvalue())
        for product_id, data in images.items():
            zf.writestr(f"myntradataset/images/{product_id}.jpg", data)


def test_sample_keeps_products_with_an_image_and_a_title_in_the_dataset_layout(tmp_path):
    dataset = tmp_path / "dataset.zip"
    rows = [
        {"id": "1", "productDisplayName": "Navy Shirt", "baseColour": "Navy Blue"},
        {"id": "2", "productDisplayName": "No Photo Shoe", "baseColour": "Black"},  # image missing
        {"id": "3", "productDisplayName": "", "baseColour": "Red"},  # no title
        {"id": "4", "productDisplayName": "Red Dress", "baseColour": "Red"},
        {"id": "5", "productDisplayName": "Green Cap", "baseColour": "Green"},
    ]
    images = {"1": _jpeg("navy"), "3": _jpeg("red"), "4": _jpeg("red"), "5": _jpeg("green")}
    _dataset(dataset, rows, images)

    sample = tmp_path / "sample.zip"
    assert write_sample(dataset, sample, 2) == 2

    with zipfile.ZipFile(sample) as zf:
        assert sorted(zf.namelist()) == ["images/1.jpg", "images/4.jpg", "styles.csv"]
    items = read_items(sample, 10)
    assert [(item.product_id, item.title) for item in items] == [(1, "Navy Shirt"), (4, "Red Dress")]
    assert [item.data for item in items] == [images["1"], images["4"]]
    assert read_items(dataset, 2) == items
    image = decode(items[0].data)
    assert (image.mode, image.size) == ("RGB", (60, 80))


def test_recall_split_never_puts_one_title_on_both_sides(tmp_path):
    dataset = tmp_path / "dataset.zip"
    titles = [f"Title {i % 40}" for i in range(200)]  # each title on five products
    rows = [{"id": str(i), "productDisplayName": title, "baseColour": ""} for i, title in enumerate(titles)]
    _dataset(dataset, rows, {str(i): _jpeg("white") for i in range(200)})

    train, test = split_pairs(read_items(dataset, 200))

    assert len(train) + len(test) == 200 and train and test
    assert not {pair.text for pair in train} & {pair.text for pair in test}
    assert {pair.image_name for pair in train + test} == {str(i) for i in range(200)}
