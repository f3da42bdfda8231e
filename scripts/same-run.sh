#!/usr/bin/env bash
# Whether two builds of scalefree train the same run to the bit: a refactor's check.
#   scripts/same-run.sh OLD_BINARY NEW_BINARY [DATA]
# Trains the same small run (ResNet-8, Adam-ℓ2 with λ, spread:1 factors, histograms every
# 4 steps, 2 epochs of 256 images, 1 thread) with each binary, in fp32 and in bf16, and
# compares what they recorded: metrics.jsonl, losses.jsonl and scales.jsonl (times left
# out) and the checkpoint's model and optimizer tensors (every safetensors entry but the
# optimizer's `meta` description, whose format may change between builds).
# OPTIMIZER (default adam-l2) and WD (default 5e-4) choose the optimizer.
# DATA defaults to $CIFAR10_JPEG, else the shared copy beside the repository.
set -euo pipefail
old=$1 new=$2
data=${3:-${CIFAR10_JPEG:-$(dirname "$0")/../../shared/data/cifar10-jpeg.tar.gz}}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for precision in fp32 bf16; do
    for which in old new; do
        bin=$old; [[ $which == new ]] && bin=$new
        "$bin" train --data "$data" --model resnet8 --train-subset 256 --batch-size 32 \
            --epochs 2 --hist-every 4 --threads 1 --device cpu --precision "$precision" \
            --grad-factors spread:1 --optimizer "${OPTIMIZER:-adam-l2}" --wd "${WD:-5e-4}" --seed 3 --quiet \
            --out "$out/$which-$precision" >/dev/null
    done
    python3 - "$out/old-$precision" "$out/new-$precision" "$precision" <<'PY' || status=1
import json, os, sys
old, new, precision = sys.argv[1:]
timing = {"wall_s", "images_per_s", "seconds", "time"}
def rows(run, name):
    return [{k: v for k, v in json.loads(line).items() if k not in timing}
            for line in open(os.path.join(run, name))]
def tensors(path):
    # safetensors: an 8-byte little-endian header length, a JSON header, the data.
    blob = open(path, "rb").read()
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    data = blob[8 + size:]
    return {name: (entry["dtype"], entry["shape"], data[slice(*entry["data_offsets"])])
            for name, entry in header.items()
            if name != "__metadata__" and not name.endswith("meta")}
def weights(run):
    files = json.load(open(os.path.join(run, "checkpoint", "manifest.json")))["files"]
    return {k: tensors(os.path.join(run, "checkpoint", k)) for k in files
            if k.endswith(".safetensors")}
same = True
for name in ["metrics.jsonl", "losses.jsonl", "scales.jsonl"]:
    equal = rows(old, name) == rows(new, name)
    same &= equal
    print(f"{precision} {name}: {'identical' if equal else 'DIFFERENT'}")
equal = weights(old) == weights(new)
same &= equal
print(f"{precision} model and optimizer state: {'identical' if equal else 'DIFFERENT'}")
sys.exit(0 if same else 1)
PY
done
exit $status
