"""Shared benchmark plumbing: machine description and the results JSON every benchmark writes."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """Cores, CPU model, GPU (or none) and torch version of the machine running the benchmark."""
    info = {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        info["torch"] = "not installed"
        info["gpu"] = "none"
    return info


def write_results(name: str, metrics: dict, targets: dict, notes: str = "") -> Path:
    """Write benchmarks/results/<name>.json with date, machine, metrics and targets; returns the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "name": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "metrics": metrics,
        "targets": targets,
        "notes": notes,
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def print_table(rows: list[tuple[str, object, object]]) -> None:
    """Print (metric, value, target) rows as an aligned table."""
    width = max(len(str(row[0])) for row in rows) if rows else 10
    print(f"{'metric':<{width}}  {'value':>14}  target")
    for metric, value, target in rows:
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{metric:<{width}}  {shown:>14}  {'' if target is None else target}")
