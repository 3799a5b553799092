"""What the catalogue tells other apps, without importing them.

`products_changed` is sent after the transaction that created or changed products (anything an
embedding is computed from: title, attributes, image) commits. The product rows already say what
changed (their `revision` moved), so a receiver may also ignore the ids and look for stale rows
itself: the embeddings app queues one batched sweep of every product whose vectors are older than
its revision (embeddings/apps.py), and sweeps periodically, so a lost signal costs only time.
"""

from django.db import transaction
from django.dispatch import Signal

products_changed = Signal()  # kwargs: product_ids (sorted list of Product primary keys)


def announce_changed_products(product_ids) -> None:
    """Send `products_changed` once the current transaction commits (at once outside one).

    Robust: a failing receiver (broker down) is logged, and the write that changed the products
    stands; the periodic sweep picks them up later.
    """
    ids = sorted({int(pk) for pk in product_ids})
    if not ids:
        return
    transaction.on_commit(lambda: products_changed.send(sender=None, product_ids=ids), robust=True)
