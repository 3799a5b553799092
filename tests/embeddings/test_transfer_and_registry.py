"""Export/load of vectors, the encoder registry's errors and device choice (no worker needed)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from embeddings import encoders
from embeddings.models import ProductEmbedding
from embeddings.services import compute_batch_vectors, ensure_space, upsert_vectors
from embeddings.transfer import EmbeddingFileError, load_space, read_space_vectors
from embeddings.workers import describe_device
from tests.factories import make_products


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


@pytest.fixture
def unreachable_hub(monkeypatch, tmp_path):
    """A hub host that never resolves (.invalid) and an empty cache: downloads really fail, and
    the registry's reachability probe really fails, on any machine."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "ENDPOINT", "https://hub.invalid")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return hub_constants


@pytest.mark.parametrize(
    ("model_name", "pretrained", "offline"),
    [
        ("ViT-B-32", "laion2b_s34b_b79k", "EMBEDDINGS_MODEL=ViT-B-32 EMBEDDINGS_PRETRAINED=none"),
        ("hf-hub:Marqo/marqo-fashionSigLIP", "", "EMBEDDINGS_MODEL=ViT-B-32 EMBEDDINGS_PRETRAINED=none"),
        # A hub model's architecture comes from the hub too: random weights need a built-in one.
        ("hf-hub:Marqo/marqo-fashionSigLIP", "none", "EMBEDDINGS_MODEL=ViT-B-32 EMBEDDINGS_PRETRAINED=none"),
    ],
)
def test_a_failed_weight_download_is_one_error_naming_the_settings_and_the_offline_option(
    unreachable_hub, caplog, model_name, pretrained, offline
):
    with pytest.raises(encoders.WeightsUnavailable) as error:
        encoders.load_encoder(model_name, pretrained, device="cpu")
    message = str(error.value)
    assert f"EMBEDDINGS_MODEL={model_name!r}" in message
    assert f"EMBEDDINGS_PRETRAINED={pretrained!r}" in message
    assert "EMBEDDINGS_WEIGHTS_PATH=''" in message
    assert "cannot be downloaded" in message and offline in message
    # One error: open_clip's own log line about the failed download is not repeated.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert unreachable_hub.HF_HUB_OFFLINE is False  # offline only for that load


def test_a_missing_weights_file_or_unknown_tag_or_model_is_a_clear_error():
    with pytest.raises(encoders.WeightsUnavailable, match="EMBEDDINGS_WEIGHTS_PATH='/nowhere/w.bin'"):
        encoders.load_encoder("fashionsite-tiny", "", "/nowhere/w.bin")
    with pytest.raises(encoders.WeightsUnavailable) as error:
        encoders.load_encoder("ViT-B-32", "laion2b_typo", device="cpu")
    assert "no pretrained tag 'laion2b_typo'" in str(error.value) and "laion2b_s34b_b79k" in str(error.value)
    assert "cannot be downloaded" not in str(error.value)  # not a network problem
    with pytest.raises(
        encoders.WeightsUnavailable, match="Unknown embedding model EMBEDDINGS_MODEL='ViT-Q-99'"
    ):
        encoders.load_encoder("ViT-Q-99", "none", device="cpu")


def test_a_local_weights_file_is_loaded(tmp_path):
    import torch

    random_model = encoders.load_encoder("fashionsite-tiny-32", "none", device="cpu")
    state = {name: torch.full_like(value, 0.01) for name, value in random_model.model.state_dict().items()}
    path = tmp_path / "tiny32.pt"
    torch.save(state, path)
    loaded = encoders.load_encoder("fashionsite-tiny-32", "", str(path), device="cpu")
    assert loaded is not random_model and loaded.dimension == 32
    assert all(torch.equal(value, state[name]) for name, value in loaded.model.state_dict().items())


def test_device_selection_honours_the_override(settings):
    settings.EMBEDDINGS_DEVICE = "cpu"
    assert encoders.select_device() == "cpu"
    settings.EMBEDDINGS_DEVICE = "cuda:1"
    assert encoders.select_device() == "cuda:1"
    settings.EMBEDDINGS_DEVICE = ""
    import torch

    automatic = encoders.select_device()
    assert automatic in ("cuda", "mps", "cpu")
    assert describe_device()["device"] == automatic
    # A Celery prefork parent runs these: CUDA must stay uninitialised so forked children can use it.
    assert not torch.cuda.is_initialized()
    assert (automatic == "cuda") == torch.cuda.is_available()
    assert encoders.select_device("mps") == "mps"


def test_the_registry_caches_one_model_per_process_and_outputs_unit_float32():
    first = encoders.load_encoder("fashionsite-tiny", "none", device="cpu")
    assert encoders.load_encoder("fashionsite-tiny", "none", device="cpu") is first
    vectors = first.encode_texts(["red shirt", "blue jeans"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


@pytest.mark.django_db
def test_the_text_template_is_part_of_the_space_identity(tmp_path):
    from embeddings.services import product_text

    products = make_products(2)
    plain = ensure_space(name="plain", model_name="fashionsite-tiny", pretrained="none")
    rich = ensure_space(
        name="rich",
        model_name="fashionsite-tiny",
        pretrained="none",
        text_template="{title}, {colour} {article_type}",
    )
    assert plain.pk != rich.pk and plain.dimension == rich.dimension == 64
    assert ensure_space(name="plain-again", model_name="fashionsite-tiny", pretrained="none").pk == plain.pk
    assert product_text(products[0], rich.text_template) == "red shirt number 0, red Shirts"
    _embed_in_process(plain, products)
    _embed_in_process(rich, products)
    _, _, plain_titles = read_space_vectors(plain)
    _, _, rich_titles = read_space_vectors(rich)
    assert not np.allclose(plain_titles, rich_titles)  # same model, other text: other vectors
    out = tmp_path / "plain.npz"
    call_command("export_embeddings", "--space", "plain", str(out))
    ProductEmbedding.objects.filter(space=rich).delete()
    with pytest.raises(
        CommandError, match=r"text_template: file '\{title\}' vs space '\{title\}, \{colour\}"
    ):
        call_command("load_embeddings", "--space", "rich", str(out))
    assert not ProductEmbedding.objects.filter(space=rich).exists()
    with pytest.raises(ValueError, match=r"uses \{brand\}"):
        ensure_space(
            name="bad", model_name="fashionsite-tiny", pretrained="none", text_template="{brand} {title}"
        )


@pytest.mark.django_db
def test_export_to_an_npy_name_writes_an_npz_and_says_so(tmp_path, capsys):
    products = make_products(2)
    space = ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    _embed_in_process(space, products)
    call_command("export_embeddings", "--space", "tiny", str(tmp_path / "v.npy"))
    assert f"exported 2 products of space tiny to {tmp_path / 'v.npz'}" in capsys.readouterr().out
    assert (tmp_path / "v.npz").exists() and not (tmp_path / "v.npy").exists()
