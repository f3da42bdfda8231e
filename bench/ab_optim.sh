#!/usr/bin/env bash
# Two builds of the optimizer's benchmark (say, before and after a change to the crate)
# timing the same Adam step in turns (A B, B A, …): ResNet-110 and ResNet-1202 shapes,
# each decay mode, 1 and 2 threads. Prints each trial and the ratio A/B of the median
# step times (above 1: B is faster), and writes them as JSON.
#
#   bench/ab_optim.sh BENCH_A BENCH_B [OUT.json]
#   ROUNDS=6 STEPS=50 MODES="adamw adam-l2" bench/ab_optim.sh …
# BENCH_* are `bench_optim` examples (target/release/examples/bench_optim); a bundle
# from before the change has its own.
set -euo pipefail
a=${1:?usage: bench/ab_optim.sh BENCH_A BENCH_B [OUT.json]}
b=${2:?usage: bench/ab_optim.sh BENCH_A BENCH_B [OUT.json]}
out=${3:-/dev/null}
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for depth in ${DEPTHS:-110 1202}; do
    for threads in ${THREADS:-1 2}; do
        for mode in ${MODES:-adamw adam-l2 adam-prox}; do
            for round in $(seq 0 $((${ROUNDS:-4} - 1))); do
                if (( round % 2 )); then order="b a"; else order="a b"; fi
                for which in $order; do
                    bin=$a; [[ $which == b ]] && bin=$b
                    line=$("$bin" --trial scalefree --depth "$depth" --mode "$mode" \
                        --steps "${STEPS:-30}" --threads "$threads")
                    echo "{\"depth\":$depth,\"threads\":$threads,\"mode\":\"$mode\",\"round\":$round,\"build\":\"$which\",\"trial\":$line}" >>"$rows"
                done
            done
        done
    done
done
python3 - "$rows" "$out" "$a" "$b" <<'PY'
import json, platform, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
results = []
for key in sorted({(r["depth"], r["threads"], r["mode"]) for r in rows}):
    times = {w: [r["trial"]["seconds_per_step"] for r in rows
                 if (r["depth"], r["threads"], r["mode"]) == key and r["build"] == w] for w in "ab"}
    a, b = statistics.median(times["a"]), statistics.median(times["b"])
    results.append({"depth": key[0], "threads": key[1], "mode": key[2], "a_ms": a * 1e3,
                    "b_ms": b * 1e3, "a_over_b": a / b, "rounds": len(times["a"]),
                    "b_spread_ms": [min(times["b"]) * 1e3, max(times["b"]) * 1e3],
                    "a_spread_ms": [min(times["a"]) * 1e3, max(times["a"]) * 1e3]})
    r = results[-1]
    print(f"ResNet-{key[0]:<5} {key[2]:<10} {key[1]} thread(s): A {a*1e3:7.3f} ms  B {b*1e3:7.3f} ms  A/B {a/b:.3f}")
report = {"benchmark": "ab_optim", "cpu": cpu, "a": sys.argv[3], "b": sys.argv[4], "results": results}
if sys.argv[2] != "/dev/null":
    json.dump(report, open(sys.argv[2], "w"), indent=1)
PY
