"""Database routing for read replicas (DATABASE_REPLICA_URLS): search reads on a replica.

Reads of the models a search reads (product vectors and products) go to a randomly chosen replica;
every write, every other read and every migration goes to the primary ("default"). Inside a
transaction on the primary reads stay there too, so a request reads its own writes (a replica
lags its primary by the replication delay). With no replicas configured nothing changes.
"""

from __future__ import annotations

import random

from django.conf import settings
from django.db import connections

SEARCH_READ_MODELS = frozenset({"embeddings.productembedding", "search.product", "catalogue.product"})


def replica_aliases() -> list[str]:
    return list(getattr(settings, "DATABASE_REPLICA_ALIASES", []))


class SearchReplicaRouter:
    """Search reads to a replica, everything else to the primary."""

    def db_for_read(self, model, **hints):
        replicas = replica_aliases()
        if not replicas or model._meta.label_lower not in SEARCH_READ_MODELS:
            return None
        if connections["default"].in_atomic_block:
            return None
        return random.choice(replicas)  # noqa: S311 - load spreading, not security

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # replicas hold the primary's rows: objects from either relate freely

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # replicas receive the schema by streaming replication
