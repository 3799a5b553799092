"""Torch threads per web worker for text queries: latency alone against both workers at once.

The web server runs WEB_CONCURRENCY (2) uvicorn workers on this machine's 2 cores; each encodes
query texts on FASHIONSITE_TORCH_THREADS torch threads. More threads make one query faster while
the other worker is idle, and may make both slower when both encode at once (oversubscription).
This starts two worker processes as gunicorn does (each loads the real ViT-B-32 text tower, random
weights, through embeddings.encoders) and, per setting, measures the text encoding of short
product titles (the part of a text search that threads change):

- alone: one worker encodes while the other idles (p50 per query);
- both: the two encode at the same time (p50 per query, and queries per second of the two).

Settings are alternated round by round so they see the same machine load.
Usage: flock /work/notes/bench.lock python benchmarks/text_threads.py [--queries 30 --rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# (label, torch threads, OMP_WAIT_POLICY or None for libgomp's default)
SETTINGS = (
    ("1 thread", 1, "PASSIVE"),
    ("2 threads, passive wait", 2, "PASSIVE"),
    ("2 threads, default wait", 2, None),
)
TITLES = [
    "Puma Men Black Running Shoes",
    "blue denim jeans",
    "Nike Women White Sports Bra",
    "red summer dress with white dots",
    "Titan Men Silver Watch",
    "black leather wallet",
]


def _worker(threads: int, wait_policy: str | None, connection) -> None:
    """One web worker: the encoder on `threads` threads, answering 'encode these texts' requests."""
    if wait_policy:
        os.environ["OMP_WAIT_POLICY"] = wait_policy
    else:
        os.environ.pop("OMP_WAIT_POLICY", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
    import django

    django.setup()
    from embeddings.encoders import limit_torch_threads, load_encoder

    limit_torch_threads(threads)
    encoder = load_encoder("ViT-B-32", "none", device="cpu")
    encoder.encode_texts(["warm up"])
    connection.send("ready")
    while (texts := connection.recv()) is not None:
        times = []
        for text in texts:
            started = time.perf_counter()
            encoder.encode_texts([text])
            times.append((time.perf_counter() - started) * 1000)
        connection.send(times)


def _p50(values) -> float:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], 2)


def measure(threads: int, wait_policy: str | None, queries: int, round_: int) -> dict:
    context = mp.get_context("spawn")
    pipes, workers = [], []
    for _ in range(2):
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(threads, wait_policy, child), daemon=True)
        process.start()
        pipes.append(parent)
        workers.append(process)
    for pipe in pipes:
        pipe.recv()
    texts = [f"{TITLES[i % len(TITLES)]} {round_}-{i}" for i in range(queries)]
    alone = []
    for pipe in pipes:
        pipe.send(texts)
        alone += pipe.recv()
    started = time.perf_counter()
    for pipe in pipes:
        pipe.send(texts)
    both = [ms for pipe in pipes for ms in pipe.recv()]
    wall = time.perf_counter() - started
    for pipe, process in zip(pipes, workers, strict=True):
        pipe.send(None)
        process.join(timeout=30)
    return {"alone": alone, "both": both, "both_qps": 2 * queries / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=30, help="queries per worker per phase")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from benchmarks.common import print_table, write_results
    from benchmarks.scale import uptime

    load_start, uptime_start = os.getloadavg()[0], uptime()
    collected = {label: {"alone": [], "both": [], "both_qps": []} for label, _, _ in SETTINGS}
    for round_ in range(args.rounds):
        for label, threads, policy in SETTINGS if round_ % 2 == 0 else reversed(SETTINGS):
            result = measure(threads, policy, args.queries, round_)
            for key in ("alone", "both"):
                collected[label][key] += result[key]
            collected[label]["both_qps"].append(result["both_qps"])
            print(
                label,
                f"round {round_}",
                {k: _p50(v) if k != "both_qps" else round(v, 2) for k, v in result.items()},
            )
    metrics = {"queries_per_worker_per_phase": args.queries, "rounds": args.rounds}
    for label, values in collected.items():
        key = label.replace(", ", "_").replace(" ", "_")
        metrics[f"{key}_alone_p50_ms"] = _p50(values["alone"])
        metrics[f"{key}_both_p50_ms"] = _p50(values["both"])
        metrics[f"{key}_both_queries_per_s"] = round(sum(values["both_qps"]) / len(values["both_qps"]), 2)
    metrics["load_avg_1m_at_start"] = round(load_start, 2)
    metrics["uptime_at_start"] = uptime_start
    metrics["uptime_at_end"] = uptime()
    print_table([(key, value, None) for key, value in metrics.items()])
    path = write_results(
        "text_threads",
        metrics,
        {},
        notes=(
            "Text encoding only (embeddings.encoders, real ViT-B-32 text tower with random weights, "
            "over the texts' own tokens), two worker processes as the web server runs them; "
            "alone = one encodes while the other idles, both = the two at once. Machine shared with "
            "other engineers: load averages recorded."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
