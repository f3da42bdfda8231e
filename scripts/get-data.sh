#!/usr/bin/env bash
# `make data`: put a CIFAR dataset where the project looks for it, data/cifar10 (or
# data/cifar100) in the repository, which is what scalefree::data::default_source(kind)
# returns for a command run from the repository root (as the Makefile does). With
# SCALEFREE_DATA set, the dataset goes to $SCALEFREE_DATA/<dataset> instead, where
# scalefree then looks for it too (a relative SCALEFREE_DATA is taken from the current
# directory).
#
#   DATASET=cifar10|cifar100  scripts/get-data.sh        (default cifar10)
#
# data/<dataset> ends up as one of:
#   - a symbolic link to the archive or folder named by CIFAR10_SOURCE (CIFAR100_SOURCE),
#     checked but not copied: the official binary archive, or an image-folder archive or
#     folder such as the shared cifar10-jpeg.tar.gz;
#   - a folder holding the official binary files, extracted from the official archive,
#     which is taken from data/cifar-10-binary.tar.gz when it is there and downloaded
#     from the CIFAR page otherwise, and checked against its size and MD5 either way.
# scalefree::data::load reads all of these. Nothing half-written is ever left at
# data/<dataset>: downloads go to a temporary name, extraction to a temporary folder,
# and only a checked result is renamed into place.
set -euo pipefail

DATASET=${DATASET:-${1:-cifar10}}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ -n ${SCALEFREE_DATA:-} ]]; then
    DATA=$(realpath -m "$SCALEFREE_DATA")
    SHOWN=$DATA
else
    DATA="$ROOT/data"
    SHOWN=data
fi

case "$DATASET" in
cifar10)
    ARCHIVE=cifar-10-binary.tar.gz
    SIZE=170052171
    MD5=c32a1d4ab5d03f1284b67883e8d87530
    MARKER=data_batch_1.bin
    SOURCE_VAR=CIFAR10_SOURCE
    ;;
cifar100)
    ARCHIVE=cifar-100-binary.tar.gz
    SIZE=168513733
    MD5=03b5dce01913d631647c71ecec9e9cb8
    MARKER=train.bin
    SOURCE_VAR=CIFAR100_SOURCE
    ;;
*)
    echo "error: DATASET must be cifar10 or cifar100, not '$DATASET'" >&2
    exit 2
    ;;
esac
URL="https://www.cs.toronto.edu/~kriz/$ARCHIVE"
SOURCE=${!SOURCE_VAR:-}
TARGET="$DATA/$DATASET"

fail() {
    echo "error: $1" >&2
    cat >&2 <<EOF

To get $DATASET without downloading it, either
  - name a copy you have:  make data DATASET=$DATASET $SOURCE_VAR=/path/to/$ARCHIVE
    (the official archive, or an image-folder archive or folder with train/<class>/
    and test/<class>/, such as cifar10-jpeg.tar.gz), or
  - put the official files under $SHOWN/: $SHOWN/$ARCHIVE (checked, then extracted),
    or the folder extracted from it inside $SHOWN/$DATASET/.
EOF
    exit 1
}

# Checks the size and MD5 of the official archive $1.
check_official() {
    local size
    size=$(stat -c %s "$1")
    [[ $size == "$SIZE" ]] || return 1
    echo "checking the MD5 of $1"
    [[ $(md5sum "$1" | cut -d' ' -f1) == "$MD5" ]]
}

# Whether $1 (a folder or a .tar.gz) holds the official binary files or an image folder.
holds_dataset() {
    local listing
    if [[ -d $1 ]]; then
        listing=$(cd "$1" && find -L . -maxdepth 4 \( -name "$MARKER" -o -path "*/train/*" \) -print 2>/dev/null | cut -c3-)
    else
        gzip -t "$1" 2>/dev/null || return 1
        listing=$(tar -tzf "$1" 2>/dev/null) || return 1
    fi
    grep -qE "(^|/)$MARKER\$|^(\./)?([^/]+/)?train/[^/]+/" <<<"$listing"
}

mkdir -p "$DATA"

if [[ -n $SOURCE ]]; then
    source_path=$(realpath -e "$SOURCE" 2>/dev/null) || fail "$SOURCE_VAR=$SOURCE: no such file or folder"
    echo "checking $source_path"
    holds_dataset "$source_path" ||
        fail "$source_path is not a gzip tar archive or folder holding $MARKER or train/<class>/ folders"
    if [[ $(basename "$source_path") == "$ARCHIVE" ]]; then
        check_official "$source_path" || fail "$source_path: size or MD5 differs from the official $ARCHIVE"
    fi
    if [[ -e $TARGET && ! -L $TARGET ]]; then
        fail "$SHOWN/$DATASET already holds a dataset; remove it to use $SOURCE_VAR instead"
    fi
    ln -s "$source_path" "$TARGET.tmp.$$"
    mv -Tf "$TARGET.tmp.$$" "$TARGET"
    echo "$SHOWN/$DATASET -> $source_path"
    exit 0
fi

if [[ -L $TARGET || -e $TARGET ]]; then
    holds_dataset "$TARGET" || fail "$SHOWN/$DATASET exists but holds no $DATASET data (remove it and run again)"
    echo "$SHOWN/$DATASET is already there"
    exit 0
fi

tmp_dir=$(mktemp -d "$DATA/.$DATASET.tmp.XXXXXX")
trap 'rm -rf "$tmp_dir"' EXIT

if [[ -f $DATA/$ARCHIVE ]]; then
    archive="$DATA/$ARCHIVE"
    check_official "$archive" || fail "$SHOWN/$ARCHIVE: size or MD5 differs from the official archive ($SIZE bytes, MD5 $MD5)"
else
    archive="$tmp_dir/$ARCHIVE"
    echo "downloading $URL"
    curl -fL --progress-bar --connect-timeout 20 --retry 2 -o "$archive" "$URL" ||
        fail "could not download $URL (offline?)"
    check_official "$archive" || fail "the download of $URL has the wrong size or MD5 (expected $SIZE bytes, MD5 $MD5)"
fi

echo "extracting $(basename "$archive")"
mkdir "$tmp_dir/out"
tar -xzf "$archive" -C "$tmp_dir/out" || fail "cannot extract $archive"
holds_dataset "$tmp_dir/out" || fail "$archive holds no $MARKER"
mv -T "$tmp_dir/out" "$TARGET"
echo "$SHOWN/$DATASET is ready"
