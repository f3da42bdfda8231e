# Sourced by a scalefree bundle's launcher (./scalefree) and by bench/gpu.sh: finds the
# libtorch of the machine's PyTorch and puts it on LD_LIBRARY_PATH for bin/scalefree.
#
# The PyTorch is $SCALEFREE_PYTHON's (default: python3 on PATH); its release must be the
# one the bundle was built for (the TORCH_VERSION file), since libtorch's C++ ABI
# changes between releases. Its CUDA flavour (+cu126, +cu130, +cpu) may be any.
# Sets BUNDLE_DIR, TORCH_LIB and TORCH_FOUND (the version found); exits on a problem.

BUNDLE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle_torch=$(cat "$BUNDLE_DIR/TORCH_VERSION")
python=${SCALEFREE_PYTHON:-python3}

if [[ $python == */* ]]; then
    if [[ ! -f $python || ! -x $python ]]; then
        echo "error: this scalefree bundle takes libtorch from PyTorch, and SCALEFREE_PYTHON=$python" \
            "is not an executable file; set it to a python that has torch $bundle_torch" >&2
        exit 1
    fi
elif ! command -v "$python" >/dev/null 2>&1; then
    echo "error: this scalefree bundle takes libtorch from PyTorch, and there is no '$python' on PATH;" \
        "set SCALEFREE_PYTHON to a python that has torch $bundle_torch" >&2
    exit 1
fi
# stdout carries the answer; stderr (import warnings, or the error) is kept apart.
torch_errors=$(mktemp)
if ! torch_found=$("$python" -c 'import os, torch; print(torch.__version__); print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>"$torch_errors"); then
    echo "error: '$python' cannot import torch ($(tail -n 1 "$torch_errors"));" \
        "install torch==$bundle_torch there, or set SCALEFREE_PYTHON to a python that has it" >&2
    rm -f "$torch_errors"
    exit 1
fi
rm -f "$torch_errors"
TORCH_FOUND=$(head -n 1 <<<"$torch_found")
TORCH_LIB=$(tail -n 1 <<<"$torch_found")
if [[ ${TORCH_FOUND%%+*} != "${bundle_torch%%+*}" ]]; then
    echo "error: this scalefree bundle is built for torch $bundle_torch, but '$python' has torch $TORCH_FOUND;" \
        "set SCALEFREE_PYTHON to a python with torch $bundle_torch, or build a bundle for" \
        "${TORCH_FOUND%%+*} where Rust is installed: make bundle TORCH_VERSION=${TORCH_FOUND%%+*}" \
        "(supported: 2.13.0, 2.11.0)" >&2
    exit 1
fi
if [[ ! -f $TORCH_LIB/libtorch_cpu.so ]]; then
    echo "error: torch $TORCH_FOUND of '$python' has no $TORCH_LIB/libtorch_cpu.so" >&2
    exit 1
fi
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
