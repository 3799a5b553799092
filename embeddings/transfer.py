"""Export and load a space's vectors, so a GPU box can compute and a CPU box can serve.

Formats: Parquet (columns catalog_id, image_vector, title_vector as float32 lists; the space identity
as JSON in the schema metadata under b"fashionsite.space") or .npz (arrays catalog_id, image, title,
has_image, and `space` holding the identity JSON). Loading checks identity and dimension first and
writes nothing unless the whole file matches.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding
from embeddings.services import upsert_vectors

META_KEY = b"fashionsite.space"


class EmbeddingFileError(ValueError):
    """The file cannot be loaded into this space; nothing was written."""


def _parse(text: str | None, dim: int) -> np.ndarray | None:
    if text is None:
        return None
    return np.array(text.strip("[]").split(","), dtype=np.float32).reshape(dim)


def read_space_vectors(space: EmbeddingSpace):
    """(catalog_ids, image matrix with NaN rows for no image, title matrix) of a space."""
    rows = list(
        ProductEmbedding.objects.filter(space=space)
        .order_by("product__catalog_id")
        .annotate(image_text=Cast("image_vector", TextField()), title_text=Cast("title_vector", TextField()))
        .values_list("product__catalog_id", "image_text", "title_text")
    )
    dim = space.dimension
    ids = [row[0] for row in rows]
    image = np.full((len(rows), dim), np.nan, dtype=np.float32)
    title = np.zeros((len(rows), dim), dtype=np.float32)
    for i, (_, image_text, title_text) in enumerate(rows):
        if image_text is not None:
            image[i] = _parse(image_text, dim)
        if title_text is not None:
            title[i] = _parse(title_text, dim)
    return ids, image, title


def export_space(space: EmbeddingSpace, path: str | Path) -> tuple[int, Path]:
    """Write the space's vectors to .parquet or .npz (a .npy name is written as .npz: several
    arrays and the identity need NumPy's archive format); returns (products, the file written)."""
    path = Path(path)
    if path.suffix not in (".parquet", ".npy", ".npz"):
        raise EmbeddingFileError(f"{path}: use a .parquet, .npy or .npz file name")
    target = path.with_suffix(".npz") if path.suffix == ".npy" else path
    ids, image, title = read_space_vectors(space)
    identity = json.dumps({"name": space.name, **space.identity()}, sort_keys=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        has_image = ~np.isnan(image).any(axis=1)
        table = pa.table(
            {
                "catalog_id": pa.array(ids, pa.string()),
                "image_vector": pa.array(
                    [row.tolist() if ok else None for row, ok in zip(image, has_image, strict=True)],
                    pa.list_(pa.float32()),
                ),
                "title_vector": pa.array([row.tolist() for row in title], pa.list_(pa.float32())),
            }
        )
        table = table.replace_schema_metadata({META_KEY: identity.encode()})
        pq.write_table(table, target)
    else:
        with open(target, "wb") as handle:
            np.savez(
                handle,
                catalog_id=np.array(ids, dtype=str),
                image=image,
                title=title,
                space=np.array(identity),
            )
    return len(ids), target


def _read(path: Path):
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = (table.schema.metadata or {}).get(META_KEY)
        if meta is None:
            raise EmbeddingFileError(f"{path}: no fashionsite space identity in the Parquet metadata")
        ids = table.column("catalog_id").to_pylist()
        image = [
            None if v is None else np.asarray(v, np.float32) for v in table.column("image_vector").to_pylist()
        ]
        title = [np.asarray(v, np.float32) for v in table.column("title_vector").to_pylist()]
        return json.loads(meta), ids, image, title
    if path.suffix in (".npy", ".npz"):
        data = np.load(path.with_suffix(".npz"), allow_pickle=False)
        if "space" not in data:
            raise EmbeddingFileError(f"{path}: no fashionsite space identity in the file")
        image = [None if np.isnan(row).any() else row for row in data["image"]]
        return (
            json.loads(str(data["space"])),
            [str(x) for x in data["catalog_id"]],
            image,
            list(data["title"]),
        )
    raise EmbeddingFileError(f"{path}: use a .parquet, .npy or .npz file")


def load_space(space: EmbeddingSpace, path: str | Path) -> int:
    """Load a file exported from a space with the same identity; all or nothing. Returns rows loaded."""
    path = Path(path)
    if not path.exists() and not path.with_suffix(".npz").exists():
        raise EmbeddingFileError(f"{path}: no such file")
    try:
        identity, ids, image, title = _read(path)
    except EmbeddingFileError:
        raise
    except Exception as error:  # noqa: BLE001 - any unreadable file gets one clear message
        raise EmbeddingFileError(f"{path}: cannot read embeddings file: {error}") from error
    expected = space.identity()
    found = {key: identity.get(key) for key in expected}
    if found != expected:
        diffs = ", ".join(
            f"{k}: file {found[k]!r} vs space {expected[k]!r}" for k in expected if found[k] != expected[k]
        )
        raise EmbeddingFileError(
            f"{path} was computed in another space than {space.name!r} ({diffs}); nothing loaded"
        )
    for i, vec in enumerate(title):
        if vec.shape != (space.dimension,) or (image[i] is not None and image[i].shape != (space.dimension,)):
            raise EmbeddingFileError(
                f"{path}: row {i + 1} ({ids[i]}) has dimension {vec.shape[-1]}, space {space.name!r} has "
                f"{space.dimension}; nothing loaded"
            )
    products = dict(Product.objects.filter(catalog_id__in=ids).values_list("catalog_id", "pk"))
    revisions = dict(Product.objects.filter(catalog_id__in=ids).values_list("catalog_id", "revision"))
    unknown = [cid for cid in ids if cid not in products]
    if unknown:
        raise EmbeddingFileError(
            f"{path}: {len(unknown)} catalog ids are not in the catalogue (first: {unknown[:5]}); nothing loaded"
        )
    rows = [(products[cid], revisions[cid], image[i], title[i]) for i, cid in enumerate(ids)]
    with transaction.atomic():
        upsert_vectors(space, rows)
    return len(rows)
