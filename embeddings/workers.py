"""What each Celery worker says about itself: the `embedding_device` remote-control command.

Celery's own `inspect` tells which workers are alive, their queues and pool size (one broadcast
each), but not whether they embed on a GPU. Each worker imports this module at start
(CELERY_IMPORTS), works out its torch device once when it is ready (so the dashboard's 1-second
broadcast never waits on a torch import) and answers the `embedding_device` broadcast with its
device, queues and pool size: the dashboard pays one broadcast, read by `celery_workers()`.
"""

from __future__ import annotations

import os
import subprocess

from celery.signals import worker_ready
from celery.worker.control import inspect_command

_device: dict | None = None


def describe_device() -> dict:
    """The device this process embeds on: {"device": "cuda"|"cpu"|…, "gpu": name or "", "torch": version}.

    Runs in the worker's parent process, which must not initialise CUDA (children forked after
    that could not use it), so the GPU's name comes from nvidia-smi rather than torch.
    """
    import torch

    from embeddings.encoders import select_device

    device = select_device()
    gpu = _gpu_name(device) if device.startswith("cuda") else ""
    return {"device": device, "gpu": gpu, "torch": torch.__version__}


def _gpu_name(device: str) -> str:
    index = device.split(":", 1)[1] if ":" in device else "0"
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if index.isdigit() and int(index) < len(visible):
        index = visible[int(index)]  # nvidia-smi -i takes the physical index or the GPU's UUID
    try:
        found = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", index],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return (found.stdout.strip().splitlines() or [""])[0]


@worker_ready.connect
def _remember_device(**_kwargs):
    global _device
    _device = describe_device()


@inspect_command()
def embedding_device(state):
    """Reply with what the dashboard shows of this worker: queues, pool size and embedding device
    (computed at start-up), so one broadcast answers everything."""
    global _device
    if _device is None:
        _device = describe_device()
    consumer = state.consumer
    return {
        **_device,
        "queues": sorted(queue.name for queue in consumer.task_consumer.queues),
        "concurrency": consumer.pool.num_processes if consumer.pool is not None else None,
    }


def celery_workers(timeout: float = 1.0) -> list[dict]:
    """Workers answering the `embedding_device` broadcast within `timeout` (one round trip):
    name, queues, pool size and embedding device. A broker outage gives an empty list."""
    from fashionsite.celery import app

    try:
        replies = app.control.broadcast("embedding_device", reply=True, timeout=timeout) or []
    except Exception:  # noqa: BLE001 - a broker outage must not break the dashboard
        return []
    answers = {name: answer for reply in replies for name, answer in reply.items()}
    return [
        {
            "name": name,
            "alive": True,
            "queues": answer.get("queues", []),
            "concurrency": answer.get("concurrency"),
            "device": answer.get("device", ""),
            "gpu": answer.get("gpu", ""),
        }
        for name, answer in sorted(answers.items())
    ]
