#!/usr/bin/env bash
# scripts/bundle.sh TORCH_VERSION BIN_DIR OUT_DIR   (run by `make bundle`)
#
# Assembles OUT_DIR/scalefree-<version>-torch-<TORCH_VERSION>/ and its .tar.gz: what a
# GPU node with PyTorch but no Rust and no network needs.
#   scalefree, torch-env.sh   the launcher, which takes libtorch from the node's PyTorch
#   bin/scalefree             the stripped binary (bin/examples/: the benchmark programs)
#   experiments/              the experiment files, for `./scalefree sweep <name>`
#   bench/                    gpu.sh, compare.py and the PyTorch baseline
#   TORCH_VERSION, README.md
# The archive is refused above 60 MB (a typical cluster's transfer limits).
set -euo pipefail
version=$1 bin_dir=$2 out=$3
cd "$(dirname "$0")/.."
LIMIT_MB=60

crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name=scalefree-$crate_version-torch-$version
dir=$out/$name
for binary in scalefree examples/bench_optim examples/bench_data; do
    [[ -x $bin_dir/$binary ]] || { echo "error: $bin_dir/$binary is missing (make bundle builds it)" >&2; exit 1; }
done

# Built in a temporary folder and renamed into place, so that an interrupted run never
# leaves a half-made bundle under the final name.
tmp=$(mktemp -d "$out/.bundle.XXXXXX" 2>/dev/null || { mkdir -p "$out" && mktemp -d "$out/.bundle.XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/$name/bin/examples" "$tmp/$name/bench/pytorch"
for binary in scalefree examples/bench_optim examples/bench_data; do
    # Debug information is most of the binary's size; symbols stay for backtraces.
    strip --strip-debug -o "$tmp/$name/bin/$binary" "$bin_dir/$binary"
done
cp bundle/scalefree bundle/torch-env.sh bundle/README.md "$tmp/$name/"
cp -r experiments "$tmp/$name/"
cp bench/gpu.sh bench/gpu_check.py bench/compare.py "$tmp/$name/bench/"
cp bench/pytorch/*.py "$tmp/$name/bench/pytorch/"
echo "$version" >"$tmp/$name/TORCH_VERSION"
git describe --always --dirty --tags >"$tmp/$name/COMMIT" 2>/dev/null || echo unknown >"$tmp/$name/COMMIT"
tar -C "$tmp" -czf "$tmp/$name.tar.gz" "$name"

size_mb=$(($(stat -c %s "$tmp/$name.tar.gz") / 1000000))
if ((size_mb > LIMIT_MB)); then
    echo "error: the bundle is $size_mb MB, above the $LIMIT_MB MB limit" >&2
    exit 1
fi
rm -rf "$dir" "$dir.tar.gz"
mv "$tmp/$name" "$dir"
mv "$tmp/$name.tar.gz" "$dir.tar.gz"
echo "bundle: $dir/ and $dir.tar.gz ($size_mb MB, torch $version)"
echo "on the GPU machine: tar xzf $name.tar.gz && cd $name && ./scalefree info && bash bench/gpu.sh results"
