"""Embedding throughput on a GPU, with the CPU as the baseline in the same process; no Django, no database.

    .venv/bin/python benchmarks/embed_gpu.py [--dataset ZIP] [--images 2048] [--models ViT-B-32 fashionsite-tiny]
        [--batches 32 64 128 256 512 1024] [--cpu-images 128] [--decode-threads 2 16] [--device cuda]

Writes benchmarks/results/embed-gpu.json (benchmarks/embed.py keeps the CPU pipeline with
PostgreSQL in embed.json). Models come from the encoder registry (embeddings.encoders.load_encoder,
open_clip `create_model_and_transforms`, random weights `pretrained=none`: the compute of the real
model). Real catalogue images (the dataset zip or a sample of it, benchmarks/catalogue_sample.py).
Per model, in one process:

  1. bare forward, the worker's encoder calls (`encode_pixels` + `encode_texts`: host-to-device copy,
     the encoder's own autocast, L2 normalisation, copy back) on images decoded and preprocessed
     beforehand, at several batch sizes: images/s and peak GPU memory;
  2. precision: the image tower alone on a batch already on the GPU, fp32 vs TF32 vs autocast fp16
     (what the encoder uses) vs bf16: images/s, and the cosine of each variant's vectors to fp32's;
  3. GPU vs CPU: the same first `--cpu-images` images at batch 64 (the worker's default batch)
     through the CPU encoder and the GPU encoder; speed ratio and the cosine between their vectors;
  4. pipeline: compute_batch_vectors' steps without the database (decode + preprocess in a thread
     pool of 2, the worker's pool, and more threads; then the forward) per batch: images/s, its
     ratio to the bare forward at the same batch size, and the full catalogue's time at that rate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.catalogue_sample import DATASET, decode, read_items  # noqa: E402

CATALOGUE_WITH_IMAGE = 44_072
WORKER_BATCH = 64  # settings.EMBEDDINGS_BATCH_SIZE default


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _cosines(a, b):
    import numpy as np

    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def bare_forward(encoder, pixels, texts, *, batches, repeats: int) -> dict:
    import torch

    result = {}
    n = len(texts)
    for batch in batches:
        if batch > n:
            continue

        def run(batch=batch):
            for start in range(0, n - batch + 1, batch):
                encoder.encode_pixels(pixels[start : start + batch])
                encoder.encode_texts(texts[start : start + batch])

        run_n = (n // batch) * batch
        encoder.encode_pixels(pixels[:batch])  # warm-up at this shape (kernel selection)
        if encoder.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        seconds = _median_seconds(run, repeats)
        row = {"images_per_s": round(run_n / seconds, 1)}
        if encoder.device.startswith("cuda"):
            row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result[str(batch)] = row
    return result


def precision(encoder, pixels, *, batch: int, repeats: int) -> dict:
    """Image tower alone on a GPU-resident batch: fp32, TF32, autocast fp16 and bf16."""
    import torch

    model, device = encoder.model, encoder.device
    x = pixels[:batch].to(device)
    variants = {
        "fp32": (torch.float32, False),
        "tf32": (torch.float32, True),
        "autocast_fp16": (torch.float16, False),
        "autocast_bf16": (torch.bfloat16, False),
    }
    reference, result = None, {}
    previous = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        for name, (dtype, tf32) in variants.items():
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32

            def forward(dtype=dtype):
                with torch.inference_mode():
                    if dtype is torch.float32:
                        return model.encode_image(x)
                    with torch.autocast("cuda", dtype=dtype):
                        return model.encode_image(x)

            out = forward().float().cpu().numpy()
            for _ in range(3):
                forward()
            _sync(device)
            times = []
            for _ in range(repeats):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                forward()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1000)
            if reference is None:
                reference = out
            cos = _cosines(out, reference)
            result[name] = {
                "images_per_s": round(batch / statistics.median(times), 1),
                "min_cosine_to_fp32": round(float(cos.min()), 6),
            }
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous
    base = result["fp32"]["images_per_s"]
    for row in result.values():
        row["speedup_vs_fp32"] = round(row["images_per_s"] / base, 2)
    return result


def gpu_vs_cpu(gpu, cpu, pixels, texts, *, batch: int) -> dict:
    """The same images at the same batch size through both encoders (the model built twice from the
    same seed, so the same weights): speed ratio and agreement of the vectors."""
    import numpy as np

    n = (len(texts) // batch) * batch

    def run(encoder):
        images, titles = [], []
        for start in range(0, n, batch):
            images.append(encoder.encode_pixels(pixels[start : start + batch]))
            titles.append(encoder.encode_texts(texts[start : start + batch]))
        return np.concatenate(images), np.concatenate(titles)

    cpu.encode_pixels(pixels[:batch])
    started = time.perf_counter()
    cpu_images, cpu_texts = run(cpu)
    cpu_seconds = time.perf_counter() - started
    gpu.encode_pixels(pixels[:batch])
    gpu_seconds = _median_seconds(lambda: run(gpu), 3)
    gpu_images, gpu_texts = run(gpu)
    return {
        "images": n,
        "batch_size": batch,
        "cpu_images_per_s": round(n / cpu_seconds, 1),
        "gpu_images_per_s": round(n / gpu_seconds, 1),
        "gpu_to_cpu_speed_ratio": round(cpu_seconds / gpu_seconds, 1),
        "min_cosine_gpu_to_cpu_image": round(float(_cosines(gpu_images, cpu_images).min()), 5),
        "min_cosine_gpu_to_cpu_text": round(float(_cosines(gpu_texts, cpu_texts).min()), 5),
    }


def pipeline(encoder, items, *, batch: int, threads: int) -> float:
    """compute_batch_vectors' steps per batch (decode + preprocess in the pool, stack, image and
    title forward), without the database; images/s."""
    import torch

    def load(item):
        return encoder.preprocess(decode(item.data))

    n = (len(items) // batch) * batch
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(load, items[:batch]))  # warm the threads
        started = time.perf_counter()
        for start in range(0, n, batch):
            chunk = items[start : start + batch]
            pixels = torch.stack(list(pool.map(load, chunk)))
            encoder.encode_pixels(pixels)
            encoder.encode_texts([item.title for item in chunk])
        seconds = time.perf_counter() - started
    return n / seconds


def measure_model(model_name: str, items, args) -> dict:
    import torch

    from embeddings.encoders import load_encoder

    started = time.perf_counter()
    encoder = load_encoder(model_name, "none", device=args.device)
    texts = [item.title for item in items]
    with ThreadPoolExecutor(max_workers=args.prepare_threads) as pool:
        pixels = torch.stack(list(pool.map(lambda item: encoder.preprocess(decode(item.data)), items)))
    encoder.encode_texts(texts[:8])
    out: dict = {"model": model_name, "dimension": encoder.dimension, "image_size": list(pixels.shape[2:])}
    out["bare_forward_by_batch"] = bare_forward(
        encoder, pixels, texts, batches=args.batches, repeats=args.repeats
    )
    if args.device.startswith("cuda"):
        out["precision_image_tower"] = precision(
            encoder, pixels, batch=min(args.precision_batch, len(items)), repeats=10
        )
    cpu = load_encoder(model_name, "none", device="cpu")
    n_cpu = min(args.cpu_images, len(items))
    out["gpu_vs_cpu"] = gpu_vs_cpu(encoder, cpu, pixels[:n_cpu], texts[:n_cpu], batch=WORKER_BATCH)
    rows = {}
    for batch in (WORKER_BATCH, 256):
        if batch > len(items):
            continue
        bare = out["bare_forward_by_batch"].get(str(batch), {}).get("images_per_s")
        for threads in args.decode_threads:
            rate = pipeline(encoder, items, batch=batch, threads=threads)
            rows[f"batch{batch}_threads{threads}"] = {
                "images_per_s": round(rate, 1),
                "pipeline_to_bare_ratio": round(rate / bare, 3) if bare else None,
                "full_catalogue_minutes": round(CATALOGUE_WITH_IMAGE / rate / 60, 2),
            }
    out["pipeline_without_db"] = rows
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--models", nargs="+", default=["ViT-B-32", "fashionsite-tiny"])
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 64, 128, 256, 512, 1024])
    parser.add_argument("--precision-batch", type=int, default=256)
    parser.add_argument("--cpu-images", type=int, default=128)
    parser.add_argument("--decode-threads", nargs="+", type=int, default=[2, 16])
    parser.add_argument("--prepare-threads", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, help="default: cuda when present, else cpu")
    parser.add_argument(
        "--name", default="embed-gpu", help="results file name (benchmarks/results/NAME.json)"
    )
    args = parser.parse_args()

    import torch

    from benchmarks.common import machine_info, print_table, write_results

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    items = read_items(args.dataset, args.images)
    metrics: dict = {
        "images": len(items),
        "dataset": args.dataset.name,
        "device": args.device,
        "gpu_measured": args.device.startswith("cuda"),
        "torch_threads": torch.get_num_threads(),
        "models": {},
    }
    targets = {"pipeline_to_bare_ratio (batch 64, 2 decode threads)": ">= 0.85"}
    notes = (
        "Random weights (pretrained=none) through embeddings.encoders.load_encoder. bare = "
        "encode_pixels + encode_texts on pre-decoded batches (image + title per product); precision = "
        "image tower alone, GPU-resident batch, CUDA-event timing; gpu_vs_cpu = the same images and "
        "batch through the CPU and GPU encoders in this process; pipeline = decode + preprocess in a "
        "thread pool then the forward, per batch, as compute_batch_vectors, without the database "
        "upsert (benchmarks/embed.py measures that part with PostgreSQL). "
        f"Machine: {machine_info()['cpu_model']}, {machine_info()['cores']} cores, GPU "
        f"{machine_info()['gpu']}; nothing else running on it."
    )
    rows = []
    for model_name in args.models:
        result = measure_model(model_name, items, args)
        metrics["models"][model_name] = result
        write_results(args.name, metrics, targets, notes=notes)  # after each model: a kill keeps the rest
        for batch, row in result["bare_forward_by_batch"].items():
            rows.append((f"{model_name} bare b{batch} img/s", row["images_per_s"], None))
        for name, row in result.get("precision_image_tower", {}).items():
            rows.append((f"{model_name} tower {name} x fp32", row["speedup_vs_fp32"], None))
        versus = result["gpu_vs_cpu"]
        rows.append((f"{model_name} {args.device}/cpu b64", versus["gpu_to_cpu_speed_ratio"], None))
        for key, row in result["pipeline_without_db"].items():
            target = ">= 0.85" if key == "batch64_threads2" else None
            rows.append((f"{model_name} pipeline/bare {key}", row["pipeline_to_bare_ratio"], target))
    print_table(rows)


if __name__ == "__main__":
    main()
