"""Survey load: concurrent simulated participants against the real web server over loopback.

    .venv/bin/python benchmarks/survey_load.py [--participants 50] [--seconds 20] [--runs 3] [--workers 2]
        [--client-processes 5] [--think-seconds 1 10] [--server onehop|stock|gthread]

Sets up a fresh database (FASHIONSITE_DB_NAME=bench_survey under var/bench-survey), a small
catalogue with random unit vectors in its own space, and an open 6-query × 3-configuration
survey whose result sets are computed when it opens. Then starts the web server `manage.py up`
runs (gunicorn with uvicorn workers serving fashionsite/asgi_handler.py; `--server` picks an
alternative for an A/B, written to survey_load_<server>.json) on 127.0.0.1 and runs simulated
participants (one keep-alive HTTP connection each, benchmarks/keepalive_client.py), each in its
own HTTP session following the real pages: open link → consent → task page → submit answers → next task … → thank-you → a new participant.
One submit in ten is sent twice (a replayed request) to check that nothing is stored twice.

Measures submissions per second and p50/p95 latency of the submit POST (and of task pages),
first with one participant (the baseline, same server) then with N concurrent ones spread over a
few client processes, `--runs` times (the spread of p95 over runs is the figure to quote on a
shared machine), with the CPU seconds the web server, PostgreSQL and the load clients each used
and the PostgreSQL connections opened, and checks that every acknowledged submission is in the
database exactly once (zero lost, zero duplicated). Writes benchmarks/results/survey_load.json.

Load models (`--think-seconds`, one set of runs each): the pause per task before submitting.
1 s is the benchmark's original model, kept so its figures stay comparable: 50 participants
then offer ~35-45 submissions/s, a third of the 3 s median time on task below which the report
flags a rater as careless (docs/report.md), so it is a stress test. 10 s is a fast but attentive
participant (12 results to look at and mark): 50 such participants offer ~5 submissions/s,
what a study with 50 people on the site at the same moment sees. The saturation phase (no pause)
gives the capacity that either model is measured against.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
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

from benchmarks.keepalive_client import KeepAliveClient  # noqa: E402
from benchmarks.participant_http import TASK, join_open_link, task_answers  # noqa: E402


def fresh_database() -> None:
    """Drop and recreate the benchmark database, so every run starts empty; start Redis."""
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
    # Importing settings starts nothing: create the database again and start Redis; their URLs
    # reach the web server through the environment. This process stops both when it exits.
    embedded.start_for_process(data_dir, name)


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


# --server: the web server `manage.py up` runs, or one of the two it was chosen against
# (docs/deployment.md): Django's stock ASGI handler under the same uvicorn workers, and gthread
# workers serving the WSGI app (fails the slow-client rule, tests/foundation/test_faults.py).
SERVERS = {
    "onehop": [],
    "stock": ["django.core.asgi:get_asgi_application()"],
    "gthread": ["fashionsite.wsgi:application", "--worker-class", "gthread", "--threads", "8"],
}


def start_server(port: int, workers: int, server: str = "onehop") -> subprocess.Popen:
    """The web server `manage.py up` runs (gunicorn + uvicorn workers, fashionsite/web.py), or an
    alternative of SERVERS."""
    from fashionsite.web import web_command

    command = web_command("127.0.0.1", port, workers)
    if SERVERS[server]:
        command[command.index("fashionsite.asgi:application")] = SERVERS[server][0]
        command += SERVERS[server][1:]
    log = open(REPO / os.environ["FASHIONSITE_DATA_DIR"] / "web.log", "ab")  # noqa: SIM115
    # No query encoder to warm: the survey pages never encode a query.
    env = {**os.environ, "WARM_MODELS": "0"}
    process = subprocess.Popen(
        command,
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the web server exited; see web.log in the data dir")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError("the web server did not answer within 120 s")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes, their live children, and the children they
    reaped (PostgreSQL's per-connection backends exit with each request's connection)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            parent = psutil.Process(pid)
            times = parent.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for process in parent.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
        except psutil.Error:
            continue
    return total


def connections_opened() -> int:
    """Sessions PostgreSQL has started for the benchmark database (pg_stat_database.sessions)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        opened = cursor.fetchone()[0]
    connection.close()  # the client processes are forked: they must not share a DB connection
    return opened


def postgres_pid() -> int:
    from fashionsite import embedded
    from fashionsite.env import env_path

    data_dir = env_path("FASHIONSITE_DATA_DIR", REPO / "var", base=REPO)
    return embedded.server_pids(data_dir)["postgres"]


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
        self.client_cpu_s = 0.0


