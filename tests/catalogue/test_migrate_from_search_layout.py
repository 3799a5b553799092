"""A database made by the layout before the catalogue app (commit 497edac, catalogue inside `search`)
migrates forward with every row kept, and the catalogue admins keep their permission.

The old tree is checked out with `git archive` into a temp dir; its own `manage.py migrate` builds a
fresh database on the test server and its ORM writes rows into every app. Then this checkout's
`migrate` runs on that database. Slow lane (`-m slow`): several Django processes on two trees.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
OLD_LAYOUT = "497edac"

pytestmark = pytest.mark.slow

# Runs inside the old tree (`manage.py shell`): the models still live in `search`.
WRITE_OLD_ROWS = """
import numpy as np
from django.contrib.auth.models import Group, User
from embeddings.models import EmbeddingFailure, EmbeddingSpace, ProductEmbedding
from search.models import CatalogUpload, Product, SearchResult, SearchRun, WeightConfig

admin = User.objects.create_user("old-admin", password="pw-old-1", is_staff=True)
admin.groups.add(Group.objects.get(name="Catalogue admins"))
products = [
    Product.objects.create(catalog_id=f"old-{i}", title=f"Old product {i}", gender="Men", year=2012,
                           image=f"products/old-{i}.jpg", image_sha256="ab" * 32, revision=i + 1)
    for i in range(3)
]
CatalogUpload.objects.create(original_name="old.zip", uploader=admin, status="imported",
                             plan_summary={"counts": {"created": 3}, "embedded_product_ids": [p.pk for p in products]})
space = EmbeddingSpace.objects.create(name="old-space", model_name="old-model", pretrained="none",
                                      dimension=4, is_active=True)
for product in products[:2]:
    ProductEmbedding.objects.create(product=product, space=space, image_vector=np.ones(4, dtype=np.float32) / 2,
                                    title_vector=np.ones(4, dtype=np.float32) / 2, product_revision=product.revision)
EmbeddingFailure.objects.create(product=products[2], space=space, product_revision=3, reason="old failure")
run = SearchRun.objects.create(query_text="old", space=space, config=WeightConfig.objects.first(),
                               ef_search=400, k1=100, k=10, similar_to=products[0])
SearchResult.objects.create(run=run, rank=1, product=products[1], catalog_id=products[1].catalog_id,
                            title=products[1].title, stage1_score=0.5, stage1_rank=1, stage2_score=0.5)
"""

# Runs in this checkout after the migration: the same rows through the new models.
READ_NEW_ROWS = """
from django.contrib.auth.models import User
from catalogue.models import CatalogUpload, Product
from embeddings.models import ProductEmbedding
from search.models import SearchRun

