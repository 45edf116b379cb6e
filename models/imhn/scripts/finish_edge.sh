#!/usr/bin/env bash
# Export, quantize (both int8 formats), evaluate (Python sanity decoder) and time a trained
# edge checkpoint. Usage (from the repo root):
#   models/imhn/scripts/finish_edge.sh CHECKPOINT TRAIN_ANNOTATIONS HELDOUT_ANNOTATIONS WORKDIR
# Writes models/imhn-edge-fp32.onnx and WORKDIR/{qdq,qlinearconv}.onnx + WORKDIR/*.json.
set -euo pipefail
ck=$1 train=$2 heldout=$3 work=$4
py=${PYTHON:-models/.venv/bin/python}
mkdir -p "$work"
export PYTHONPATH=models/imhn
"$py" -m imhn.export --checkpoint "$ck" --out models/imhn-edge-fp32.onnx
for fmt in qdq qlinearconv; do
  "$py" -m imhn.quantize --fp32 models/imhn-edge-fp32.onnx --out "$work/$fmt.onnx" \
    --format "$fmt" --annotations "$train" --count 64 --size 256
done
for m in models/imhn-edge-fp32.onnx "$work/qdq.onnx" "$work/qlinearconv.onnx"; do
  name=$(basename "$m" .onnx)
  "$py" -m imhn.evaluate --model "$m" --annotations "$heldout" \
    --results "$work/$name.results.json" | tee "$work/$name.ap.json"
done
"$py" -m imhn.bench models/imhn-edge-fp32.onnx "$work/qdq.onnx" "$work/qlinearconv.onnx" --threads 1 --runs 20
