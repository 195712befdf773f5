#!/usr/bin/env bash
# GPU figures of the localizer: bf16 training throughput and batched inference latency for
# the cpu-small and paper presets, in under 5 minutes, a short table at the end.
#
#   bash bench/gpu.sh               # on a CUDA machine (writes runs/bench/gpu.json)
#   bash bench/gpu.sh --cpu-smoke   # anywhere: tiny sizes on the CPU, checks the script only
#
# Without a CUDA device (and without --cpu-smoke) it says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY=.venv/bin/python; fi
export HF_HUB_OFFLINE=1
mkdir -p runs/bench

if [ "${1:-}" = "--cpu-smoke" ]; then
  echo "gpu.sh: --cpu-smoke: tiny sizes on the CPU (checks the script, measures nothing)"
  timeout 280 "$PY" bench/gpu.py --device cpu --smoke --table --out runs/bench/gpu-smoke.json
  exit 0
fi

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu.sh: no CUDA device here: skipped (run 'bash bench/gpu.sh --cpu-smoke' to check the script)"
  exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
start=$(date +%s)
# one process for both presets; 280 s keeps the whole script under 5 minutes
timeout 280 "$PY" bench/gpu.py --device cuda --table --out runs/bench/gpu.json
echo "gpu.sh: $(($(date +%s) - start)) s; the JSON is in runs/bench/gpu.json"
