#!/bin/bash
# Rebuild the shipped mask classifier and face detector with the ordinary CLI, from ../shared/data
# (one command; about 25 minutes on a 2-core CPU, minutes on a GPU: --device auto picks it).
#   usage: scripts/train_shipped_models.sh [OUT_DIR]   (extra `maskwatch train` options via $TRAIN_OPTS)
# Set WITHOUT_VAL=1 for the versions whose ilc2021 `val` figures the model card reports.
set -eu
OUT=${1:-runs/shipped}; mkdir -p "$OUT"
D=${DATA:-../shared/data}
VAL="$D/ilc2021/annotations.json:val"
[ "${WITHOUT_VAL:-0}" = 1 ] && VAL=""
maskwatch train --data $D/prajna $D/mask-4k $D/kaggle-853/annotations.json:train $D/ilc2021/annotations.json:train $VAL \
    --epochs 3 --seed 0 --non-faces ${TRAIN_OPTS:-} --out "$OUT/mask_classifier.onnx"
maskwatch train-detector --data $D/kaggle-853/annotations.json:train $D/ilc2021/annotations.json:train \
    --epochs 15 --lr 1e-4 --out "$OUT/face_detector.onnx"
echo "wrote $OUT/mask_classifier.onnx and $OUT/face_detector.onnx"
