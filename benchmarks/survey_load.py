"""Survey load: concurrent simulated participants against a real gunicorn server over loopback.

    .venv/bin/python benchmarks/survey_load.py [--participants 50] [--seconds 20] [--workers 2] [--client-processes 5]

Sets up a fresh database (FASHIONSITE_DB_NAME=bench_survey under var/bench-survey), a small
catalogue with random unit vectors in its own space, and an open 6-query × 3-configuration
survey whose result sets are computed when it opens. Then starts gunicorn on 127.0.0.1 and runs
simulated participants, each in its own HTTP session following the real pages:
open link → consent → task page → submit answers → next task … → thank-you → a new participant.
One submit in ten is sent twice (a replayed request) to check that nothing is stored twice.

Measures submissions per second and p50/p95 latency of the submit POST (and of task pages),
first with one participant (the baseline, same server) then with N concurrent ones spread over a
few client processes, and checks
that every acknowledged submission is in the database exactly once (zero lost, zero duplicated).
Writes benchmarks/results/survey_load.json.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("FASHIONSITE_DATA_DIR", "var/bench-survey")
os.environ["FASHIONSITE_DB_NAME"] = os.environ.get("BENCH_DB_NAME", "bench_survey")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
# Every simulated participant comes from 127.0.0.1: lift the per-address open-link limit.
os.environ["SURVEY_JOINS_PER_HOUR"] = "0"

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TASK = re.compile(r"/surveys/i/[^/]+/task/[0-9a-f-]+/")
RADIO = re.compile(r'type="radio" name="(q\d+)" value="([^"]+)"')


def fresh_database() -> None:
    """Drop and recreate the benchmark database, so every run starts empty."""
    import psycopg
    from psycopg import sql

    from fashionsite import embedded
    from fashionsite.env import env_path

    data_dir = env_path("FASHIONSITE_DATA_DIR", REPO / "var", base=REPO)
    params = embedded.ensure_postgres(data_dir, "postgres")
    name = os.environ["FASHIONSITE_DB_NAME"]
    with psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def setup_world(products: int = 300, dimension: int = 64) -> str:
    """Migrate, create a small catalogue and open a 6 × 3 survey; returns its slug.

    Product vectors are random unit vectors in their own space (the load test measures the
    survey pages, not retrieval quality); queries are sampled catalogue products, searched with
    their stored vectors, exact, when the survey opens.
    """
    import io

    import django

    django.setup()
    import numpy as np
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from PIL import Image

    call_command("migrate", verbosity=0)
    from catalogue.models import Product
    from embeddings.models import EmbeddingSpace, ProductEmbedding
    from search.services import create_weight_config
    from surveys import services

    rng = np.random.default_rng(0)
    EmbeddingSpace.objects.filter(is_active=True).update(is_active=False)
    space = EmbeddingSpace.objects.create(
        name="bench-survey", model_name="bench-survey-random-vectors", pretrained="none",
        dimension=dimension, is_active=True,
    )  # fmt: skip
    rows = []
    for i in range(products):
        buffer = io.BytesIO()
        Image.new("RGB", (60, 80), tuple(int(v) for v in rng.integers(0, 255, 3))).save(buffer, "JPEG")
        product = Product(catalog_id=f"bench-{i}", master_category="Apparel", title=f"Bench product {i}")
        product.image.save(f"bench/{i}.jpg", ContentFile(buffer.getvalue()), save=False)
        rows.append(product)
    Product.objects.bulk_create(rows)
    vectors = rng.normal(size=(products, 2, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    ProductEmbedding.objects.bulk_create(
        ProductEmbedding(product=p, space=space, image_vector=vectors[i, 0], title_vector=vectors[i, 1],
                         product_revision=p.revision)
        for i, p in enumerate(rows)
    )  # fmt: skip
    configs = [
        create_weight_config(name=f"bench-{text}", stage2_text=text, stage2_image=round(1 - text, 2))
        for text in (0.9, 0.5, 0.1)
    ]
    survey = services.create_survey(
        title="Load test", slug="load-test", weight_configs=configs, results_per_task=12, exact=True,
        target_ratings_per_cell=1000, seed=1,
    )  # fmt: skip
    services.sample_catalogue_queries(survey=survey, count=6, categories=[])
    services.open_survey(survey=survey)
    return survey.slug


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    log = open(REPO / os.environ["FASHIONSITE_DATA_DIR"] / "gunicorn.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "fashionsite.wsgi",
            "-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
            "--access-logfile", "-", "--log-level", "warning",
        ],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )  # fmt: skip
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited; see gunicorn.log in the data dir")
        try:
            httpx.get(f"http://127.0.0.1:{port}/surveys/s/none/", timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer within 120 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.submit_ms: list[float] = []
        self.page_ms: list[float] = []
        self.acked: set[str] = set()
        self.replays = 0
        self.errors: list[str] = []
        self.participants = 0


def participant_loop(base: str, slug: str, deadline: float, stats: Stats, seed: int, think: float) -> None:
    """Simulated participants one after another until the deadline, each in a fresh session."""
    import httpx

    rng = random.Random(seed)
    while time.monotonic() < deadline:
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
            try:
                page = client.get(f"/surveys/s/{slug}/")
                token = CSRF.search(page.text).group(1)
                response = client.post(
                    f"/surveys/s/{slug}/", data={"csrfmiddlewaretoken": token, "consent": "on"}
                )
                if response.status_code != 302:
                    raise RuntimeError(f"consent answered {response.status_code}")
                invite = response.headers["location"]
                with stats.lock:
                    stats.participants += 1
                location = client.get(invite).headers.get("location", "")
                while time.monotonic() < deadline and TASK.search(location):
                    started = time.perf_counter()
                    task = client.get(location)
                    page_ms = (time.perf_counter() - started) * 1000
                    answers = {"csrfmiddlewaretoken": CSRF.search(task.text).group(1)}
                    choices: dict[str, list[str]] = {}
                    for name, value in RADIO.findall(task.text):
                        choices.setdefault(name, []).append(value)
                    answers.update({name: rng.choice(values) for name, values in choices.items()})
                    if think:
                        time.sleep(rng.uniform(0.5, 1.5) * think)  # reading the task, choosing answers
                    started = time.perf_counter()
                    response = client.post(location, data=answers)
                    submit_ms = (time.perf_counter() - started) * 1000
                    if response.status_code != 303:
                        raise RuntimeError(f"submit answered {response.status_code}")
                    with stats.lock:
                        stats.page_ms.append(page_ms)
                        stats.submit_ms.append(submit_ms)
                        stats.acked.add(location.rstrip("/").rsplit("/", 1)[-1])
                    if rng.random() < 0.1:  # a replayed request must store nothing
                        replay = client.post(location, data=answers)
                        if replay.status_code not in (302, 303):
                            raise RuntimeError(f"replay answered {replay.status_code}")
                        with stats.lock:
                            stats.replays += 1
                    location = response.headers.get("location", "")  # the next task, or the invite page
            except Exception as exc:  # noqa: BLE001 - reported, and the count check still runs
                with stats.lock:
                    stats.errors.append(repr(exc))


def client_process(base: str, slug: str, seconds: float, think: float, seeds: list[int]) -> dict:
    """One load-client process: a thread per simulated participant; returns what it measured."""
    stats = Stats()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=participant_loop, args=(base, slug, deadline, stats, seed, think), daemon=True
        )
        for seed in seeds
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "submit_ms": stats.submit_ms,
        "page_ms": stats.page_ms,
        "acked": sorted(stats.acked),
        "replays": stats.replays,
        "errors": stats.errors,
        "participants": stats.participants,
    }


def run_phase(
    base: str, slug: str, participants: int, seconds: float, think: float, processes: int
) -> tuple[Stats, float]:
    """`participants` simulated participants spread over `processes` client processes.

    Several processes rather than one: with every participant a thread of one Python process, a
    response that has arrived waits for that process's GIL before it is timed, and the measured
    latency would include the load generator's own queueing (real participants share no GIL).
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    processes = max(1, min(processes, participants))
    groups = [list(range(index, participants, processes)) for index in range(processes)]
    stats = Stats()
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(client_process, base, slug, seconds, think, seeds) for seeds in groups]
        for future in futures:
            part = future.result()
            stats.submit_ms += part["submit_ms"]
            stats.page_ms += part["page_ms"]
            stats.acked.update(part["acked"])
            stats.replays += part["replays"]
            stats.errors += part["errors"]
            stats.participants += part["participants"]
    return stats, time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--client-processes",
        type=int,
        default=5,
        help="load-client processes the participants are spread over",
    )
    parser.add_argument(
        "--think-seconds",
        type=float,
        default=1.0,
        help="mean pause per task before submitting (people take far longer; 0 = saturation)",
    )
    args = parser.parse_args()

    fresh_database()
    slug = setup_world()
    port = free_port()
    server = start_server(port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}"
    from django.db import connections

    connections.close_all()  # the client processes are forked: they must not share a DB connection
    clients = args.client_processes
    try:
        baseline, _ = run_phase(base, slug, 1, args.baseline_seconds, 0.0, 1)
        load, elapsed = run_phase(base, slug, args.participants, args.seconds, args.think_seconds, clients)
        saturation, saturation_elapsed = run_phase(base, slug, args.participants, args.seconds, 0.0, clients)
    finally:
        stop_server(server)

    from surveys.models import Rating

    acked = baseline.acked | load.acked | saturation.acked
    stored = list(
        Rating.objects.filter(assignment__participant__survey__slug=slug).values_list(
            "assignment__public_id", flat=True
        )
    )
    stored_ids = {str(value) for value in stored}
    lost = len(acked - stored_ids)
    duplicated = len(stored) - len(stored_ids)
    unacknowledged_rows = len(stored_ids - acked)  # stored but the client saw an error (not lost)

    metrics = {
        "participants_concurrent": args.participants,
        "seconds": round(elapsed, 2),
        "participants_started": load.participants,
        "submissions": len(load.submit_ms),
        "submissions_per_s": round(len(load.submit_ms) / elapsed, 2),
        "submit_p50_ms": round(percentile(load.submit_ms, 50), 1),
        "submit_p95_ms": round(percentile(load.submit_ms, 95), 1),
        "task_page_p50_ms": round(percentile(load.page_ms, 50), 1),
        "task_page_p95_ms": round(percentile(load.page_ms, 95), 1),
        "baseline_submit_p95_ms": round(percentile(baseline.submit_ms, 95), 1),
        "submit_p95_ratio_vs_single_participant": round(
            percentile(load.submit_ms, 95) / percentile(baseline.submit_ms, 95), 2
        ),
        "think_seconds": args.think_seconds,
        "saturation_submissions_per_s": round(len(saturation.submit_ms) / saturation_elapsed, 2),
        "saturation_submit_p50_ms": round(percentile(saturation.submit_ms, 50), 1),
        "saturation_submit_p95_ms": round(percentile(saturation.submit_ms, 95), 1),
        "replayed_submits": baseline.replays + load.replays + saturation.replays,
        "acknowledged": len(acked),
        "stored_ratings": len(stored),
        "lost": lost,
        "duplicated": duplicated,
        "stored_unacknowledged": unacknowledged_rows,
        "client_errors": len(baseline.errors) + len(load.errors) + len(saturation.errors),
    }
    targets = {"submit_p95_ms": "<= 200", "lost": "== 0", "duplicated": "== 0"}
    from benchmarks.common import print_table, write_results

    print_table([(name, value, targets.get(name)) for name, value in metrics.items()])
    for error in (baseline.errors + load.errors + saturation.errors)[:5]:
        print("client error:", error)
    notes = (
        f"gunicorn gthread {args.workers} workers × {args.threads} threads on 127.0.0.1, fresh database "
        f"{os.environ['FASHIONSITE_DB_NAME']}; load clients: {clients} processes with a thread per participant; "
        "6 queries × 3 configurations, result sets computed at open; "
        "latency of the submit POST measured client-side (httpx); 10% of submits replayed. Main phase: "
        f"{args.participants} participants pausing ~{args.think_seconds} s per task; saturation phase: the same "
        "participants with no pause at all (the load clients share the machine's cores with the server)."
    )
    path = write_results("survey_load", metrics, targets, notes=notes)
    print(f"wrote {path}")
    if lost or duplicated:
        sys.exit(1)


if __name__ == "__main__":
    main()
