"""Web processes encode queries with a bounded number of torch threads; other processes keep all cores.

Two web workers each running torch on every core oversubscribe the CPU: on the shared 2-core
machine a text query took 7.0 s instead of 0.71 s (issue 17). Each web process therefore sets
torch's intra-op threads to FASHIONSITE_TORCH_THREADS (default: cores / web workers) when it
loads its encoder; the Celery worker, which embeds batches, keeps torch's default (every core).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Each test starts a Python process that sets Django up: the integration lane.
pytestmark = pytest.mark.integration

ENCODE_AND_REPORT = (
    "from embeddings.encoders import load_encoder; import torch; "
    "load_encoder('fashionsite-tiny', 'none').encode_texts(['blue jeans']); "
    "print('threads', torch.get_num_threads())"
)


def run_python(code: str, **env) -> str:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "fashionsite.settings", "WARM_MODELS": "0"}
    # The test session runs its libraries on one thread (pyproject.toml's pytest env); these
    # processes must see the machine's default, as a deployed process does.
    for name in (
        "FASHIONSITE_TORCH_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OMP_WAIT_POLICY",
    ):
        environment.pop(name, None)
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def torch_default() -> int:
    return int(run_python("import torch; print('threads', torch.get_num_threads())").split()[1])


def test_a_web_process_encodes_with_the_configured_number_of_torch_threads(torch_default):
    wanted = 1 if torch_default > 1 else 2
    line = run_python("import fashionsite.asgi; " + ENCODE_AND_REPORT, FASHIONSITE_TORCH_THREADS=str(wanted))
    assert line == f"threads {wanted}"


def test_a_web_process_lets_idle_openmp_threads_sleep_unless_told_otherwise():
    """OMP_WAIT_POLICY=PASSIVE: a thread done with its share of a query sleeps instead of spinning on
    a core the other web worker or PostgreSQL needs; a deployment's own setting is kept."""
    report = "import fashionsite.asgi, os; print('policy', os.environ.get('OMP_WAIT_POLICY'))"
    assert run_python(report, FASHIONSITE_TORCH_THREADS="2") == "policy PASSIVE"
    assert run_python(report, OMP_WAIT_POLICY="ACTIVE") == "policy ACTIVE"
    worker = "import django, os; django.setup(); print('policy', os.environ.get('OMP_WAIT_POLICY'))"
    assert run_python(worker) == "policy None"


def test_a_web_process_defaults_to_its_share_of_the_cores(torch_default):
    cores = len(os.sched_getaffinity(0))
    line = run_python("import fashionsite.asgi; " + ENCODE_AND_REPORT, WEB_CONCURRENCY=str(cores))
    assert line == "threads 1"


def test_a_process_that_is_not_a_web_process_keeps_every_core(torch_default):
    line = run_python("import django; django.setup(); " + ENCODE_AND_REPORT, FASHIONSITE_TORCH_THREADS="1")
    assert line == f"threads {torch_default}"


def test_a_bad_thread_count_stops_the_web_process_naming_the_setting():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "fashionsite.settings", "WARM_MODELS": "0"}
    environment["FASHIONSITE_TORCH_THREADS"] = "0"
    result = subprocess.run(
        [sys.executable, "-c", "import fashionsite.asgi"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "FASHIONSITE_TORCH_THREADS" in result.stderr
