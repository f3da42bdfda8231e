#!/usr/bin/env bash
# Two scalefree binaries (say, before and after a change to the training loop), trained
# in turns (A B, B A, …) on the same run, with the steady-state images/s of each trial
# from its summary.json: a change's cost measured in one run, as a ratio.
#
#   bench/ab_train.sh BIN_A BIN_B [DATA]     (DATA: any CIFAR-10 source scalefree reads;
#                                             default data/cifar10)
#   MODEL=resnet56 STEPS=20 ROUNDS=3 bench/ab_train.sh …
set -euo pipefail
a=${1:?usage: bench/ab_train.sh BIN_A BIN_B [DATA]}
b=${2:?usage: bench/ab_train.sh BIN_A BIN_B [DATA]}
data=${3:-data/cifar10}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A sum=([a]=0 [b]=0)
for round in $(seq 0 $((${ROUNDS:-4} - 1))); do
    if (( round % 2 )); then order="b a"; else order="a b"; fi
    for which in $order; do
        bin=$a; [[ $which == b ]] && bin=$b
        "$bin" train --model "${MODEL:-resnet20}" --data "$data" --train-subset 5120 \
            --batch-size 128 --epochs 1 --max-steps "${STEPS:-30}" --eval-every 0 \
            --hist-every 0 --threads "${THREADS:-2}" --quiet --out "$out/$which-$round" >/dev/null
        rate=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['timing']['steady_images_per_s'])" \
            "$out/$which-$round/summary.json")
        echo "round $round $which $rate images/s"
        sum[$which]=$(python3 -c "print(${sum[$which]} + $rate)")
    done
done
python3 -c "print(f'B / A = {${sum[b]} / ${sum[a]}:.3f} (mean images/s, {${ROUNDS:-4}} rounds)')"
