"""Export/load of vectors, the encoder registry's errors and device choice (no worker needed)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from embeddings import encoders
from embeddings.models import ProductEmbedding
from embeddings.services import compute_batch_vectors, ensure_space, upsert_vectors
from embeddings.transfer import EmbeddingFileError, load_space, read_space_vectors
from tests.embeddings.factories import make_products


def _embed_in_process(space, products):
    rows, failures = compute_batch_vectors(space, products)
    upsert_vectors(space, rows)
    return rows, failures


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_export_then_load_into_an_empty_table_gives_identical_vectors(tmp_path, suffix):
    products = make_products(5, no_image=(2,))
    space = ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    _embed_in_process(space, products)
    ids, image, title = read_space_vectors(space)
    out = tmp_path / f"vectors{suffix}"
    call_command("export_embeddings", "--space", "tiny", str(out))
    ProductEmbedding.objects.all().delete()
    call_command("load_embeddings", "--space", "tiny", str(out))
    ids2, image2, title2 = read_space_vectors(space)
    assert ids2 == ids and len(ids) == 5
    np.testing.assert_array_equal(title2, title)
    np.testing.assert_array_equal(image2, image)  # NaN row for the product without an image
    assert np.isnan(image[2]).all()


@pytest.mark.django_db
def test_a_file_from_another_space_is_refused_and_nothing_is_loaded(tmp_path):
    products = make_products(3)
    small = ensure_space(name="tiny32", model_name="fashionsite-tiny-32", pretrained="none")
    big = ensure_space(name="tiny64", model_name="fashionsite-tiny", pretrained="none")
    _embed_in_process(small, products)
    out = tmp_path / "small.parquet"
    call_command("export_embeddings", "--space", "tiny32", str(out))
    with pytest.raises(CommandError, match=r"another space than 'tiny64'.*dimension: file 32 vs space 64"):
        call_command("load_embeddings", "--space", "tiny64", str(out))
    assert not ProductEmbedding.objects.filter(space=big).exists()
    (tmp_path / "x.csv").write_text("catalog_id,vector\n")
    with pytest.raises(EmbeddingFileError, match="use a .parquet"):
        load_space(big, tmp_path / "x.csv")
    with pytest.raises(EmbeddingFileError, match="no such file"):
        load_space(big, tmp_path / "missing.parquet")


def test_a_failed_weight_download_names_the_settings_and_the_offline_option():
    with pytest.raises(encoders.WeightsUnavailable) as error:
        encoders.load_encoder("fashionsite-tiny", "laion2b_s34b_b79k")
    message = str(error.value)
    for name in (
        "EMBEDDINGS_MODEL",
        "EMBEDDINGS_PRETRAINED",
        "EMBEDDINGS_WEIGHTS_PATH",
        "EMBEDDINGS_PRETRAINED=none",
    ):
        assert name in message
    with pytest.raises(encoders.WeightsUnavailable, match="EMBEDDINGS_WEIGHTS_PATH='/nowhere/w.bin'"):
        encoders.load_encoder("fashionsite-tiny", "", "/nowhere/w.bin")


def test_device_selection_honours_the_override(settings):
    settings.EMBEDDINGS_DEVICE = "cpu"
    assert encoders.select_device() == "cpu"
    settings.EMBEDDINGS_DEVICE = "cuda:1"
    assert encoders.select_device() == "cuda:1"
    settings.EMBEDDINGS_DEVICE = ""
    import torch

    automatic = encoders.select_device()
    assert automatic in ("cuda", "mps", "cpu")
    assert (automatic == "cuda") == torch.cuda.is_available()
    assert encoders.select_device("mps") == "mps"


def test_the_registry_caches_one_model_per_process_and_outputs_unit_float32():
    first = encoders.load_encoder("fashionsite-tiny", "none", device="cpu")
    assert encoders.load_encoder("fashionsite-tiny", "none", device="cpu") is first
    vectors = first.encode_texts(["red shirt", "blue jeans"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
