"""Fine-tuning on a GPU, with the CPU as the baseline in the same process; no Django, no database.

    .venv/bin/python benchmarks/finetune_gpu.py [--dataset ZIP] [--pairs 8000] [--models ViT-B-32 fashionsite-tiny]
        [--batches 32 64 128 256] [--steps 20] [--loader-threads 2 16] [--recall-steps 90] [--device cuda]

Writes benchmarks/results/finetune-gpu.json (benchmarks/finetune.py keeps the CPU run with its
storage and database in finetune.json). The training code is the project's own: the model from
embeddings.encoders.build_trainable (open_clip `create_model_and_transforms`, random weights),
embeddings.training.loop.Trainer (ClipLoss, AdamW, cosine schedule, AMP: bf16 autocast where the
GPU supports it) and PairBatches (decode + augmentation in loader threads), and
embeddings.training.evaluation.evaluate_model for recall. Only the image source differs: images
are decoded from the zip's bytes in memory instead of default_storage. Products are split by title
(one title never in both) into train and a held-out test set. Per model, in one process:

  1. bare step (Trainer.train_step on batches decoded and augmented beforehand) at several batch
     sizes, AMP vs fp32: steps/s, pairs/s, peak GPU memory;
  2. GPU vs CPU: the same batches at batch 32, fp32 on the CPU vs AMP and fp32 on the GPU;
  3. whole step (PairBatches feeding train_step, as the training worker) vs bare, by loader threads;
  4. recall: a fresh model trained `--recall-steps` steps through PairBatches; text->image and
     image->text Recall@k / MRR on the held-out products before, during and after.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.catalogue_sample import DATASET, decode, read_items  # noqa: E402

CATALOGUE_WITH_IMAGE = 44_072
TRAIN_FRACTION = 0.8
WORKER_LOADER_THREADS = 2  # settings.TRAINING_LOADER_THREADS default


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def use_memory_images(items) -> None:
    """Point the training loop's and the evaluation's image loader at the zip's bytes in memory."""
    from embeddings.training import evaluation, loop

    by_name = {str(item.product_id): item.data for item in items}

    def load_image(name: str):
        return decode(by_name[name])

    loop.load_image = load_image
    evaluation.load_image = load_image


def split_pairs(items):
    """(train, test) Pairs, by a hash of the title: a title is never in both."""
    from embeddings.training.loop import Pair

    train, test = [], []
    for item in items:
        pair = Pair(item.product_id, str(item.product_id), item.title)
        (test if zlib.crc32(item.title.encode()) % 5 == 0 else train).append(pair)
    return train, test


def prepared_batches(pairs, *, preprocess, tokenizer, n_pairs: int):
    """Decoded, augmented pixels and tokens of the first n_pairs pairs (the bare loop's inputs)."""
    import torch

    from embeddings.training import loop

    chunk = pairs[:n_pairs]
    pixels = torch.stack([preprocess(loop.load_image(pair.image_name)) for pair in chunk])
    return pixels, tokenizer([pair.text for pair in chunk])


def new_trainer(model, *, device: str, batch: int, amp: bool, steps: int, lr: float = 1e-5, warmup: int = 1):
    from embeddings.training.loop import Trainer
    from embeddings.training.params import TrainingParams

    params = TrainingParams(
        epochs=1, batch_size=batch, lr=lr, warmup_steps=warmup, checkpoint_every=10**9, amp=amp
    )
    return Trainer(model, params=params, device=device, steps_per_epoch=steps)


def bare_steps(trainer, pixels, tokens, *, batch: int, steps: int, warmup: int = 2) -> dict:
    """Time `steps` train_steps on slices of the prepared tensors (after `warmup` untimed ones)."""
    import torch

    n = len(pixels) // batch

    def step(i):
        j = i % n
        return trainer.train_step(
            [(pixels[j * batch : (j + 1) * batch], tokens[j * batch : (j + 1) * batch])]
        )

    for i in range(warmup):
        step(i)
    if trainer.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    losses = [step(warmup + i) for i in range(steps)]
    _sync(trainer.device)
    seconds = time.perf_counter() - started
    row = {
        "steps_per_s": round(steps / seconds, 3),
        "pairs_per_s": round(steps * batch / seconds, 1),
        "last_loss": round(losses[-1], 4),
    }
    if trainer.device.startswith("cuda"):
        row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


def whole_steps(trainer, pairs, *, preprocess, tokenizer, batch: int, steps: int, threads: int) -> dict:
    """PairBatches (decode + augmentation in `threads` loader threads, 3 batches ahead) feeding train_step."""
    from embeddings.training.loop import PairBatches

    loader = PairBatches(
        pairs, preprocess=preprocess, tokenizer=tokenizer, batch_size=batch, seed=0, threads=threads
    )
    try:
        trainer.train_step([next(loader.epoch(99, n_batches=1))])
        started = time.perf_counter()
        done = 0
        for pixels, tokens in loader.epoch(0, n_batches=steps):
            trainer.train_step([(pixels, tokens)])
            done += len(pixels)
        _sync(trainer.device)
        seconds = time.perf_counter() - started
    finally:
        loader.close()
    return {"pairs_per_s": round(done / seconds, 1), "steps_per_s": round(steps / seconds, 3)}


