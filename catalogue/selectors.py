"""Reads of the catalogue: the values each product attribute takes."""

from __future__ import annotations

from catalogue.models import ATTRIBUTE_FIELDS, Product


def attribute_values(fields=ATTRIBUTE_FIELDS) -> dict[str, list[str]]:
    """The values each attribute takes in the catalogue (non-empty, each once, sorted)."""
    return {
        field: list(
            Product.objects.exclude(**{field: ""}).order_by(field).values_list(field, flat=True).distinct()
        )
        for field in fields
    }
