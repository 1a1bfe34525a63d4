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
# robust after resnet: it fine-tunes the resnet it finds in $out; the ensemble last: it is
# made from the shipped models it finds in $out
[ ${#models[@]} -gt 0 ] || models=(strided3 peltarion baseline baseline_same baseline_wide cnn1 twoconv cnn3 cnn4 resnet robust ensemble)
for m in "${models[@]}"; do
  # every model by its full recipe (cnn4 took 53 min of both cores here; resnet 36 epochs
  # in bfloat16 about 105 min; on a GPU, KERAS_BACKEND=jax and the default precision)
  extra=()
  # TensorFlow on a CPU with AVX512-BF16: bfloat16 (1.5x faster here; the file ships float32)
  if { [ "$m" = resnet ] || [ "$m" = robust ]; } && [ "${KERAS_BACKEND:-tensorflow}" = tensorflow ] \
      && ! command -v nvidia-smi >/dev/null && grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null; then
    extra=(--precision mixed_bfloat16)
  fi
  echo "=== $m $(date -u +%H:%M:%S)"
  $PY -m fmnist_core train "$m" --out "$out" "${extra[@]}" 2>&1
done
echo "=== done $(date -u +%H:%M:%S)"
