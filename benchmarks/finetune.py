"""Fine-tuning throughput on this machine: the whole training step vs a bare loop on pre-loaded tensors.

    FASHIONSITE_DATA_DIR=var/bench-finetune .venv/bin/python benchmarks/finetune.py [--pairs 128] [--batch 32]
        [--rounds 2] [--model ViT-B-32] [--threads N]

Loads N products of the shared catalogue zip into default storage (its own data dir and database),
then, in one process, with the base model ViT-B-32 (`pretrained=none`: random weights, the same
compute as pretrained ones):
  1. whole step: embeddings.training.loop.Trainer.fit over PairBatches, what the training worker
     runs: storage read, JPEG decode and open_clip's training augmentation in the loader threads,
     tokenising, forward, ClipLoss, backward, AdamW + cosine schedule (the run's per-step database
     writes are not included: one UPDATE per step);
  2. bare: Trainer.train_step (forward, loss, backward, optimizer) on the same batches decoded
     and augmented beforehand.
Rounds are interleaved (whole, bare, whole, bare) so both see the same load on a shared machine.
The ratio whole/bare pairs per second is the target (>= 0.85). Peak memory: the process's peak RSS
after the first whole round (before the bare round's tensors are loaded); on CUDA also
torch.cuda.max_memory_allocated. With a GPU present the same runs on CUDA with AMP.

On a CPU shared with other busy processes, torch's OpenMP threads spin against each other (a tiny
model's step took 10-20x longer with 2 threads than with 1 at a load average of 9 on 2 cores):
pass --threads 1 there and say so; the JSON records the thread count and the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
os.environ.setdefault("FASHIONSITE_DATA_DIR", "var/bench-finetune")
CATALOGUE_WITH_IMAGE = 44_072
TRAIN_FRACTION = 0.8


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(device: str, pairs, *, model_name: str, batch: int, rounds: int) -> dict:
    import torch

    from embeddings.encoders import build_trainable
    from embeddings.training.loop import PairBatches, Trainer, load_image
    from embeddings.training.params import TrainingParams

    params = TrainingParams(epochs=1, batch_size=batch, lr=1e-5, warmup_steps=1, checkpoint_every=10**9)
    model, preprocess_train, _, tokenizer = build_trainable(model_name, "none")
    steps = len(pairs) // batch
    trainer = Trainer(model, params=params, device=device, steps_per_epoch=steps)
    loader = PairBatches(pairs, preprocess=preprocess_train, tokenizer=tokenizer, batch_size=batch, seed=0)

    def whole_round(epoch: int) -> float:
        trainer.epochs_done, trainer.step = 0, 0
        started = time.perf_counter()
        for pixels, tokens in loader.epoch(epoch, n_batches=steps):
            trainer.train_step([(pixels, tokens)])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - started

    def bare_round(prepared) -> float:
        started = time.perf_counter()
        for pixels, tokens in prepared:
            trainer.train_step([(pixels, tokens)])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - started

    # Warm-up: one step of each kind (first-call allocations), not timed.
    next_batch = next(loader.epoch(99, n_batches=1))
    trainer.train_step([next_batch])
    whole = [whole_round(0)]
    peak_rss = rss_mib()
    # The bare loop's inputs: the same batches as round 1, decoded and augmented beforehand.
    order = loader.order(0)
    prepared = []
    for i in range(steps):
        chunk = [pairs[j] for j in order[i * batch : (i + 1) * batch]]
        pixels = torch.stack([preprocess_train(load_image(pair.image_name)) for pair in chunk])
        prepared.append((pixels, tokenizer([pair.text for pair in chunk])))
    bare = [bare_round(prepared)]
    for r in range(1, rounds):
        whole.append(whole_round(r))
        bare.append(bare_round(prepared))
    loader.close()
    n = steps * batch * rounds
    result = {
        "whole_step_pairs_per_s": round(n / sum(whole), 2),
        "bare_pairs_per_s": round(n / sum(bare), 2),
        "peak_rss_mib": round(peak_rss, 1),
    }
    result["whole_to_bare_ratio"] = round(result["whole_step_pairs_per_s"] / result["bare_pairs_per_s"], 3)
    if device.startswith("cuda"):
        result["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own)")
    args = parser.parse_args()

    import django

    django.setup()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from django.core.management import call_command

    from benchmarks.common import machine_info, print_table, write_results
    from benchmarks.embed import load_products
    from embeddings.services import ensure_space
    from embeddings.training.services import training_pairs

    call_command("migrate", interactive=False, verbosity=0)
    products = load_products(args.pairs)
    slug = "".join(ch if ch.isalnum() else "-" for ch in args.model.lower())
    space = ensure_space(name=f"bench-ft-{slug}"[:64], model_name=args.model, pretrained="none")
    pairs = training_pairs(space, [p.pk for p in products])
    load = os.getloadavg()[0]
    metrics = {"pairs": len(pairs), "batch_size": args.batch, "rounds": args.rounds, "model": args.model}
    cpu = measure("cpu", pairs, model_name=args.model, batch=args.batch, rounds=args.rounds)
    metrics |= {f"cpu_{key}": value for key, value in cpu.items()}
    train_pairs = CATALOGUE_WITH_IMAGE * TRAIN_FRACTION
    metrics["cpu_epoch_estimate_hours_44k"] = round(train_pairs / cpu["whole_step_pairs_per_s"] / 3600, 1)
    metrics["torch_threads"] = torch.get_num_threads()
    metrics["load_average_1min_at_start"] = round(load, 2)
    gpu_measured = torch.cuda.is_available()
    if gpu_measured:
        gpu = measure("cuda", pairs, model_name=args.model, batch=args.batch, rounds=args.rounds)
        metrics |= {f"cuda_amp_{key}": value for key, value in gpu.items()}
        rate = gpu["whole_step_pairs_per_s"]
        metrics["cuda_amp_epoch_estimate_minutes_44k"] = round(train_pairs / rate / 60, 1)
    metrics["gpu_measured"] = gpu_measured
    targets = {"cpu_whole_to_bare_ratio": ">= 0.85"}
    if gpu_measured:
        targets["cuda_amp_whole_to_bare_ratio"] = ">= 0.85"
    print_table([(key, value, targets.get(key)) for key, value in metrics.items()])
    gpu = torch.cuda.get_device_name(0) if gpu_measured else "not measured: no GPU in this session"
    write_results(
        "finetune" if args.model == "ViT-B-32" else f"finetune-{slug}",
        metrics,
        targets,
        notes=(
            f"{args.model} random weights; whole = Trainer.train_step fed by PairBatches (storage read, "
            "decode and open_clip training augmentation in 2 loader threads, 3 batches ahead); bare = "
            "Trainer.train_step on the same batches pre-loaded as tensors; interleaved rounds. Epoch "
            f"estimate: {int(train_pairs)} training pairs (80% of the {CATALOGUE_WITH_IMAGE} products "
            f"with an image) at the measured whole-step rate. GPU: {gpu}. Machine: "
            f"{machine_info()['cpu_model']}, shared by other sessions (1-min load average at start "
            f"{load:.2f})."
        ),
    )


if __name__ == "__main__":
    main()
