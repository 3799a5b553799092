"""Settings from the environment: real servers when the URLs are set, typed values, safe defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import REPO

# Each test starts Python processes that set Django up: the integration lane.
pytestmark = pytest.mark.integration

PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'db': s.DATABASES['default']['NAME'], "
    "'embedded': [s.EMBEDDED_POSTGRES, s.EMBEDDED_REDIS], 'key': s.SECRET_KEY}))"
)


def run_settings(data_dir: Path, **env) -> subprocess.CompletedProcess:
    unset = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(FASHIONSITE_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="fashionsite.settings")
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=REPO, env=environment, capture_output=True, text=True
    )


def server_urls() -> dict:
    """DATABASE_URL and REDIS_URL of the servers this test session already runs."""
    db = connection.settings_dict
    return {
        "DATABASE_URL": f"postgres://postgres@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
    }


@pytest.mark.django_db
def test_with_database_url_and_redis_url_set_nothing_embedded_is_started(tmp_path):
    result = run_settings(tmp_path, **server_urls())
    assert result.returncode == 0, result.stderr
    assert '"embedded": [false, false]' in result.stdout
    assert f'"db": "{connection.settings_dict["NAME"]}"' in result.stdout
    assert not (tmp_path / "postgres").exists()
    assert not (tmp_path / "redis").exists()


@pytest.mark.django_db
def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path):
    result = run_settings(tmp_path, FASHIONSITE_MAX_UPLOAD_BYTES="two hundred megabytes", **server_urls())
    assert result.returncode != 0
    assert "FASHIONSITE_MAX_UPLOAD_BYTES='two hundred megabytes' is not a whole number" in result.stderr


@pytest.mark.django_db
def test_debug_is_off_unless_set_and_the_secret_key_is_generated_once_and_kept(tmp_path):

    urls = server_urls()
    first = run_settings(tmp_path, **urls)
    second = run_settings(tmp_path, **urls)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    first_values, second_values = json.loads(first.stdout), json.loads(second.stdout)
    assert first_values["debug"] is False
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first_values["key"] == second_values["key"]
    assert len(first_values["key"]) >= 50
    assert key_file.stat().st_mode & 0o077 == 0, "the secret key file is readable by others"
    debug = run_settings(tmp_path, DEBUG="yes", **urls)
    assert json.loads(debug.stdout)["debug"] is True


def processes_naming(path: Path) -> list[str]:
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def test_importing_settings_with_no_urls_starts_no_server(tmp_path):
    result = run_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["embedded"] == [True, True]
    assert values["db"] == "fashionsite"
    assert not (tmp_path / "postgres").exists()
    assert not (tmp_path / "redis").exists()
    assert processes_naming(tmp_path) == []


def test_the_offline_demo_model_is_the_default_setting(tmp_path):
    code = "import django; django.setup(); from django.conf import settings as s; print(s.EMBEDDINGS_MODEL, s.EMBEDDINGS_PRETRAINED)"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDDINGS_")}
    environment.update(FASHIONSITE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="fashionsite.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True
    )
    assert result.stdout.split() == ["ViT-B-32", "none"], result.stderr
    environment["EMBEDDINGS_MODEL"] = "hf-hub:Marqo/marqo-fashionSigLIP"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True
    )
    assert result.stdout.split() == ["hf-hub:Marqo/marqo-fashionSigLIP"], result.stderr


PRINT_REPLICA = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "r = s.DATABASES['replica1']; "
    "print(json.dumps({'age': r['CONN_MAX_AGE'], 'checks': r['CONN_HEALTH_CHECKS'], "
    "'engine': r['ENGINE'], 'pool': r.get('OPTIONS', {}).get('pool')}))"
)


@pytest.mark.parametrize("pool_size", ["", "3"])
def test_replica_connections_follow_the_primarys_rules(tmp_path, pool_size):
    """A replica connection kept for a minute by an ASGI request thread that is gone would never be
    reused nor closed (the leak the primary had): replicas keep DB_CONN_MAX_AGE (0) and, in the web
    workers, the same pool as the primary."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DB_POOL_SIZE", "DB_CONN_MAX_AGE")}
    environment.update(
        FASHIONSITE_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="fashionsite.settings",
        DATABASE_URL="postgres://app@primary.example/shop",
        DATABASE_REPLICA_URLS="postgres://app@replica.example/shop",
        DB_POOL_SIZE=pool_size,
    )
    result = subprocess.run(
        [sys.executable, "-c", PRINT_REPLICA], cwd=REPO, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    replica = json.loads(result.stdout)
    assert replica["age"] == 0 and replica["checks"] is True
    if pool_size:
        assert replica["engine"] == "fashionsite.postgres_pool"
        assert replica["pool"]["max_size"] == 3
    else:
        assert replica["engine"] == "django.db.backends.postgresql" and replica["pool"] is None
