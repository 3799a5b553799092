"""Survey queries: typed, uploaded (one image or a CSV + zip), sampled from the catalogue, removed."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q

from catalogue.models import Product
from fashionsite.uploads import DecodedImage, UploadRefused, decode_untrusted_image, open_zip, read_zip_entry
from surveys.models import Participant, Survey, SurveyQuery
from surveys.services.errors import QueryImportError, SurveyError


def _check_image_bytes(data: bytes, *, name: str) -> DecodedImage:
    """Refuse oversized files, non-images and decompression bombs before anything is stored."""
    try:
        return decode_untrusted_image(data, max_bytes=settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES, name=name)
    except UploadRefused as exc:
        raise SurveyError(str(exc)) from exc


def _next_query_position(survey: Survey) -> int:
    last = survey.queries.order_by("-position").values_list("position", flat=True).first()
    return 0 if last is None else last + 1


@transaction.atomic
def add_query(
    *,
    survey: Survey,
    text: str = "",
    image_bytes: bytes | None = None,
    image_name: str = "",
    source: str = SurveyQuery.Source.TYPED,
    source_product: Product | None = None,
    participant: Participant | None = None,
) -> SurveyQuery:
    """Add a query (text, an image, or both). Images are checked before they are stored."""
    text = (text or "").strip()
    if not text and not image_bytes:
        raise SurveyError("A query needs a text, an image, or both.")
    query = SurveyQuery(
        survey=survey,
        text=text[:500],
        source=source,
        source_product=source_product,
        source_catalog_id=source_product.catalog_id if source_product else "",
        participant=participant,
        position=_next_query_position(survey),
    )
    if image_bytes:
        name = PurePosixPath(image_name or "query.jpg").name
        decoded = _check_image_bytes(image_bytes, name=name)
        query.image_name = name[:255]
        # Stored under its content hash and decoded format, never the client's name or suffix.
        query.image.save(decoded.stored_name(f"{decoded.sha256[:2]}/"), ContentFile(image_bytes), save=False)
    query.save()
    return query


def _zip_members(zip_file) -> tuple[dict[str, zipfile.ZipInfo], zipfile.ZipFile]:
    """Image members of an uploaded zip by base name, after the catalogue importer's safety checks."""
    label = getattr(zip_file, "name", None) or "images zip"
    try:
        archive = open_zip(zip_file, label=label)
    except UploadRefused as exc:
        raise QueryImportError(str(exc)) from exc
    members = {PurePosixPath(info.filename).name: info for info in archive.infolist() if not info.is_dir()}
    return members, archive


@transaction.atomic
def import_queries_csv(*, survey: Survey, csv_file, zip_file=None) -> list[SurveyQuery]:
    """Add queries from a CSV with columns `text` and `image` (an image file name in the zip).

    All or nothing: the first bad line raises QueryImportError naming the file and line.
    """
    name = getattr(csv_file, "name", "queries.csv")
    raw = csv_file.read()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QueryImportError(f"{name}: not UTF-8 text.") from exc
    reader = csv.DictReader(io.StringIO(content))
    fields = {(field or "").strip().lower() for field in reader.fieldnames or []}
    if not fields & {"text", "image"}:
        raise QueryImportError(f"{name}: line 1 must be a header with a 'text' and/or an 'image' column.")
    members, archive = _zip_members(zip_file) if zip_file else ({}, None)
    created = []
    for row in reader:
        line = reader.line_num
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        text, image_name = row.get("text", ""), row.get("image", "")
        image_bytes = None
        if image_name:
            info = members.get(PurePosixPath(image_name).name)
            if info is None:
                raise QueryImportError(f"{name}, line {line}: image {image_name!r} is not in the zip.")
            try:
                image_bytes = read_zip_entry(archive, info)
            except UploadRefused as exc:
                raise QueryImportError(f"{name}, line {line}: {exc}") from exc
        if not text and not image_bytes:
            raise QueryImportError(f"{name}, line {line}: the row has neither text nor image.")
        try:
            created.append(
                add_query(
                    survey=survey,
                    text=text,
                    image_bytes=image_bytes,
                    image_name=image_name,
                    source=SurveyQuery.Source.CSV,
                )
            )
        except SurveyError as exc:
            raise QueryImportError(f"{name}, line {line}: {exc}") from exc
    if not created:
        raise QueryImportError(f"{name}: no query rows after the header.")
    return created


@transaction.atomic
def sample_catalogue_queries(
    *, survey: Survey, count: int, categories: list[str], use_title: bool = True, use_image: bool = True
) -> list[SurveyQuery]:
    """Sample `count` products of the chosen master categories or article types as queries.

    The product's title and/or image become the query; the product itself is left out of the
    results shown. Sampling is seeded by the survey's seed, so it is reproducible.
    """
    if not (use_title or use_image):
        raise SurveyError("Use the product's title, its image, or both as the query.")
    products = Product.objects.all()
    if categories:
        products = products.filter(Q(master_category__in=categories) | Q(article_type__in=categories))
    if use_image:
        products = products.exclude(image="")
    ids = list(products.order_by("id").values_list("id", flat=True))
    if not ids:
        raise SurveyError("No products match the chosen categories.")
    already = set(survey.queries.exclude(source_product=None).values_list("source_product_id", flat=True))
    ids = [pk for pk in ids if pk not in already]
    picked = random.Random(f"{survey.seed}:sample:{len(already)}").sample(ids, min(count, len(ids)))
    created = []
    for product in Product.objects.filter(id__in=picked).order_by("id"):
        image_bytes = None
        if use_image:
            with product.image.open("rb") as handle:
                image_bytes = handle.read()
        created.append(
            add_query(
                survey=survey,
                text=product.title if use_title else "",
                image_bytes=image_bytes,
                image_name=PurePosixPath(product.image.name).name if use_image else "",
                source=SurveyQuery.Source.CATALOGUE,
                source_product=product,
            )
        )
    return created


@transaction.atomic
def delete_query(*, query: SurveyQuery) -> None:
    """Remove a query that nobody has been assigned yet."""
    if query.assignments.exists():
        raise SurveyError("This query has been shown to participants and cannot be removed.")
    query.result_sets.all().delete()
    query.delete()