def participant_loop(base: str, slug: str, deadline: float, stats: Stats, seed: int, think: float) -> None:
    """Simulated participants one after another until the deadline, each in a fresh session."""
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        with KeepAliveClient(base) as client:
            try:
                location = join_open_link(client, slug)
                with stats.lock:
                    stats.participants += 1
                while time.monotonic() < deadline and TASK.search(location):
                    started = time.perf_counter()
                    task = client.get(location)
                    page_ms = (time.perf_counter() - started) * 1000
                    answers = task_answers(task.text, rng.choice)
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
    cpu_started = time.process_time()
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
        "cpu_s": time.process_time() - cpu_started,
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
            stats.client_cpu_s += part["cpu_s"]
    return stats, time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def measured_phase(base, slug, participants, seconds, think, processes, server_pid) -> dict:
    """One phase with the CPU seconds the server, PostgreSQL and the load clients used in it, and
    the PostgreSQL connections opened meanwhile."""
    server_before, db_before = cpu_seconds([server_pid]), cpu_seconds([postgres_pid()])
    opened_before = connections_opened()
    stats, elapsed = run_phase(base, slug, participants, seconds, think, processes)
    return {
        "stats": stats,
        "elapsed": elapsed,
        "connections_opened": connections_opened() - opened_before,
        "cpu_s": {
            "web": round(cpu_seconds([server_pid]) - server_before, 1),
            "postgres": round(cpu_seconds([postgres_pid()]) - db_before, 1),
            "load_clients": round(stats.client_cpu_s, 1),
        },
    }