admin = User.objects.get(username="old-admin")
print("perm", admin.has_perm("catalogue.manage_catalog"))
print("products", sorted(Product.objects.values_list("catalog_id", "revision")))
print("uploads", list(CatalogUpload.objects.values_list("original_name", "uploader__username")))
print("embeddings", ProductEmbedding.objects.filter(product__catalog_id__startswith="old-").count())
print("vector row attributes", sorted(ProductEmbedding.objects.values_list("gender", "year").distinct()))
print("similar", SearchRun.objects.get(query_text="old").similar_to.catalog_id)
"""


def database_url(name: str) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    host = quote(str(db["HOST"]), safe="") if str(db["HOST"]).startswith("/") else db["HOST"]
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'])}{password}@{host}:{db['PORT']}/{name}"


def server_connection(url: str):
    return psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def run(args, *, cwd: Path, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{' '.join(args)} in {cwd}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def table_digests(url: str, *, up_to: dict[str, int] | None = None) -> dict[str, tuple[int, str]]:
    """(row count, md5 of the rows in order) of every table in the public schema; `up_to` limits a
    table to its rows with id <= N (rows that existed before, when later migrations add rows)."""
    with psycopg.connect(url) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        digest = sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t"
        )
        limited = sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t "
            "WHERE id <= %s"
        )
        up_to = up_to or {}
        return {
            table: (
                connection.execute(limited.format(sql.Identifier(table)), [up_to[table]])
                if table in up_to
                else connection.execute(digest.format(sql.Identifier(table)))
            ).fetchone()
            for table in tables
        }


def permission_rows(url: str) -> set[tuple]:
    with psycopg.connect(url) as connection:
        return set(connection.execute("SELECT id, content_type_id, codename, name FROM auth_permission"))


@pytest.fixture
def scratch_database():
    """An empty database on the test server, dropped afterwards."""
    name = f"migrate_{uuid.uuid4().hex[:12]}"
    url = database_url(name)
    with server_connection(url) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield url
    with server_connection(url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def old_tree(tmp_path) -> Path:
    archive = subprocess.run(["git", "archive", OLD_LAYOUT], cwd=REPO, capture_output=True, check=True).stdout
    target = tmp_path / "old"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def test_a_database_of_the_search_layout_migrates_forward_with_every_row(
    tmp_path, scratch_database, old_tree
):
    env = {
        **os.environ,
        "DATABASE_URL": scratch_database,
        "REDIS_URL": "redis://127.0.0.1:9/0",  # nothing here talks to Redis
        "FASHIONSITE_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": "",
    }
    run(["migrate", "--no-input"], cwd=old_tree, env=env)
    run(["shell", "-c", WRITE_OLD_ROWS], cwd=old_tree, env=env)
    before = table_digests(scratch_database)
    permissions_before = permission_rows(scratch_database)

    with psycopg.connect(scratch_database) as connection:
        last_permission = connection.execute("SELECT max(id) FROM auth_permission").fetchone()[0]
    run(["migrate", "--no-input"], cwd=REPO, env=env)
    run(["migrate", "--check"], cwd=REPO, env=env)  # nothing left unapplied
    after = table_digests(scratch_database, up_to={"auth_permission": last_permission})

    # Every table keeps every row, byte for byte; only the migration history and the content types
    # (search.product -> catalogue.product, same ids) change. Models added since (e.g. embeddings'
    # TrainingRun) bring new tables, content types and permissions, and nothing else.
    changed = {"django_migrations", "django_content_type"}
    # Later features may grow some tables: new permissions and the Researchers group's grants
    # (issue 18), new survey, arm and result-set columns (issues 13, 15, 18). Those keep at least
    # their rows; new tables (django-axes)
    # start empty; every other table is identical.
    grown = {
        "auth_permission",
        "auth_group_permissions",
        "surveys_survey",
        "surveys_surveyconfig",
        "surveys_resultset",
        "surveys_surveyquery",
        "search_weightconfig",  # issue 17: seeded configs nothing cites take per-kind ef_search
        "embeddings_embeddingspace",  # issue 17: vector storage per space
        "embeddings_productembedding",  # issue 17: the products' filter attributes on their vector rows
    }
    assert {t: d for t, d in after.items() if t in before and t not in changed | grown} == {
        t: d for t, d in before.items() if t not in changed | grown
    }
    assert all(after[t][0] >= before[t][0] for t in grown if t in before)
    assert all(after[t][0] == 0 for t in set(after) - set(before) - changed)
    assert after["django_content_type"][0] >= before["django_content_type"][0]
    assert permissions_before <= permission_rows(scratch_database)
    with psycopg.connect(scratch_database) as connection:
        labels = connection.execute(
            "SELECT app_label FROM django_content_type WHERE model IN ('product', 'catalogupload')"
        ).fetchall()
    assert sorted(labels) == [("catalogue",), ("catalogue",)]

    output = run(["shell", "-c", READ_NEW_ROWS], cwd=REPO, env=env)
    assert "perm True" in output
    assert "products [('old-0', 1), ('old-1', 2), ('old-2', 3)]" in output
    assert "uploads [('old.zip', 'old-admin')]" in output
    assert "embeddings 2" in output
    assert "vector row attributes [('Men', 2012)]" in output  # backfilled by embeddings 0006
    assert "similar old-0" in output
