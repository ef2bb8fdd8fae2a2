#!/usr/bin/env bash
# Issue #20 on a GPU machine (the `device` tool's `run`; its python3 holds torch, onnx and
# onnxruntime, so no venv travels): encode the pooled realistic + basic training set on all
# cores, train the second candidate's recipe from scratch on CUDA for as many steps as
# MINUTES allow, then score the result on the annotated real frames and on held-out rooms of
# both styles. The ONNX file and the sgnet-eval JSON files land in $OUT, ready for
# `python -m sgnet_ros.training.compare` (models/README.md).
#
#   bash tools/device_train_candidate.sh [EPOCHS] [MINUTES]
#   DEVICE=cpu TRAIN_SEEDS=0:8 EVAL_SEEDS=2000000:2000002 OUT=/tmp/x bash tools/device_train_candidate.sh 1 5
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-40}
minutes=${2:-7}
out=${OUT:-out/device}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
python3 -m sgnet_ros.training.train --data synthetic --style realistic basic \
    --train-seeds "${TRAIN_SEEDS:-0:3000}" --val-seeds 1000000:1000100 --variant small \
    --spatial-mode hha --size 240x320 --crop 144x192 --augment strong --epochs "$epochs" \
    --batch-size 8 --lr 3e-3 --seed 0 --workers "$(nproc)" --cache out/cache \
    --device "${DEVICE:-cuda}" --max-minutes "$minutes" --out out/device_run \
    --export "$out/candidate.onnx" 2>&1 | grep -v "batch/s\|s/batch" | tee "$out/train.log"
for style in basic realistic; do
    python3 -m sgnet_ros.training.evaluation "$out/candidate.onnx" --size 240x320 \
        --synthetic-seeds "${EVAL_SEEDS:-2000000:2000200}" --style "$style" \
        --json "$out/$style.json" 2>/dev/null | grep -i "miou"
done
python3 -m sgnet_ros.training.evaluation "$out/candidate.onnx" --real test/data/real \
    --json "$out/real.json" 2>/dev/null | grep -i "miou\|pixel accuracy"