def recall_run(model_name: str, train, test, args) -> dict:
    """A fresh model trained args.recall_steps steps through PairBatches; recall on `test` along the way."""
    from embeddings.encoders import build_trainable
    from embeddings.training.evaluation import evaluate_model, means
    from embeddings.training.loop import PairBatches

    model, preprocess_train, preprocess, tokenizer = build_trainable(model_name, "none")
    batch, total = args.recall_batch, args.recall_steps
    trainer = new_trainer(
        model,
        device=args.device,
        batch=batch,
        amp=True,
        steps=total,
        lr=args.recall_lr,
        warmup=max(total // 10, 1),
    )
    loader = PairBatches(
        train,
        preprocess=preprocess_train,
        tokenizer=tokenizer,
        batch_size=batch,
        seed=0,
        threads=args.recall_threads,
    )
    per_epoch = len(train) // batch
    checkpoints = sorted({0, total // 3, 2 * total // 3, total})
    curve, losses, epoch = [], [], 0
    started = time.perf_counter()
    train_seconds = 0.0
    try:
        while True:
            if trainer.step in checkpoints:
                evaluation = evaluate_model(
                    trainer.model, preprocess=preprocess, tokenizer=tokenizer, pairs=test, device=args.device
                )
                trainer.model.train()
                row = {"step": trainer.step, "pairs_seen": trainer.step * batch, **means(evaluation)}
                if losses:
                    row["train_loss_last_10"] = round(sum(losses[-10:]) / len(losses[-10:]), 4)
                curve.append(row)
                print(f"{model_name}: recall at step {trainer.step}: {row}", flush=True)
                if trainer.step == total:
                    break
            step_started = time.perf_counter()
            stop = min(
                per_epoch,
                total - trainer.step,
                min(c for c in checkpoints if c > trainer.step) - trainer.step,
            )
            for pixels, tokens in loader.epoch(epoch, n_batches=stop):
                losses.append(trainer.train_step([(pixels, tokens)]))
            _sync(args.device)
            train_seconds += time.perf_counter() - step_started
            epoch += 1
    finally:
        loader.close()
    return {
        "model": model_name,
        "steps": total,
        "batch_size": batch,
        "lr": args.recall_lr,
        "loader_threads": args.recall_threads,
        "train_pairs": len(train),
        "test_products": evaluation.get("n_products"),
        "test_queries": {
            task: evaluation[task]["n_queries"]
            for task in ("text_to_image", "image_to_text")
            if task in evaluation
        },
        "train_pairs_per_s": round(total * batch / train_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "curve": curve,
        "final_with_interval": {
            task: evaluation[task] for task in ("text_to_image", "image_to_text") if task in evaluation
        },
    }


def measure_model(model_name: str, train, test, args) -> dict:
    import torch

    from embeddings.encoders import build_trainable

    started = time.perf_counter()
    model, preprocess_train, _, tokenizer = build_trainable(model_name, "none")
    biggest = max(args.batches)
    pixels, tokens = prepared_batches(
        train, preprocess=preprocess_train, tokenizer=tokenizer, n_pairs=2 * biggest
    )
    out: dict = {"model": model_name, "image_size": list(pixels.shape[2:])}
    bare = {}
    for amp in (True, False):
        for batch in args.batches:
            trainer = new_trainer(model, device=args.device, batch=batch, amp=amp, steps=args.steps + 2)
            bare[f"{'amp' if amp else 'fp32'}_b{batch}"] = bare_steps(
                trainer, pixels, tokens, batch=batch, steps=args.steps
            )
            del trainer
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    out["bare_by_precision_and_batch"] = bare
    print(f"{model_name}: bare steps done after {time.perf_counter() - started:.0f} s", flush=True)
    if args.device.startswith("cuda"):
        out["amp_dtype"] = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        for batch in args.batches:
            fp32, amp = bare.get(f"fp32_b{batch}"), bare.get(f"amp_b{batch}")
            bare[f"amp_over_fp32_b{batch}"] = round(amp["pairs_per_s"] / fp32["pairs_per_s"], 2)

    cpu_model = build_trainable(model_name, "none")[0]
    cpu_trainer = new_trainer(cpu_model, device="cpu", batch=32, amp=False, steps=args.cpu_steps + 1)
    cpu = bare_steps(cpu_trainer, pixels, tokens, batch=32, steps=args.cpu_steps, warmup=1)
    del cpu_trainer, cpu_model
    versus = {"batch_size": 32, "cpu_fp32_pairs_per_s": cpu["pairs_per_s"], "cpu_steps_timed": args.cpu_steps}
    for precision in ("amp", "fp32"):
        row = bare.get(f"{precision}_b32")
        if row:
            versus[f"{args.device}_{precision}_pairs_per_s"] = row["pairs_per_s"]
            versus[f"{args.device}_{precision}_to_cpu_speed_ratio"] = round(
                row["pairs_per_s"] / cpu["pairs_per_s"], 1
            )
    out["gpu_vs_cpu"] = versus
    print(f"{model_name}: cpu baseline done after {time.perf_counter() - started:.0f} s", flush=True)

    whole = {}
    batch = args.whole_batch
    trainer = new_trainer(model, device=args.device, batch=batch, amp=True, steps=10**6)
    bare_rate = bare_steps(trainer, pixels, tokens, batch=batch, steps=args.steps)["pairs_per_s"]
    for threads in args.loader_threads:
        row = whole_steps(
            trainer,
            train,
            preprocess=preprocess_train,
            tokenizer=tokenizer,
            batch=batch,
            steps=args.steps,
            threads=threads,
        )
        row["whole_to_bare_ratio"] = round(row["pairs_per_s"] / bare_rate, 3)
        row["epoch_minutes_44k"] = round(CATALOGUE_WITH_IMAGE * TRAIN_FRACTION / row["pairs_per_s"] / 60, 2)
        whole[f"threads{threads}"] = row
    out["whole_vs_bare_amp"] = {"batch_size": batch, "bare_pairs_per_s": bare_rate, **whole}
    print(f"{model_name}: whole steps done after {time.perf_counter() - started:.0f} s", flush=True)
    del trainer, model
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    if args.recall_steps:
        out["recall"] = recall_run(model_name, train, test, args)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--pairs", type=int, default=8000, help="products read from the zip (train + test)")
    parser.add_argument("--test", type=int, default=1024, help="held-out products for recall (at most)")
    parser.add_argument("--models", nargs="+", default=["ViT-B-32", "fashionsite-tiny"])
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 64, 128, 256])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cpu-steps", type=int, default=1)
    parser.add_argument("--whole-batch", type=int, default=128)
    parser.add_argument("--loader-threads", nargs="+", type=int, default=[WORKER_LOADER_THREADS, 16])
    parser.add_argument("--recall-steps", type=int, default=90)
    parser.add_argument("--recall-batch", type=int, default=256)
    parser.add_argument("--recall-lr", type=float, default=5e-4)
    parser.add_argument("--recall-threads", type=int, default=16)
    parser.add_argument("--device", default=None, help="default: cuda when present, else cpu")
    parser.add_argument(
        "--name", default="finetune-gpu", help="results file name (benchmarks/results/NAME.json)"
    )
    args = parser.parse_args()

    import torch

    from benchmarks.common import machine_info, print_table, write_results

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    items = read_items(args.dataset, args.pairs)
    use_memory_images(items)
    train, test = split_pairs(items)
    test = test[: args.test]
    metrics: dict = {
        "products": len(items),
        "train_pairs": len(train),
        "test_products": len(test),
        "dataset": args.dataset.name,
        "device": args.device,
        "gpu_measured": args.device.startswith("cuda"),
        "torch_threads": torch.get_num_threads(),
        "steps_timed": args.steps,
        "models": {},
    }
    targets = {"whole_to_bare_ratio (AMP, batch 128, 2 loader threads)": ">= 0.85"}
    info = machine_info()
    notes = (
        "Random weights (pretrained=none) through embeddings.encoders.build_trainable; Trainer, "
        "PairBatches and evaluate_model of embeddings.training with images decoded from the zip's bytes in "
        "memory (not default_storage). bare = Trainer.train_step on pre-augmented tensors (host-to-device "
        "copy included); whole = PairBatches feeding train_step; amp = the Trainer's autocast (bf16 where "
        "supported); gpu_vs_cpu = the same batches in this process. Recall: a fresh model, lr/batch/steps "
        "as recorded, held-out products split by title; random init, so the numbers show learning from "
        "scratch, not what fine-tuning pretrained weights gives. "
        f"Machine: {info['cpu_model']}, {info['cores']} cores, GPU {info['gpu']}; nothing else running on it."
    )
    rows = []
    for model_name in args.models:
        result = measure_model(model_name, train, test, args)
        metrics["models"][model_name] = result
        write_results(args.name, metrics, targets, notes=notes)  # after each model: a kill keeps the rest
        for key, value in result["bare_by_precision_and_batch"].items():
            shown = value["pairs_per_s"] if isinstance(value, dict) else value
            rows.append(
                (f"{model_name} bare {key}" + (" pairs/s" if isinstance(value, dict) else ""), shown, None)
            )
        for key, value in result["gpu_vs_cpu"].items():
            if key.endswith("ratio"):
                rows.append((f"{model_name} {key} b32", value, None))
        for key, value in result["whole_vs_bare_amp"].items():
            if isinstance(value, dict):
                target = ">= 0.85" if key == f"threads{WORKER_LOADER_THREADS}" else None
                rows.append((f"{model_name} whole/bare {key}", value["whole_to_bare_ratio"], target))
        for row in result.get("recall", {}).get("curve", []):
            rows.append(
                (
                    f"{model_name} step {row['step']} t2i R@10",
                    round(row["text_to_image"]["recall@10"], 4),
                    None,
                )
            )
            rows.append(
                (
                    f"{model_name} step {row['step']} i2t R@10",
                    round(row["image_to_text"]["recall@10"], 4),
                    None,
                )
            )
    print_table(rows)


if __name__ == "__main__":
    main()