def uptime() -> str:
    """`uptime`'s line: the machine's load when a measurement starts and ends (it is shared)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def spread(values: list[float]) -> dict:
    return {
        "min": round(min(values), 1),
        "median": round(statistics.median(values), 1),
        "max": round(max(values), 1),
    }


def summarise(runs: list[tuple[dict, dict]], participants: int, think: float) -> dict:
    """The figures of one load model's runs: spreads over the runs and the cost of one submit."""
    per_run = []
    for baseline, load in runs:
        submit_ms = load["stats"].submit_ms
        per_run.append({
            "submissions_per_s": round(len(submit_ms) / load["elapsed"], 2),
            "submit_p50_ms": round(percentile(submit_ms, 50), 1),
            "submit_p95_ms": round(percentile(submit_ms, 95), 1),
            "task_page_p95_ms": round(percentile(load["stats"].page_ms, 95), 1),
            "baseline_submit_p95_ms": round(percentile(baseline["stats"].submit_ms, 95), 1),
            "cpu_s": load["cpu_s"],
            "connections_opened": load["connections_opened"],
        })  # fmt: skip
    submits = sum(len(load["stats"].submit_ms) for _, load in runs) or 1
    cpu_total = {role: sum(run["cpu_s"][role] for run in per_run) for role in per_run[0]["cpu_s"]}
    wall = sum(load["elapsed"] for _, load in runs)
    return {
        "participants_concurrent": participants,
        "think_seconds": think,
        "submit_p95_ms": spread([run["submit_p95_ms"] for run in per_run]),
        "submit_p50_ms": spread([run["submit_p50_ms"] for run in per_run]),
        "submissions_per_s": spread([run["submissions_per_s"] for run in per_run]),
        "baseline_submit_p95_ms": spread([run["baseline_submit_p95_ms"] for run in per_run]),
        "submit_p95_ratio_vs_single_participant": spread(
            [run["submit_p95_ms"] / run["baseline_submit_p95_ms"] for run in per_run]
        ),
        "cpu_share_of_2_cores_during_load": {
            role: round(seconds / (wall * (os.cpu_count() or 2)), 2) for role, seconds in cpu_total.items()
        },
        # Per submit cycle (its task page, the submit, a participant's share of consent pages).
        "cpu_ms_per_submit": {
            role: round(1000 * seconds / submits, 1) for role, seconds in cpu_total.items()
        },
        "connections_opened_per_submit": round(
            sum(run["connections_opened"] for run in per_run) / submits, 3
        ),
        "per_run": per_run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument(
        "--runs", type=int, default=3, help="load phases per load model (each after its own baseline)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default="onehop",
        help="onehop: what `manage.py up` runs; the others write survey_load_<server>.json (A/B)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=5,
        help="load-client processes the participants are spread over",
    )
    parser.add_argument(
        "--think-seconds",
        type=float,
        nargs="+",
        default=[1.0, 10.0],
        help="mean pause per task before submitting, one set of runs per value (see the load models above)",
    )
    args = parser.parse_args()

    load_before = os.getloadavg()
    uptime_before = uptime()
    fresh_database()
    slug = setup_world()
    port = free_port()
    server = start_server(port, args.workers, args.server)
    base = f"http://127.0.0.1:{port}"
    from django.db import connections

    connections.close_all()  # the client processes are forked: they must not share a DB connection
    clients = args.client_processes
    models: list[tuple[float, list]] = []
    loads = []
    try:
        for think in args.think_seconds:
            runs = []
            for _ in range(args.runs):
                baseline = measured_phase(base, slug, 1, args.baseline_seconds, 0.0, 1, server.pid)
                load = measured_phase(base, slug, args.participants, args.seconds, think, clients, server.pid)
                runs.append((baseline, load))
                loads.append(round(os.getloadavg()[0], 2))
            models.append((think, runs))
        saturation = measured_phase(base, slug, args.participants, args.seconds, 0.0, clients, server.pid)
    finally:
        stop_server(server)

    from surveys.models import Rating

    phases = [phase["stats"] for _, runs in models for pair in runs for phase in pair] + [saturation["stats"]]
    acked = set().union(*(phase.acked for phase in phases))
    errors = [error for phase in phases for error in phase.errors]
    stored = list(
        Rating.objects.filter(assignment__participant__survey__slug=slug).values_list(
            "assignment__public_id", flat=True
        )
    )
    stored_ids = {str(value) for value in stored}
    summaries = [summarise(runs, args.participants, think) for think, runs in models]
    saturation_ms = saturation["stats"].submit_ms
    first = summaries[0]
    metrics = {
        # The first load model's figures at the top level, under the names earlier runs used.
        **{key: value for key, value in first.items() if key != "per_run"},
        "runs": args.runs,
        "seconds_per_run": args.seconds,
        "per_run": first["per_run"],
        "load_models": {f"think_{summary['think_seconds']:g}s": summary for summary in summaries},
        "saturation_submissions_per_s": round(len(saturation_ms) / saturation["elapsed"], 2),
        "saturation_submit_p50_ms": round(percentile(saturation_ms, 50), 1),
        "saturation_submit_p95_ms": round(percentile(saturation_ms, 95), 1),
        "saturation_cpu_s": saturation["cpu_s"],
        "saturation_connections_opened": saturation["connections_opened"],
        "replayed_submits": sum(phase.replays for phase in phases),
        "acknowledged": len(acked),
        "stored_ratings": len(stored),
        "lost": len(acked - stored_ids),
        "duplicated": len(stored) - len(stored_ids),
        "stored_unacknowledged": len(stored_ids - acked),  # stored but the client saw an error (not lost)
        "client_errors": len(errors),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after_each_run": loads,
        "uptime_before": uptime_before,
        "uptime_after": uptime(),
    }
    targets = {
        "submit_p95_ms": f"median of runs <= 200 (think {args.think_seconds[0]:g} s)",
        "lost": "== 0",
        "duplicated": "== 0",
    }
    from benchmarks.common import print_table, write_results

    rows = [
        (
            f"think {summary['think_seconds']:g} s: submit p95 min/median/max (ms)",
            "/".join(str(v) for v in summary["submit_p95_ms"].values()),
            targets["submit_p95_ms"] if summary is first else None,
        )
        for summary in summaries
    ]
    rows += [
        (f"think {summary['think_seconds']:g} s: {name}", summary[name], None)
        for summary in summaries
        for name in (
            "submit_p50_ms",
            "submissions_per_s",
            "cpu_ms_per_submit",
            "connections_opened_per_submit",
        )
    ]
    rows += [
        (name, value, targets.get(name))
        for name, value in metrics.items()
        if name not in first and name not in ("per_run", "load_models", "saturation_cpu_s")
    ]
    print_table(rows)
    for error in errors[:5]:
        print("client error:", error)
    notes = (
        f"Web server: {args.server} (onehop is what `manage.py up` runs: gunicorn with {args.workers} "
        "uvicorn workers, fashionsite/asgi_handler.py) on 127.0.0.1 "
        f"(fashionsite/web.py, each with its PostgreSQL connection pool: DB_POOL_SIZE from "
        f"fashionsite/gunicorn_config.py), fresh database {os.environ['FASHIONSITE_DB_NAME']}; load clients: "
        f"{clients} processes with a thread per participant, on the same 2 cores as the server and PostgreSQL; "
        "6 queries × 3 configurations, result sets computed at open; latency of the submit POST measured "
        "client-side (one keep-alive http.client connection per participant, benchmarks/keepalive_client.py); "
        "10% of submits replayed. Per load model (pause per task "
        f"{', '.join(f'{t:g}' for t in args.think_seconds)} s, uniform between half and 1.5 times it): "
        f"{args.runs} runs, each a {args.baseline_seconds:.0f} s single-participant baseline then "
        f"{args.participants} participants for {args.seconds:.0f} s; spread = min/median/max over the runs. "
        "Saturation phase: the same participants with no pause at all. cpu_s: CPU seconds used by the web "
        "server, PostgreSQL and the load clients in each load phase; connections_opened: sessions "
        f"PostgreSQL started meanwhile. Machine shared with other engineers: load average before "
        f"{load_before[0]:.1f}, after the runs {', '.join(f'{x:.1f}' for x in loads)}."
    )
    name = "survey_load" if args.server == "onehop" else f"survey_load_{args.server}"
    path = write_results(name, metrics, targets, notes=notes)
    print(f"wrote {path}")
    if metrics["lost"] or metrics["duplicated"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
