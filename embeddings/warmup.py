"""Warm query encoders: web workers load the active space's model before they serve, and
readiness reports whether it is loaded in this process."""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError

from embeddings.models import EmbeddingSpace

logger = logging.getLogger("fashionsite.embeddings")


def warm_query_encoder() -> float | None:
    """Load the active space's encoder and run one text and one image query through it (first
    calls allocate); returns the seconds it took, or None when there is nothing to load yet (no
    space, database away: the first search then loads it)."""
    from PIL import Image

    from embeddings.services import encode_query

    started = time.perf_counter()
    try:
        space = EmbeddingSpace.objects.filter(is_active=True).first()
    except DatabaseError as error:
        logger.warning("query encoder not warmed: database unavailable (%s)", error)
        return None
    if space is None:
        return None
    try:
        encode_query(space, text="warm up", image=Image.new("RGB", (64, 64)))
    except Exception:  # noqa: BLE001 - serve anyway; /readyz says the encoder is not loaded
        logger.exception("query encoder of space %s could not be loaded", space.name)
        return None
    seconds = time.perf_counter() - started
    logger.info("query encoder of space %s loaded in %.1f s", space.name, seconds)
    return seconds


def query_encoder_loaded() -> tuple[bool, str]:
    """(loaded, what) for the active space's encoder in this process."""
    from embeddings.encoders import is_loaded

    space = EmbeddingSpace.objects.filter(is_active=True).first()
    if space is None:
        return True, "no active embedding space yet"
    if is_loaded(space.model_name, space.pretrained, space.weights_path):
        return True, f"{space.model_name} loaded"
    return False, f"{space.model_name} not loaded in this process"
