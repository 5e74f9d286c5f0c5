#!/bin/bash
# On a machine with a GPU that has the repository but not ../shared/data, from a pack of crops (benchmarks/pack_samples.py, in pack/):
#   1. 8 classifiers per part (4 seeds plain, 4 seeds --synth-incorrect), for `fit` (selection on
#      `holdout`) and for all of `train` (to ship), 16 runs in parallel;
#   2. each part's 8 merged into one teacher (`maskwatch ensemble`);
#   3. single students distilled from the teacher (--teacher, with synthetic examples): per part,
#      seed 0 for 3 and 6 epochs, seed 1 for 6.
# Returns the fit members and all students as tar pieces under $OUT (for a way of bringing files back that takes at most 8 files).
set -u
OUT=${OUT:-runs/gpu}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src:$PWD/pack/site PYTHONUNBUFFERED=1
PY=${PY:-python3}
PACK=${PACK:-pack/samples.npz}; EPOCHS=${EPOCHS:-3}; SEEDS=${SEEDS:-0 1 2 3}
R=${R:-/tmp/gpu_runs}; mkdir -p $R/fit $R/train $R/logs
T0=$(date +%s)
nvidia-smi -L
$PY -c "import torch, onnx, onnxruntime, cv2; print('torch', torch.__version__, torch.cuda.is_available(), 'ort', onnxruntime.__version__)"
train() {  # part seed synth(0/1) out [extra...] (--timeout S last: give up after S seconds)
  local part=$1 seed=$2 syn=$3 out=$4; shift 4
  local limit=600; if [ "${@: -2:1}" = --timeout ]; then limit=${@: -1}; set -- "${@:1:$(($#-2))}"; fi
  local split=""; [ "$part" = fit ] && split="--split pack/holdout_split.json --part fit"
  local s=""; [ "$syn" = 1 ] && s="--synth-incorrect"
  timeout $limit $PY benchmarks/train_from_pack.py --pack $PACK $split $s --seed $seed --epochs $EPOCHS --out $out "$@" > $R/logs/$(basename $(dirname $out))_$(basename $out .onnx).log 2>&1
}
for part in fit train; do
  for seed in $SEEDS; do
    train $part $seed 0 $R/$part/plain_s$seed.onnx --threads 1 --timeout 200 &
    train $part $seed 1 $R/$part/synth_s$seed.onnx --threads 1 --timeout 200 &
  done
done
wait
echo "members done after $(( $(date +%s) - T0 )) s"; ls $R/fit $R/train | grep -c onnx
for part in fit train; do
  $PY -m maskwatch.cli ensemble $R/$part/plain_s*.onnx $R/$part/synth_s*.onnx --out $R/$part/teacher8.onnx
done
for part in fit train; do
  train $part 0 1 $R/$part/student_e3_s0.onnx --teacher $R/$part/teacher8.onnx --threads 3 --timeout 280 &
  EPOCHS=$((EPOCHS * 2)) train $part 0 1 $R/$part/student_e6_s0.onnx --teacher $R/$part/teacher8.onnx --threads 3 --timeout 280 &
  EPOCHS=$((EPOCHS * 2)) train $part 1 1 $R/$part/student_e6_s1.onnx --teacher $R/$part/teacher8.onnx --threads 3 --timeout 280 &
done
wait
echo "students done after $(( $(date +%s) - T0 )) s"
grep -h "wrote\|training on\|accuracy" $R/logs/*.log | sort | uniq -c | sort -rn | head -30
tail -n 3 $R/logs/*.log > $OUT/logs.txt
cp $R/fit/*_metrics.json $R/train/*_metrics.json /tmp/ 2>/dev/null
(cd $R && tar cf - fit/plain_s?.onnx fit/synth_s?.onnx fit/student_*.onnx train/student_*.onnx logs fit/*_metrics.json train/*_metrics.json) | split -b 15m - $OUT/res.tar.
ls -la $OUT; echo "all done after $(( $(date +%s) - T0 )) s"
