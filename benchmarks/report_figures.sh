#!/bin/bash
# Every accuracy figure of the README and model card, one command each, written to $OUT/*.txt.
#   usage: benchmarks/report_figures.sh [OUT_DIR] [CLASSIFIER_WITHOUT_VAL]
# CLASSIFIER_WITHOUT_VAL: the shipped recipe trained without ilc2021 `val` (the shipped classifier
# was retrained with `val` once chosen, so its `val` figures come from this one; see the model card).
set -eu
OUT=${1:-runs/report}; NOVAL=${2:-runs/cls_ilc_nonface_s0.onnx}; mkdir -p "$OUT"
D=${DATA:-../shared/data}
# The models shipped before this round, from git history (commit 6a94498).
OLD_REV=${OLD_REV:-6a94498}
OLD_CLASSIFIER="$OUT/old_mask_classifier.onnx"; OLD_DETECTOR="$OUT/old_face_detector.onnx"
git show "$OLD_REV:src/maskwatch/models/mask_classifier.onnx" > "$OLD_CLASSIFIER"
git show "$OLD_REV:src/maskwatch/models/face_detector.onnx" > "$OLD_DETECTOR"
KT="--annotations $D/kaggle-853/annotations.json:test"
IV="--annotations $D/ilc2021/annotations.json:val"
# The shipped pipeline on kaggle-853 test (never used for training or choosing).
maskwatch evaluate $KT --bootstrap 200 --plot "$OUT/pr_kaggle_test.png" --json "$OUT/kaggle_test.json" > "$OUT/kaggle_test.txt"
# ilc2021 val with the classifier trained without val.
maskwatch evaluate $IV --classifier "$NOVAL" --bootstrap 200 --plot "$OUT/pr_ilc_val.png" --reliability "$OUT/reliability_ilc_val.png" \
    --json "$OUT/ilc_val.json" > "$OUT/ilc_val.txt"
# The same against the annotation review (unboxed real faces ignored, wrong labels corrected; docs/evaluation.md).
maskwatch evaluate $IV --classifier "$NOVAL" --corrections benchmarks/ilc2021_val_corrections.json --bootstrap 200 --plot "" \
    --json "$OUT/ilc_val_corrected.json" > "$OUT/ilc_val_corrected.txt"
# Before and after on the same photos, paired: the models shipped before (one detector pass) against today's.
maskwatch evaluate $KT --compare "$OLD_CLASSIFIER@$OLD_DETECTOR@single" shipped --bootstrap 200 --json "$OUT/paired_kaggle_test.json" > "$OUT/paired_kaggle_test.txt"
maskwatch evaluate $IV --compare "$OLD_CLASSIFIER@$OLD_DETECTOR@single" "$NOVAL" --bootstrap 200 --json "$OUT/paired_ilc_val.json" > "$OUT/paired_ilc_val.txt"
echo "figures in $OUT"
