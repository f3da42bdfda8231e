#!/usr/bin/env bash
# bench/gpu.sh: everything a GPU machine should run, in one go, from a fresh checkout.
#
#   bash bench/gpu.sh            (CIFAR10_SOURCE=... as for `make data`; THREADS=8 default)
#
# 1. builds (`make setup`, `make data`) and checks that torch and scalefree both see the GPU;
# 2. checks the CUDA paths: models forward/backward on CUDA, the optimizer's tensor-ops
#    kernel on CUDA against the Python paper optimizer, and a short CUDA training run
#    with scale logging;
# 3. times `bench/compare.py` on the CPU and on CUDA side by side with PyTorch, writing
#    bench/results/<date>-gpu.json and .md.
# Each step prints its time; the script stops at the first failure with its message.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-8}
NAME=${NAME:-$(date +%F)-gpu}
step() { echo; echo "== $* ($(date +%T))"; }

step "build and data"
make setup data torchvision
export LIBTORCH_USE_PYTORCH=1 VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"

step "torch and scalefree see the GPU"
python -c 'import torch; assert torch.cuda.is_available(), "torch sees no GPU"; print(torch.__version__, torch.cuda.get_device_name(0))'
target/release/scalefree info
target/release/scalefree info --json | grep -q '"cuda_available": true' \
  || { echo "error: scalefree (libtorch through tch) sees no GPU; libtorch_cuda.so must be linked in (build/torch_link.rs; check: ldd target/release/scalefree | grep torch_cuda)" >&2; exit 1; }

step "CUDA checks"
cargo test --release -p models --test forward_backward -- cuda
cargo test --release --test pytorch_baseline -- the_python_paper_optimizer
run=$(mktemp -d)
target/release/scalefree train --device cuda --model resnet20 --bn --max-steps 60 --hist-every 20 \
  --eval-every 0 --threads "$THREADS" --quiet --out "$run/cuda-run"
python -c "import json,sys; t=json.load(open('$run/cuda-run/summary.json'))['timing']; print(t); assert t['scale_log_events'] == 4"
rm -rf "$run"

step "side-by-side benchmarks, CPU and CUDA"
python bench/compare.py --device auto --threads "$THREADS" --name "$NAME" ${BENCH_ARGS:-}
echo "results: bench/results/$NAME.json and bench/results/$NAME.md"
