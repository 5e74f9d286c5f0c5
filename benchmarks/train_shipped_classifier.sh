#!/bin/bash
# Rebuild the shipped mask classifier with the ordinary CLI, from ../shared/data (one command):
#   8 classifiers (seeds 0-3, plain and --synth-incorrect), merged into one teacher, and one
#   student distilled from it on the same data. On a GPU (--device auto picks it) this takes
#   minutes; on a 2-core CPU about 1.5 hours (8 x ~8 min, then the student, whose teacher runs
#   8 models per batch). The shipped file was made by benchmarks/gpu_distill.sh on a lent H200,
#   from the same crops packed as JPEG (benchmarks/pack_samples.py): the only difference.
#   usage: benchmarks/train_shipped_classifier.sh [OUT_DIR]   (extra `maskwatch train` options via $TRAIN_OPTS)
set -eu
OUT=${1:-runs/classifier}; mkdir -p "$OUT"
D=${DATA:-../shared/data}
# The `train` parts of both box-annotated sets (ANNOTATIONS:PART); $EXTRA_DATA adds more (e.g. ilc2021's val
# part once a recipe is chosen).
COMMON="--data $D/prajna $D/mask-4k $D/kaggle-853/annotations.json:train $D/ilc2021/annotations.json:train ${EXTRA_DATA:-} --epochs 3 ${TRAIN_OPTS:-}"
for seed in 0 1 2 3; do
  maskwatch train $COMMON --seed $seed --out "$OUT/plain_s$seed.onnx"
  maskwatch train $COMMON --seed $seed --synth-incorrect --out "$OUT/synth_s$seed.onnx"
done
maskwatch ensemble "$OUT"/plain_s?.onnx "$OUT"/synth_s?.onnx --out "$OUT/teacher8.onnx"
maskwatch train $COMMON --seed 0 --synth-incorrect --teacher "$OUT/teacher8.onnx" --distill-weight 0.5 --out "$OUT/mask_classifier.onnx"
echo "wrote $OUT/mask_classifier.onnx"
