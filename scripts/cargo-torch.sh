#!/usr/bin/env bash
# cargo for one of the supported libtorch versions:
#   scripts/cargo-torch.sh TORCH_VERSION cargo-arguments...
#
# Each libtorch release needs its own tch: libtorch 2.13.0 → tch 0.26 (the default, the
# repository's Cargo.lock), 2.11.0 → tch 0.24 (build/torch-2.11.0.lock). The manifests
# accept both (tch = ">=0.24, <0.27"); the lock file decides. Cargo reads the lock file
# only from beside the workspace manifest, and one workspace cannot hold both tch
# versions (torch-sys declares `links`), so another version builds in a copy of the
# sources at target/torch-<version>/workspace with its own lock file, into
# target/torch-<version>/target. The copy is refreshed on every call (modification
# times kept, so cargo rebuilds only what changed) and the lock file is copied back,
# so a dependency added to a manifest reaches build/torch-<version>.lock. Cargo runs from
# the repository root, so `cargo run` sees the repository's data/ and writes its results there.
#
# The environment decides which libtorch torch-sys links (the Makefile sets
# LIBTORCH_USE_PYTORCH and the venv of that torch version, or LIBTORCH).
set -euo pipefail
DEFAULT=2.13.0
SUPPORTED="2.13.0 2.11.0"
version=${1:-}
shift || true
cd "$(dirname "$0")/.."

if [[ $version == "$DEFAULT" ]]; then
    exec cargo "$@"
fi
lock=build/torch-$version.lock
if [[ ! -f $lock ]]; then
    echo "error: TORCH_VERSION=$version is not supported; choose one of: $SUPPORTED" >&2
    exit 2
fi

dir=target/torch-$version
ws=$dir/workspace
mkdir -p "$dir"
# One build of a version at a time: the copy is replaced below.
exec 9>"$dir/.lock"
flock 9
rm -rf "$ws"
mkdir -p "$ws"
# The sources as they are now: tracked files and untracked ones git does not ignore.
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$ws"
cp -p "$lock" "$ws/Cargo.lock"
# The copy has no .git: the build script takes the description from here.
export SCALEFREE_GIT_DESCRIBE
SCALEFREE_GIT_DESCRIBE=$(git describe --always --dirty --tags 2>/dev/null || echo unknown)
status=0
# From the repository root, so that `cargo run` (the bench targets) reads data/ and writes
# bench/results/ here, not into the copy that the next call replaces.
subcommand=$1
shift
CARGO_TARGET_DIR="$PWD/$dir/target" cargo "$subcommand" --manifest-path "$ws/Cargo.toml" "$@" || status=$?
cmp -s "$ws/Cargo.lock" "$lock" || cp "$ws/Cargo.lock" "$lock"
exit $status
