#!/usr/bin/env bash
# bench/gpu.sh OUT_DIR [--quick] [--threads N]: what a GPU machine runs, from a scalefree bundle
# (`make bundle`): unpack it on a machine with PyTorch (no Rust, no network needed), then
#
#   bash bench/gpu.sh results
#
# Correctness on CUDA (models and optimizer against the CPU and against the Python
# float64 reference, training with histograms and TensorBoard, SIGTERM and resume),
# speed side by side with PyTorch, and how busy the GPU is; everything measured goes to
# OUT_DIR/gpu.json and gpu.md (with the benchmark's bench.json and bench.md). Without a
# GPU the CPU parts run and the CUDA parts are listed as skipped. Sized for about 8
# minutes on one GPU (a budget: no GPU has run it yet). bench/gpu_check.py does the work; this script finds the PyTorch first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ ! -f $here/../torch-env.sh ]]; then
    echo "error: bench/gpu.sh runs from a bundle: \`make bundle\`, unpack it, then bash bench/gpu.sh OUT_DIR" >&2
    exit 2
fi
if [[ $# -lt 1 || $1 == -* ]]; then
    echo "usage: bash bench/gpu.sh OUT_DIR [--quick] [--threads N]" >&2
    exit 2
fi
source "$here/../torch-env.sh"
exec "${SCALEFREE_PYTHON:-python3}" "$here/gpu_check.py" "$@"
