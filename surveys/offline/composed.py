"""Composed queries built from the catalogue's own attributes: an offline benchmark where weights matter.

A single-modality query (text only, image only) is scored with weight 1 for its modality by every
configuration (docs/search-scoring.md), so it cannot tell arms apart. A *composed* query has both:
a reference product's image plus a short text naming a change ("in red", "for women", "casual").

Three kinds, each with its rule (`RULES`, also stored on every generated query so a researcher can
read why a product counts as relevant). Grades: 2 = the named attribute(s) and the reference's usage
(for a usage change: the reference's colour), 1 = the named attribute(s) only; everything else is
not relevant (grade 0, left out of the qrels). The reference product is never relevant to itself
and is excluded from the ranking, as "similar products" does.

The generator is pure (product attribute rows in, queries out) and deterministic for a seed: the
products are sorted by id and every choice is drawn from `numpy.random.default_rng(seed)`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

COMPOSED, TEXT, IMAGE = "composed", "text", "image"
KINDS = (COMPOSED, TEXT, IMAGE)
CHANGE_FIELDS = ("base_colour", "gender", "season", "usage")

RULES = {
    COMPOSED: (
        "Reference product's image + a text naming one change (colour, gender, season or usage). "
        "Relevant: another product with the reference's article type and gender (the named gender for a "
        "gender change) that carries the named attribute. Grade 2 if it also has the reference's usage "
        "(for a usage change: the reference's colour), else 1."
    ),
    TEXT: (
        "Text only, '<colour> <usage> <article type> for <gender>'. Relevant: a product with that article "
        "type, gender and colour. Grade 2 if it also has the named usage, else 1."
    ),
    IMAGE: (
        "Image only: a reference product's image. Relevant: another product with the same article type "
        "and colour. Grade 2 if it also has the reference's usage, else 1."
    ),
}


@dataclass(frozen=True)
class ProductAttributes:
    id: int
    article_type: str
    gender: str
    base_colour: str
    season: str
    usage: str


@dataclass(frozen=True)
class ComposedQuery:
    """One generated query: what to search with, and the graded relevant products (product id → grade)."""

    qid: str
    kind: str
    reference_id: int | None  # the product whose image is the query image (None: text only)
    text: str  # the query text ("" for image-only queries)
    rule: str  # RULES[kind] with this query's values filled in
    change: tuple[str, str] | None  # (attribute, value) named by a composed query's text
    qrels: dict[int, int] = field(hash=False)


def change_text(attribute: str, value: str) -> str:
    """The short text of a change: "in red", "for women", "for summer", "casual"."""
    lowered = value.lower()
    if attribute == "base_colour":
        return f"in {lowered}"
    if attribute == "gender":
        return "unisex" if lowered == "unisex" else f"for {lowered}"
    if attribute == "season":
        return f"for {lowered}"
    return lowered


def _grade(product: ProductAttributes, reference_usage: str) -> int:
    return 2 if product.usage == reference_usage else 1


def composed_relevance(
    products: list[ProductAttributes], reference: ProductAttributes, attribute: str, value: str
) -> dict[int, int]:
    """The graded relevant set of a composed query (see RULES[COMPOSED])."""
    gender = value if attribute == "gender" else reference.gender
    relevant = {}
    for product in products:
        if product.id == reference.id or product.article_type != reference.article_type:
            continue
        if product.gender != gender or getattr(product, attribute) != value:
            continue
        if attribute == "usage":
            relevant[product.id] = 2 if product.base_colour == reference.base_colour else 1
        else:
            relevant[product.id] = _grade(product, reference.usage)
    return relevant


def text_relevance(
    products: list[ProductAttributes], *, article_type: str, gender: str, colour: str, usage: str
) -> dict[int, int]:
    """The graded relevant set of a text-only query (see RULES[TEXT])."""
    return {
        p.id: _grade(p, usage)
        for p in products
        if p.article_type == article_type and p.gender == gender and p.base_colour == colour
    }


def image_relevance(products: list[ProductAttributes], reference: ProductAttributes) -> dict[int, int]:
    """The graded relevant set of an image-only query (see RULES[IMAGE])."""
    return {
        p.id: _grade(p, reference.usage)
        for p in products
        if p.id != reference.id
        and p.article_type == reference.article_type
        and p.base_colour == reference.base_colour
    }


def _complete(product: ProductAttributes) -> bool:
    return all((product.article_type, product.gender, product.base_colour, product.season, product.usage))


def generate_queries(
    products: list[ProductAttributes], *, n_per_kind: int, seed: int, kinds=KINDS
) -> list[ComposedQuery]:
    """Up to n_per_kind queries of each kind, deterministic for (products, seed).

    Products with an empty attribute are never a reference. A composed query's change is drawn among
    the attributes whose other values exist within the reference's article type (so the change is
    real and the relevant set is not empty); a query with no relevant product is never produced.
    """
    products = sorted(products, key=lambda p: p.id)
    complete = [p for p in products if _complete(p)]
    rng = np.random.default_rng(seed)
    queries: list[ComposedQuery] = []
    for kind in kinds:
        order = rng.permutation(len(complete)) if complete else []
        made, seen = 0, set()
        for index in order:
            if made >= n_per_kind:
                break
            reference = complete[int(index)]
            query = _make(kind, products, reference, rng, made)
            if query is None or (query.text, query.reference_id) in seen:
                continue
            seen.add((query.text, query.reference_id))
            queries.append(query)
            made += 1
    return queries


def _make(kind, products, reference, rng, number) -> ComposedQuery | None:
    if kind == COMPOSED:
        return _composed(products, reference, rng, number)
    if kind == TEXT:
        text = (
            f"{reference.base_colour} {reference.usage} {reference.article_type} "
            f"for {reference.gender}".lower()
        )
        qrels = text_relevance(
            products,
            article_type=reference.article_type,
            gender=reference.gender,
            colour=reference.base_colour,
            usage=reference.usage,
        )
        rule = RULES[TEXT] + f" Here: {reference.article_type}, {reference.gender}, {reference.base_colour}."
        return ComposedQuery(f"{TEXT}-{number}", TEXT, None, text, rule, None, qrels) if qrels else None
    qrels = image_relevance(products, reference)
    if not qrels:
        return None
    rule = (
        RULES[IMAGE] + f" Here: {reference.article_type}, {reference.base_colour}, usage {reference.usage}."
    )
    return ComposedQuery(f"{IMAGE}-{number}", IMAGE, reference.id, "", rule, None, qrels)


def _composed(products, reference, rng, number) -> ComposedQuery | None:
    values = defaultdict(set)  # attribute → values other than the reference's, within its article type
    for product in products:
        if product.article_type != reference.article_type:
            continue
        for attribute in CHANGE_FIELDS:
            value = getattr(product, attribute)
            if value and value != getattr(reference, attribute):
                values[attribute].add(value)
    options = [(a, v) for a in CHANGE_FIELDS for v in sorted(values[a])]
    for pick in rng.permutation(len(options)) if options else []:
        attribute, value = options[int(pick)]
        qrels = composed_relevance(products, reference, attribute, value)
        if qrels:
            rule = RULES[COMPOSED] + (
                f" Here: {reference.article_type}, "
                f"{value if attribute == 'gender' else reference.gender}, {attribute} = {value}."
            )
            return ComposedQuery(
                f"{COMPOSED}-{number}",
                COMPOSED,
                reference.id,
                change_text(attribute, value),
                rule,
                (attribute, value),
                qrels,
            )
    return None
