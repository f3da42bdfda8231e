"""How much more work per minute a CPU gives when it trains several runs at once with fewer
threads each: the measurement behind the sweep's placement rule (src/sweep/cpu_placement.rs).

For each model and precision, alternating for --rounds rounds: one `scalefree train` with
all --cores threads, then --cores of them at once with one thread each. The gain is the
summed steady images/s of the runs side by side over the one run's images/s. With c cores
and Amdahl's law, one run on c threads is 1 / ((1 − p) + p / c) times faster than on one;
c single-thread runs side by side (sharing caches and memory bandwidth, which the gain
includes) are c times the work, so gain = c·((1 − p) + p / c) and p = c·(1 − gain/c)/(c − 1).

  python bench/placement.py [--bin target/release/scalefree] [--data data/cifar10]
                            [--rounds 3] [--cores 2] [--models resnet20:fp32,resnet56:bf16,…]
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from compare import machine, write_atomic, free_name, git_commit  # noqa: E402

DEFAULT_MODELS = ("resnet20:fp32,resnet20:bf16,resnet56:fp32,resnet56:bf16,resnet110:bf16,"
                  "resnet110-bn:bf16,densenet100:bf16")
# 3 steps of warm-up, then the steady ones: fewer for the slow models.
STEPS = {"resnet20": 30, "resnet56": 12, "resnet110": 8, "densenet100": 6}


def train(a, model, bn, precision, threads, out):
    return subprocess.Popen(
        [str(a.bin), "train", "--data", str(a.data), "--model", model, "--bn" if bn else "--no-bn",
         "--optimizer", "adamw", "--lr", "1e-3", "--wd", "5e-5", "--max-steps", str(STEPS.get(model, 6)),
         "--eval-every", "0", "--hist-every", "0", "--threads", str(threads), "--device", "cpu",
         "--precision", precision, "--quiet", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def images_per_s(procs_and_dirs):
    total = 0.0
    for proc, out in procs_and_dirs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"error: a trial exited with {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}")
        total += json.loads((out / "summary.json").read_text())["timing"]["steady_images_per_s"]
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", type=Path, default=ROOT / "target" / "release" / "scalefree")
    p.add_argument("--data", type=Path, default=ROOT / "data" / "cifar10")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--models", default=DEFAULT_MODELS, help="model[-bn]:precision, comma-separated")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = p.parse_args()
    if a.cores < 2:
        p.error("--cores must be at least 2: with one core there is nothing to place")
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    specs = []
    for spec in a.models.split(","):
        name, _, precision = spec.partition(":")
        model = name[:-3] if name.endswith("-bn") else name
        known = any(model.startswith(f) and model[len(f):].isdigit() for f in ("resnet", "densenet"))
        if not known or precision not in ("fp32", "bf16"):
            p.error(f"--models: {spec!r} is not model[-bn]:precision (resnet20:bf16, densenet100-bn:fp32, …; "
                    "precision fp32 or bf16)")
        specs.append((name, model, name.endswith("-bn"), precision))
    for path, flag in ((a.bin, "--bin"), (a.data, "--data")):
        if not path.exists():
            p.error(f"{flag}: {path} does not exist (`make build`, `make data`)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="scalefree-placement-") as scratch:
        for name, model, bn, precision in specs:
            alone, side_by_side = [], []
            for r in range(a.rounds):
                base = Path(scratch) / f"{name}-{precision}-{r}"
                alone.append(images_per_s([(train(a, model, bn, precision, a.cores, base / "alone"),
                                            base / "alone")]))
                runs = [(train(a, model, bn, precision, 1, base / f"side{i}"), base / f"side{i}")
                        for i in range(a.cores)]
                side_by_side.append(images_per_s(runs))
                print(f"{name} {precision} round {r + 1}: 1 run × {a.cores} threads {alone[-1]:.1f} images/s, "
                      f"{a.cores} runs × 1 thread {side_by_side[-1]:.1f}", file=sys.stderr, flush=True)
            gains = [s / o for s, o in zip(side_by_side, alone)]
            gain = statistics.median(gains)
            c = a.cores
            rows.append({"model": model, "bn": bn, "precision": precision,
                         "alone_images_per_s": alone, "side_by_side_images_per_s": side_by_side,
                         "gains": gains, "gain": gain,
                         "parallel_fraction": c * (1 - gain / c) / (c - 1)})
    report = {"benchmark": "runs side by side vs one run on every core", "date":
              datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine(),
              "commit": git_commit(), "cores": a.cores, "rounds": a.rounds, "rows": rows,
              "command": "python bench/placement.py " + " ".join(sys.argv[1:])}
    a.out.mkdir(parents=True, exist_ok=True)
    name = free_name(a.out, "placement-" + datetime.date.today().isoformat())
    write_atomic(a.out / f"{name}.json", json.dumps(report, indent=2) + "\n")
    print(f"| model | precision | {a.cores} runs × 1 thread / 1 run × {a.cores} threads (rounds) | p |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']}{' BN' if r['bn'] else ''} | {r['precision']} | {r['gain']:.3f} "
              f"({', '.join(f'{g:.2f}' for g in r['gains'])}) | {r['parallel_fraction']:.2f} |")
    print(f"wrote {a.out / (name + '.json')} on {report['machine']['cpu']}", file=sys.stderr)


if __name__ == "__main__":
    main()
