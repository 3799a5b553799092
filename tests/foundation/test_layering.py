"""The apps depend one way, catalogue <- embeddings <- search <- surveys, for imports, foreign keys
and migrations alike (docs/ARCHITECTURE.md). Imports are checked by import-linter with the contracts
in pyproject.toml (also: only embeddings imports torch/open_clip; fashionsite's helpers import no
app); foreign keys and migration dependencies by reading Django's own registries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.db.migrations.loader import MigrationLoader

REPO = Path(__file__).resolve().parents[2]
# An app may depend on the apps before it (fashionsite, Django's own and third-party apps: anything).
LAYERS = ["catalogue", "embeddings", "search", "surveys"]


def layer(app_label: str) -> int:
    return LAYERS.index(app_label) if app_label in LAYERS else -1


def test_import_linter_contracts_are_kept():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def upward(edges) -> list[str]:
    return [f"{child} -> {parent}" for child, parent in edges if layer(parent) > layer(child) >= 0]


def test_migrations_depend_one_way():
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    edges = [
        (f"{node.key[0]}", f"{parent.key[0]}")
        for node in graph.node_map.values()
        for parent in node.parents
        if node.key[0] != parent.key[0]
    ]
    assert any(child == "embeddings" and parent == "catalogue" for child, parent in edges)
    assert upward(edges) == []


def test_foreign_keys_point_one_way():
    edges = [
        (model._meta.app_label, field.related_model._meta.app_label)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if field.is_relation and field.concrete and field.related_model is not None
    ]
    assert ("embeddings", "catalogue") in edges
    assert upward(edges) == []


@pytest.mark.parametrize("app_label", LAYERS)
def test_the_rank_rule_itself_tells_up_from_down(app_label):
    # Guards the helper above: a dependency on a later app is upward, on an earlier one is not.
    later = LAYERS[LAYERS.index(app_label) + 1 :]
    assert all(upward([(app_label, other)]) for other in later)
    assert upward([(app_label, "catalogue"), (app_label, "auth")]) == []
