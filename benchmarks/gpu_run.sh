#!/bin/bash
# Both GPU benchmarks on a machine with a GPU and no network (results under $OUT, or /tmp/gpu-out).
#
#   bash benchmarks/gpu_run.sh [SAMPLE_ZIP] [WHEELS_DIR]
#
# SAMPLE_ZIP: a catalogue sample from benchmarks/catalogue_sample.py (default: the dataset zip).
# WHEELS_DIR: wheels of what the machine lacks (open_clip_torch, ftfy, wcwidth), installed into
# /tmp/site first. Each benchmark has its own time limit, so a slow one still leaves the other's
# results; both write benchmarks/results/*-gpu.json after each model.
set -o pipefail
cd "$(dirname "$0")/.." || exit 1
dataset=${1:-/work/shared/datasets/fashion-product-images-small.zip}
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
if [ -n "$2" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$2"/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,temperature.gpu --format=csv | tee "$out/nvidia-smi.txt"
timeout 160 python3 benchmarks/embed_gpu.py --dataset "$dataset" 2>&1 | grep --line-buffered -v "No pretrained weights" | tee "$out/embed.log"
cp benchmarks/results/embed-gpu.json "$out/"
timeout 265 python3 benchmarks/finetune_gpu.py --dataset "$dataset" 2>&1 | grep --line-buffered -v "No pretrained weights" | tee "$out/finetune.log"
cp benchmarks/results/finetune-gpu.json "$out/"
