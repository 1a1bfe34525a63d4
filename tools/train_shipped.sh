#!/usr/bin/env bash
# Trains the models shipped in assets/models/ by their recipes (the tutorials', and ours beyond
# them) on the real data.
# Each run writes its artifact atomically, so the script can be stopped and rerun at any time.
# Usage: tools/train_shipped.sh [MODEL...]   (default: every CPU-trainable registry model)
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export TF_CPP_MIN_LOG_LEVEL=2
out=assets/models
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(strided3 peltarion baseline baseline_same baseline_wide cnn1 twoconv cnn3 cnn4 robust)
for m in "${models[@]}"; do
  # every model by its full recipe (cnn4, the longest, took 53 min of both cores here)
  echo "=== $m $(date -u +%H:%M:%S)"
  $PY -m fmnist_core train "$m" --out "$out" 2>&1
done
echo "=== done $(date -u +%H:%M:%S)"
