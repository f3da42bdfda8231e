"""`make bench`: scalefree and its PyTorch counterpart, side by side, in one run.

Every measurement is a trial in a fresh process (so that each has its own peak resident
memory and none inherits another's caches). Within a group the candidates take turns,
A B A B …: one round of warm-up, then --reps rounds that count, so that the machine's
drift hits every candidate alike. Each group reports medians and ratios; the result is
bench/results/<date>.json and a Markdown table beside it.

  python bench/compare.py [--only optim,tch,data,train,precision,logging] [--reps 5] [--threads 2]
                          [--device auto|cpu|cuda] [--data data/cifar10] [--out bench/results]

--device auto runs the CPU groups, and the CUDA ones as well when torch sees a GPU.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_TRIAL = ROOT / "bench" / "pytorch" / "trial.py"
MODES = ("adam-l2", "adamw", "adam-prox")
GROUP_KINDS = ("optim", "tch", "data", "train", "precision", "logging", "sweep")
TRAIN_MODELS = (("resnet20", False), ("resnet56", False), ("resnet110", False), ("resnet110", True))
LOGGING_MODELS = (("resnet20", False), ("resnet56", False))
# The paper's models: its CIFAR-10 ResNets without BN, ResNet-110 with BN, and its
# CIFAR-100 DenseNet-BC-100 with and without BN.
PRECISION_MODELS = (("resnet20", False), ("resnet56", False), ("resnet110", False), ("resnet110", True),
                    ("densenet100", False), ("densenet100", True))
# The sweep group: one experiment swept one run at a time on every core (the placement
# before the measured rule) and as `scalefree sweep` places it by default.
SWEEP_EXPERIMENT = "cifar10-quick-bf16"
# Each precision a device trains in: float16 needs CUDA (scalefree refuses it on the CPU).
PRECISIONS = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "bf16", "f16")}


@dataclass
class Candidate:
    label: str
    side: str  # scalefree | pytorch | tch | reference
    argv: list
    # How to read the trial's result: "stdout" (one JSON line) or "summary" (the run's
    # summary.json, whose `timing` holds the numbers) or "wall" (the process's own wall
    # seconds); "summary" and "wall" get a fresh directory after `out_flag`.
    reads: str = "stdout"
    out_flag: str = "--out"
    # A guess of the trial's seconds, for the ETA (scaled by how the guesses have fared).
    guess_s: float = 5.0
    samples: list = field(default_factory=list)
    peak_rss_mb: list = field(default_factory=list)


@dataclass
class Group:
    name: str
    metric: str  # the key of the trial's result that is compared
    unit: str
    higher_is_better: bool
    candidates: list
    device: str = "cpu"
    # Rounds for this group when not the run's --reps/--warmup (the sweep's trials are long).
    reps: int = None
    warmup: int = None


class TrialFailed(RuntimeError):
    pass


def run_trial(candidate, scratch):
    """Runs one trial; returns its result dict and the peak RSS (MB) of its process tree's
    largest process (ru_maxrss of the trial, which covers its waited-for children)."""
    argv = list(candidate.argv)
    run_dir = None
    if candidate.reads in ("summary", "wall"):
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
        argv += [candidate.out_flag, str(run_dir)]
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise TrialFailed(f"{candidate.label}: `{' '.join(argv)}` exited with {proc.returncode}:\n{tail}")
    if candidate.reads == "wall":
        result = {"wall_seconds": time.monotonic() - started}
    elif run_dir is not None:
        summary = json.loads((run_dir / "summary.json").read_text())
        result = summary["timing"]
    else:
        lines = out.decode().strip().splitlines()
        if not lines:
            raise TrialFailed(f"{candidate.label}: `{' '.join(argv)}` printed no result")
        result = json.loads(lines[-1])
    return result, usage.ru_maxrss / 1024


def value_of(group, result):
    if group.metric == "seconds_per_scale_log":
        if not result["scale_log_events"]:
            raise TrialFailed("a logging trial logged nothing")
        return result["scale_log_seconds"] / result["scale_log_events"]
    return result[group.metric]


def rounds_of(group, reps, warmup):
    """(counted rounds, warm-up rounds) of `group`."""
    return (reps if group.reps is None else group.reps), (warmup if group.warmup is None else group.warmup)


def run_groups(groups, reps, warmup, scratch):
    total = sum(len(g.candidates) * sum(rounds_of(g, reps, warmup)) for g in groups)
    guessed_left = sum(c.guess_s * sum(rounds_of(g, reps, warmup)) for g in groups for c in g.candidates)
    done, guessed_done, started = 0, 0.0, time.monotonic()
    for group in groups:
        group_reps, group_warmup = rounds_of(group, reps, warmup)
        for round_ in range(group_reps + group_warmup):
            for c in group.candidates:
                result, rss = run_trial(c, scratch)
                value = value_of(group, result)
                counted = round_ >= group_warmup
                if counted:
                    c.samples.append(value)
                    c.peak_rss_mb.append(rss)
                done += 1
                guessed_done += c.guess_s
                guessed_left -= c.guess_s
                elapsed = time.monotonic() - started
                eta = elapsed / guessed_done * guessed_left
                print(f"[{done:>3}/{total}] {elapsed / 60:5.1f} min, ETA {eta / 60:5.1f} min | "
                      f"{group.name} | {c.label}: {value:.6g} {group.unit}"
                      f"{'' if counted else ' (warm-up)'}", file=sys.stderr, flush=True)


def median(c):
    return statistics.median(c.samples) if c.samples else None


# ---- the groups ---------------------------------------------------------------------

def optim_groups(a, device):
    groups = []
    for depth in a.depths:
        common = ["--depth", str(depth), "--steps", str(a.optim_steps), "--threads", str(a.threads),
                  "--device", device]
        cands = []
        for mode in a.modes:
            cands.append(Candidate(f"scalefree {mode}", "scalefree",
                                   [str(a.bin_dir / "examples" / "bench_optim"), "--trial", "scalefree",
                                    "--mode", mode] + common))
            cands.append(Candidate(f"PyTorch paper optimizer {mode}", "pytorch",
                                   [sys.executable, str(PYTHON_TRIAL), "optim", "--impl", "paper",
                                    "--mode", mode] + common))
        for impl in ("torch-adamw-fused", "torch-adamw-foreach"):
            cands.append(Candidate(f"torch.optim.AdamW ({impl.rsplit('-', 1)[1]})", "pytorch",
                                   [sys.executable, str(PYTHON_TRIAL), "optim", "--impl", impl] + common))
        cands.append(Candidate("memory floor", "reference",
                               [str(a.bin_dir / "examples" / "bench_optim"), "--trial", "floor"] + common))
        for c in cands:
            c.guess_s = (4.5 if c.side == "pytorch" else 1.0) * (1 if depth <= 110 else 2.5)
        groups.append(Group(f"optimizer step, ResNet-{depth} shapes ({device})", "seconds_per_step", "s",
                            False, cands, device))
    return groups


def tch_groups(a, device):
    """The optimizer over a `VarStore`, as a tch user switching from `nn::AdamW` builds it,
    against tch's `nn::AdamW` on a `VarStore` of the same variables (AdamW at tch's
    defaults, lr 1e-3 and wd 0.01, in PyTorch's convention on both sides)."""
    groups = []
    for shapes in a.tch_shapes:
        common = ["--shapes", shapes, "--steps", str(a.optim_steps), "--threads", str(a.threads),
                  "--device", device]
        binary = str(a.bin_dir / "examples" / "bench_optim")
        cands = [Candidate("scalefree AdamW (VarStore)", "scalefree", [binary, "--trial", "var-store"] + common),
                 Candidate("tch nn::AdamW", "tch", [binary, "--trial", "tch-adamw"] + common)]
        for c in cands:
            c.guess_s = 2.0
        groups.append(Group(f"tch AdamW step, {shapes} shapes ({device})", "seconds_per_step", "s",
                            False, cands, device))
    return groups


def data_groups(a):
    return [Group("input pipeline, augmented CIFAR-10 (cpu)", "images_per_s", "images/s", True, [
        Candidate("scalefree loader", "scalefree",
                  [str(a.bin_dir / "examples" / "bench_data"), "--trial", "--threads", str(a.threads),
                   "--source", str(a.data)], guess_s=2),
        Candidate("torchvision DataLoader", "pytorch",
                  [sys.executable, str(PYTHON_TRIAL), "data", "--threads", str(a.threads), "--data", str(a.data)],
                  guess_s=16),
    ])]


def step_guess_s(model, bn, device):
    """Seconds per training step at batch 128 on 2 CPU threads, roughly (for the ETA)."""
    depth = int(model.lstrip("resndt"))
    per_layer = 0.02 if device == "cuda" else 0.025
    if model.startswith("densenet"):
        per_layer *= 2  # its layers see ever more channels
    return per_layer * depth * (1.4 if bn else 1.0)


def scalefree_train(a, model, bn, device, steps, extra=()):
    return [str(a.bin_dir / "scalefree"), "train", "--data", str(a.data), "--model", model,
            "--bn" if bn else "--no-bn", "--optimizer", "adamw", "--lr", "1e-3", "--wd", "5e-5",
            "--max-steps", str(steps), "--eval-every", "0", "--threads", str(a.threads),
            "--device", device, "--quiet", *extra]


def pytorch_train(a, model, bn, device, steps, extra=()):
    return [sys.executable, str(PYTHON_TRIAL), "train", "--data", str(a.data), "--model", model,
            *(["--bn"] if bn else []), "--steps", str(steps), "--threads", str(a.threads),
            "--device", device, *extra]


def train_steps(a, model):
    # 3 warm-up steps, then enough to time. The deep models (ResNet-110, DenseNet-BC-100)
    # take 12: with 7 (4 timed) their rounds spread ±10 % and a ratio moved with them;
    # with 12, ResNet-110's bf16 rounds spread 208–230 (bench/results/2026-12-06-2.md)
    # against 195–227 before.
    return a.train_steps or {"resnet20": 15, "resnet56": 10}.get(model, 12)


def sweep_groups(a):
    """The 16 runs of SWEEP_EXPERIMENT swept one at a time on every thread (`--jobs 1`:
    the placement before the measured rule), and as the sweep places them by default; the
    wall seconds of the whole `scalefree sweep`, alternating."""
    base = [str(a.bin_dir / "scalefree"), "sweep", a.sweep_experiment]
    guess = 360.0
    cands = [Candidate("sweep, one run at a time (--jobs 1)", "scalefree", base + ["--jobs", "1"],
                       reads="wall", out_flag="--runs", guess_s=guess),
             Candidate("sweep, placed by the rule (default)", "scalefree", base,
                       reads="wall", out_flag="--runs", guess_s=guess)]
    return [Group(f"sweep placement, {Path(a.sweep_experiment).stem} (cpu)", "wall_seconds", "s", False, cands, "cpu",
                  reps=a.sweep_reps, warmup=0)]


# The non-default layout of scalefree's training, by "is the device the CPU".
OTHER_LAYOUT = {True: ("scalefree, NCHW layout (AdamW)", "nchw"),
                False: ("scalefree, channels-last layout (AdamW)", "channels-last")}


def precision_groups(a, device):
    """scalefree at each precision beside PyTorch's autocast at the same precision (both
    channels-last, PyTorch with its fused AdamW: its fastest loop), in one group per model
    so that every candidate takes its turn in the same rounds."""
    groups = []
    for model, bn in a.precision_models:
        steps = train_steps(a, model)
        guess = 4 + steps * step_guess_s(model, bn, device)
        cands = []
        for precision in PRECISIONS[device]:
            cands.append(Candidate(f"scalefree {precision}", "scalefree",
                                   scalefree_train(a, model, bn, device, steps,
                                                   ["--hist-every", "0", "--layout", "channels-last",
                                                    "--precision", precision]),
                                   reads="summary", guess_s=guess))
            cands.append(Candidate(f"PyTorch {precision}" + (" autocast" if precision != "fp32" else ""),
                                   "pytorch",
                                   pytorch_train(a, model, bn, device, steps,
                                                 ["--channels-last", "--optimizer", "torch-adamw-fused",
                                                  "--precision", precision]),
                                   guess_s=guess))
        name = f"mixed precision, {model} {'BN' if bn else 'no BN'}, batch 128 ({device})"
        groups.append(Group(name, "steady_images_per_s", "images/s", True, cands, device))
    return groups


def train_groups(a, device):
    groups = []
    for model, bn in a.train_models:
        steps = train_steps(a, model)
        guess = 4 + steps * step_guess_s(model, bn, device)
        cands = [
            Candidate("scalefree (AdamW)", "scalefree",
                      scalefree_train(a, model, bn, device, steps, ["--hist-every", "0"]), reads="summary"),
            Candidate("PyTorch loop (paper optimizer, AdamW)", "pytorch",
                      pytorch_train(a, model, bn, device, steps)),
        ]
        if model == "resnet20" and not bn:
            # Where the speed comes from: the layout scalefree does not pick by default (NCHW
            # on the CPU; channels-last on CUDA, where scalefree's weights stay NCHW while
            # PyTorch's channels-last model moves them too), and PyTorch's own AdamW.
            other_layout = OTHER_LAYOUT[device == "cpu"]
            cands.append(Candidate(other_layout[0], "scalefree",
                                   scalefree_train(a, model, bn, device, steps,
                                                   ["--hist-every", "0", "--layout", other_layout[1]]),
                                   reads="summary"))
            cands.append(Candidate("PyTorch loop (torch.optim.AdamW fused)", "pytorch",
                                   pytorch_train(a, model, bn, device, steps,
                                                 ["--optimizer", "torch-adamw-fused"])))
            cands.append(Candidate("PyTorch loop, channels-last (paper optimizer)", "pytorch",
                                   pytorch_train(a, model, bn, device, steps, ["--channels-last"])))
        elif device == "cuda":
            # On a GPU the per-parameter Python loop may be what limits PyTorch; its fused
            # AdamW is the fair second baseline for every model.
            cands.append(Candidate("PyTorch loop (torch.optim.AdamW fused)", "pytorch",
                                   pytorch_train(a, model, bn, device, steps,
                                                 ["--optimizer", "torch-adamw-fused"])))
        for c in cands:
            c.guess_s = guess
        name = f"training step, {model} {'BN' if bn else 'no BN'}, batch 128 ({device})"
        groups.append(Group(name, "steady_images_per_s", "images/s", True, cands, device))
    return groups


def logging_groups(a, device):
    groups = []
    for model, bn in a.logging_models:
        steps = a.logging_steps
        guess = 6 + steps * step_guess_s(model, bn, device)
        cands = [
            Candidate("scalefree scale logging", "scalefree",
                      scalefree_train(a, model, bn, device, steps, ["--hist-every", "2"]), reads="summary"),
            Candidate("PyTorch .cpu().numpy() statistics", "pytorch",
                      pytorch_train(a, model, bn, device, steps, ["--stats-every", "2"])),
        ]
        for c in cands:
            c.guess_s = guess
        name = f"histogram logging, {model} {'BN' if bn else 'no BN'} ({device})"
        groups.append(Group(name, "seconds_per_scale_log", "s/event", False, cands, device))
    return groups


# ---- the comparisons ----------------------------------------------------------------

def find(groups, name_start, device, label):
    for g in groups:
        if g.name.startswith(name_start) and g.device == device:
            for c in g.candidates:
                if c.label == label and c.samples:
                    return g, c
    return None, None


def comparisons(groups):
    """One row per claim: scalefree's median, the other side's, the ratio (>1: scalefree
    is better), and the issue's target where it sets one."""
    rows = []

    def add(what, g, ours, theirs, target=None, ratio_kind="speedup"):
        if ours is None or theirs is None:
            return
        a, b = median(ours), median(theirs)
        if ratio_kind == "of floor":
            ratio = a / b  # time relative to the floor: lower is better
            met = None if target is None else ratio <= target
        else:
            ratio = a / b if g.higher_is_better else b / a
            met = None if target is None else ratio >= target
        rows.append({"benchmark": what, "group": g.name, "unit": g.unit, "scalefree": ours.label,
                     "scalefree_median": a, "other": theirs.label, "other_median": b,
                     "ratio": ratio, "ratio_kind": ratio_kind, "target": target, "met": met,
                     "samples": [len(ours.samples), len(theirs.samples)]})

    devices = sorted({g.device for g in groups})
    for device in devices:
        for g in groups:
            if g.device != device or not g.name.startswith("optimizer step"):
                continue
            shapes = g.name.split(", ")[1].split(" (")[0]
            labels = {c.label: c for c in g.candidates}
            for mode in (m for m in MODES if f"scalefree {m}" in labels):
                ours = labels[f"scalefree {mode}"]
                add(f"optimizer {mode}, {shapes}: vs paper optimizer in Python", g, ours,
                    labels[f"PyTorch paper optimizer {mode}"])
                add(f"optimizer {mode}, {shapes}: vs torch AdamW fused", g, ours,
                    labels["torch.optim.AdamW (fused)"], target=1.0 if device == "cpu" else None)
                add(f"optimizer {mode}, {shapes}: vs torch AdamW foreach", g, ours,
                    labels["torch.optim.AdamW (foreach)"])
                add(f"optimizer {mode}, {shapes}: time / memory floor", g, ours, labels["memory floor"],
                    target=1.3 if device == "cpu" else None, ratio_kind="of floor")
        for g in groups:
            if g.device != device or not g.name.startswith("tch AdamW step"):
                continue
            shapes = g.name.split(", ")[1].split(" (")[0]
            add(f"optimizer adamw, {shapes}: vs tch nn::AdamW (same VarStore)", g, g.candidates[0],
                g.candidates[1])
        for g in groups:
            if g.device != device or not g.name.startswith("input pipeline"):
                continue
            add("input pipeline: vs torchvision DataLoader (same workers)", g, g.candidates[0],
                g.candidates[1], target=3.0)
        for g in groups:
            if g.device != device or not g.name.startswith("training step"):
                continue
            what = g.name.split(", ")[1]
            labels = {c.label: c for c in g.candidates}
            ours = labels["scalefree (AdamW)"]
            target = (1.1 if what == "resnet20 no BN" else 1.0) if device == "cpu" else None
            add(f"training {what}: vs PyTorch loop", g, ours,
                labels["PyTorch loop (paper optimizer, AdamW)"], target=target)
            if "PyTorch loop (torch.optim.AdamW fused)" in labels:
                add(f"training {what}: vs PyTorch loop, torch AdamW fused", g, ours,
                    labels["PyTorch loop (torch.optim.AdamW fused)"])
            if "scalefree, NCHW layout (AdamW)" in labels:
                add(f"training {what}: NCHW layout vs PyTorch loop", g,
                    labels["scalefree, NCHW layout (AdamW)"], labels["PyTorch loop (paper optimizer, AdamW)"])
            if "scalefree, channels-last layout (AdamW)" in labels:
                add(f"training {what}: channels-last layout vs PyTorch loop, channels-last", g,
                    labels["scalefree, channels-last layout (AdamW)"],
                    labels["PyTorch loop, channels-last (paper optimizer)"])
            if "PyTorch loop, channels-last (paper optimizer)" in labels:
                add(f"training {what}: vs PyTorch loop, channels-last", g, ours,
                    labels["PyTorch loop, channels-last (paper optimizer)"])
        for g in groups:
            if g.device != device or not g.name.startswith("mixed precision"):
                continue
            what = g.name.split(", ")[1]
            labels = {c.label: c for c in g.candidates}
            for precision in PRECISIONS[device][1:]:
                ours = labels[f"scalefree {precision}"]
                theirs = labels[f"PyTorch {precision} autocast"]
                # The targets, on the CPU: bf16 ≥ 1.1× PyTorch's autocast, fp32 ≥ 1.0×
                # PyTorch's channels-last eager (the row below the loop).
                cpu = device == "cpu"
                add(f"training {what}: {precision} vs fp32", g, ours, labels["scalefree fp32"])
                add(f"training {what}: {precision} vs PyTorch {precision} autocast", g, ours, theirs,
                    target=1.1 if cpu else None)
                add(f"training {what}: PyTorch {precision} autocast vs fp32", g, theirs,
                    labels["PyTorch fp32"])
            add(f"training {what}: fp32 vs PyTorch fp32", g, labels["scalefree fp32"], labels["PyTorch fp32"],
                target=1.0 if device == "cpu" else None)
        for g in groups:
            if g.device == device and g.name.startswith("sweep placement"):
                add(f"{g.name.split(' (')[0]}: placed vs one at a time", g, g.candidates[1], g.candidates[0],
                    target=1.15)
        for g in groups:
            if g.device != device or not g.name.startswith("histogram logging"):
                continue
            add(f"logging {g.name.split(', ')[1]}: seconds per event", g, g.candidates[0], g.candidates[1])
    return rows


def logging_overheads(groups):
    """Cost of histogram logging at the default interval (every 1000 steps), relative to a
    training step of the same model from the training groups of this run."""
    out = []
    for g in groups:
        if not g.name.startswith("histogram logging"):
            continue
        what = g.name.split(", ")[1].split(" (")[0]
        _, ours_train = find(groups, f"training step, {what},", g.device, "scalefree (AdamW)")
        _, theirs_train = find(groups, f"training step, {what},", g.device, "PyTorch loop (paper optimizer, AdamW)")
        for c, train in ((g.candidates[0], ours_train), (g.candidates[1], theirs_train)):
            if train is None:
                continue
            step_s = 128 / median(train)
            out.append({"model": what, "device": g.device, "side": c.side, "label": c.label,
                        "seconds_per_event": median(c), "seconds_per_step": step_s,
                        "overhead_at_1000": median(c) / (1000 * step_s),
                        "target": 0.02 if c.side == "scalefree" else None})
    return out


def peak_memory(groups):
    return [{"group": g.name, "label": c.label, "side": c.side, "peak_rss_mb": statistics.median(c.peak_rss_mb)}
            for g in groups if g.name.startswith("training step") for c in g.candidates if c.peak_rss_mb]


# ---- the report ---------------------------------------------------------------------

def _met(row):
    if row is None or row["met"] is None:
        return ""
    return "yes" if row["met"] else "**no**"


def _target(row):
    if row is None or row["target"] is None:
        return ""
    return (f"≤ {row['target']}" if row["ratio_kind"] == "of floor" else f"≥ {row['target']}")


def markdown(report, groups):
    """The tables a reader wants, one per kind of benchmark (medians and ratios), from the
    report's finished `groups`."""
    rows = {r["benchmark"]: r for r in report["comparisons"]}
    # The options that chose a part of the benchmarks (--only, --models …), in the title.
    shown, skip = [], False
    for arg in report.get("arguments", []):
        if skip or arg.startswith(("--out=", "--bin-dir=")):
            skip = False
        elif arg in ("--out", "--bin-dir"):
            skip = True
        else:
            shown.append(arg)
    options = " ".join(shown)
    title = f"`python bench/compare.py {options}`" if options else "`make bench`"
    lines = [f"### {title}, {report['date']} ({report['wall_minutes']:.0f} min)",
             "",
             f"{report['machine']['cpu']}, {report['machine']['cores']} cores, bfloat16 instructions: "
             f"{', '.join(report['machine'].get('bf16_features') or ['none'])}; {report['threads']} threads "
             f"on both sides (libtorch intra-op threads; scalefree's data threads = DataLoader workers); "
             f"torch {report['versions']['torch']}, torchvision {report['versions']['torchvision']}; "
             f"every trial a fresh process, candidates alternating, {report['reps']} counted rounds after "
             f"{report['warmup']} of warm-up; medians; commit {report['commit']}; load average "
             f"{report['load_average_start']:.2f} at the start, {report['load_average_end']:.2f} at the end.",
             ""]

    def medians(g):
        return {c["label"]: c["median"] for c in g["candidates"]}

    optim = [g for g in groups if g["name"].startswith("optimizer step")]
    if optim:
        lines += ["**Optimizer step** (ms; ratios: how many times faster scalefree is, and its time over the "
                  "memory floor's)", "",
                  "| shapes | mode | scalefree | paper optimizer, Python | torch AdamW fused | torch AdamW foreach "
                  "| memory floor | vs fused | target | × floor | target |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|"]
        for g in optim:
            m = medians(g)
            shapes = g["name"].split(", ")[1]
            for mode in (mode for mode in MODES if f"scalefree {mode}" in m):
                vs_fused = rows.get(f"optimizer {mode}, {shapes.split(' (')[0]}: vs torch AdamW fused")
                floor = rows.get(f"optimizer {mode}, {shapes.split(' (')[0]}: time / memory floor")
                lines.append(
                    f"| {shapes} | {mode} | {m[f'scalefree {mode}'] * 1e3:.3f} | "
                    f"{m[f'PyTorch paper optimizer {mode}'] * 1e3:.3f} | {m['torch.optim.AdamW (fused)'] * 1e3:.3f} | "
                    f"{m['torch.optim.AdamW (foreach)'] * 1e3:.3f} | {m['memory floor'] * 1e3:.3f} | "
                    f"{vs_fused['ratio']:.2f} × | {_target(vs_fused)} {_met(vs_fused)} | "
                    f"{floor['ratio']:.2f} | {_target(floor)} {_met(floor)} |")
        lines.append("")

    vs_tch = [r for r in report["comparisons"] if r["benchmark"].endswith("vs tch nn::AdamW (same VarStore)")]
    if vs_tch:
        lines += ["**Against tch's `nn::AdamW`** (ms per step on a `VarStore`; AdamW, lr 1e-3, wd 0.01 in "
                  "PyTorch's convention on both sides; ratio: how many times faster scalefree is)", "",
                  "| shapes | scalefree | tch nn::AdamW | ratio |", "|---|---:|---:|---:|"]
        for r in vs_tch:
            shapes = r["group"].split(", ")[1]
            lines.append(f"| {shapes} | {r['scalefree_median'] * 1e3:.3f} | {r['other_median'] * 1e3:.3f} | "
                         f"{r['ratio']:.2f} × |")
        lines.append("")

    train = [g for g in groups if g["name"].startswith("training step")]
    if train:
        lines += ["**Training step** (images/s after 3 warm-up steps: data, forward, backward, AdamW; "
                  "peak RSS of the training process)", "",
                  "| model | scalefree | PyTorch loop | ratio | target | peak RSS scalefree | peak RSS PyTorch |",
                  "|---|---:|---:|---:|---|---:|---:|"]
        for g in train:
            what = g["name"].split(", ")[1]
            by_label = {c["label"]: c for c in g["candidates"]}
            ours, theirs = by_label["scalefree (AdamW)"], by_label["PyTorch loop (paper optimizer, AdamW)"]
            row = rows.get(f"training {what}: vs PyTorch loop")
            lines.append(f"| {g['name'].split(', ')[1]} ({g['device']}) | {ours['median']:.1f} | {theirs['median']:.1f} | "
                         f"{row['ratio']:.2f} × | {_target(row)} {_met(row)} | "
                         f"{statistics.median(ours['peak_rss_mb']):,.0f} MB | "
                         f"{statistics.median(theirs['peak_rss_mb']):,.0f} MB |")
            for label, other, shown in (
                    ("scalefree, NCHW layout (AdamW)", "PyTorch loop (paper optimizer, AdamW)",
                     "scalefree in NCHW (PyTorch's layout)"),
                    ("scalefree, channels-last layout (AdamW)", "PyTorch loop, channels-last (paper optimizer)",
                     "both in channels-last (scalefree's weights NCHW)"),
                    ("scalefree (AdamW)", "PyTorch loop (torch.optim.AdamW fused)", "PyTorch with torch AdamW fused"),
                    ("scalefree (AdamW)", "PyTorch loop, channels-last (paper optimizer)",
                     "PyTorch in channels-last")):
                if label in by_label and other in by_label:
                    a, b = by_label[label], by_label[other]
                    lines.append(f"| {what}: {shown} | {a['median']:.1f} | {b['median']:.1f} | "
                                 f"{a['median'] / b['median']:.2f} × | | "
                                 f"{statistics.median(a['peak_rss_mb']):,.0f} MB | "
                                 f"{statistics.median(b['peak_rss_mb']):,.0f} MB |")
        lines.append("")

    mixed = [g for g in groups if g["name"].startswith("mixed precision")]
    if mixed:
        lines += ["**Mixed precision** (training images/s after 3 warm-up steps, channels-last on both sides, "
                  "PyTorch with torch AdamW fused and `torch.autocast` (eager at fp32), f16 with its GradScaler; "
                  "medians, the rounds' range in brackets; ratios of the medians, from the same rounds)", "",
                  "| model | precision | scalefree | PyTorch | vs PyTorch | target | vs scalefree fp32 "
                  "| PyTorch vs its fp32 |", "|---|---|---:|---:|---:|---|---:|---:|"]

        def spread(c):
            return f"{c['median']:.1f} [{min(c['samples']):.0f}–{max(c['samples']):.0f}]"

        for g in mixed:
            what = g["name"].split(", ")[1]
            c = {c["label"]: c for c in g["candidates"]}
            vs_torch = rows.get(f"training {what}: fp32 vs PyTorch fp32")
            lines.append(f"| {what} ({g['device']}) | fp32 | {spread(c['scalefree fp32'])} | "
                         f"{spread(c['PyTorch fp32'])} | {vs_torch['ratio']:.2f} × | "
                         f"{_target(vs_torch)} {_met(vs_torch)} | | |")
            for precision in PRECISIONS[g["device"]][1:]:
                vs_torch = rows.get(f"training {what}: {precision} vs PyTorch {precision} autocast")
                vs_fp32 = rows.get(f"training {what}: {precision} vs fp32")
                torch_gain = rows.get(f"training {what}: PyTorch {precision} autocast vs fp32")
                lines.append(f"| {what} ({g['device']}) | {precision} | {spread(c[f'scalefree {precision}'])} | "
                             f"{spread(c[f'PyTorch {precision} autocast'])} | {vs_torch['ratio']:.2f} × | "
                             f"{_target(vs_torch)} {_met(vs_torch)} | {vs_fp32['ratio']:.2f} × | "
                             f"{torch_gain['ratio']:.2f} × |")
        lines.append("")

    for g in (g for g in groups if g["name"].startswith("sweep placement")):
        row = rows.get(f"{g['name'].split(' (')[0]}: placed vs one at a time")
        lines += [f"**Sweep placement** (`scalefree sweep {g['name'].split(', ')[1].split(' (')[0]}`, every run "
                  "from scratch, wall seconds of the whole sweep; each round both placements, alternating)", "",
                  "| placement | seconds (rounds) |", "|---|---:|"]
        for c in g["candidates"]:
            lines.append(f"| {c['label']} | {c['median']:.0f} ({', '.join(f'{x:.0f}' for x in c['samples'])}) |")
        lines += ["", f"Placed by the rule: **{row['ratio']:.2f} ×** the runs per minute of one at a time "
                      f"(target {_target(row)} {_met(row)}).", ""]

    for r in report["comparisons"]:
        if r["benchmark"].startswith("input pipeline"):
            lines += ["**Input pipeline** (augmented training images/s: crop, flip, normalise, batch 128)", "",
                      "| scalefree loader | torchvision DataLoader | ratio | target |", "|---:|---:|---:|---|",
                      f"| {r['scalefree_median']:,.0f} | {r['other_median']:,.0f} | {r['ratio']:.1f} × | "
                      f"{_target(r)} {_met(r)} |", ""]

    if report["logging_overhead"]:
        lines += ["**Histogram logging** (one event: log2 histograms of gradients, updates and weights per "
                  "layer, into TensorBoard; overhead at the default interval of 1000 steps)", "",
                  "| model | side | per event | training step | overhead | target |", "|---|---|---:|---:|---:|---|"]
        for r in report["logging_overhead"]:
            target = "" if r["target"] is None else \
                f"< {r['target'] * 100:.0f} % {'yes' if r['overhead_at_1000'] < r['target'] else '**no**'}"
            lines.append(f"| {r['model']} ({r['device']}) | {r['label']} | {r['seconds_per_event'] * 1e3:.1f} ms | "
                         f"{r['seconds_per_step'] * 1e3:.0f} ms | {r['overhead_at_1000'] * 100:.3f} % | {target} |")
        lines.append("")
    return "\n".join(lines)


def free_name(folder, base):
    """`base`, or `base-2`, `base-3` … when an earlier run of the day holds it."""
    name, n = base, 1
    while (folder / f"{name}.json").exists():
        n += 1
        name = f"{base}-{n}"
    return name


def write_atomic(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# The CPU instructions libtorch's bfloat16 kernels use (x86: AVX512-BF16, AMX; ARM: bf16):
# the precision group's ratios move with them.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile", "bf16")


def machine():
    cpu, flags = platform.processor() or "unknown CPU", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == (platform.processor() or "unknown CPU"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith(("flags", "Features")) and not flags:
                flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "bf16_features": [f for f in BF16_FLAGS if f in flags]}


def versions():
    import torch
    try:
        import torchvision
        tv = torchvision.__version__
    except ImportError:
        tv = None
    return {"torch": torch.__version__, "torchvision": tv, "python": platform.python_version(),
            "cuda_available": torch.cuda.is_available()}


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(GROUP_KINDS),
                   help="comma-separated groups: " + ", ".join(GROUP_KINDS))
    p.add_argument("--reps", type=int, default=5, help="counted rounds per group (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="rounds not counted (default 1)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--data", type=Path, default=ROOT / "data" / "cifar10")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--bin-dir", type=Path, default=ROOT / "target" / "release")
    p.add_argument("--depths", default="110,1202", help="optimizer parameter shapes (ResNet depths)")
    p.add_argument("--optim-steps", type=int, default=20)
    p.add_argument("--tch-shapes", default="resnet110,transformer",
                   help="the parameter sets of the comparison with tch's nn::AdamW (resnetD, transformer)")
    p.add_argument("--modes", default=",".join(MODES),
                   help="the optimizer benchmark's update rules (default all: " + ", ".join(MODES) + ")")
    p.add_argument("--models", default=",".join(f"{m}{'-bn' if bn else ''}" for m, bn in TRAIN_MODELS),
                   help="training groups, e.g. resnet20,resnet110-bn")
    p.add_argument("--logging-models", default=",".join(f"{m}{'-bn' if bn else ''}" for m, bn in LOGGING_MODELS))
    p.add_argument("--precision-models", default=",".join(f"{m}{'-bn' if bn else ''}" for m, bn in PRECISION_MODELS),
                   help="the mixed-precision groups' models")
    p.add_argument("--train-steps", type=int, default=0, help="steps per training trial (default: per model)")
    p.add_argument("--sweep-reps", type=int, default=2,
                   help=f"rounds of the sweep group (each trial sweeps every run of the experiment; no warm-up)")
    p.add_argument("--sweep-experiment", default=SWEEP_EXPERIMENT,
                   help=f"the sweep group's experiment, a name or a file (default {SWEEP_EXPERIMENT}: 16 runs)")
    p.add_argument("--logging-steps", type=int, default=8)
    p.add_argument("--name", default=None,
                   help="result file name (default: the date, with -2, -3 … for later runs that day)")
    a = p.parse_args()
    a.only = [s for s in a.only.split(",") if s]
    unknown = [s for s in a.only if s not in GROUP_KINDS]
    if unknown:
        p.error(f"--only: unknown group(s) {', '.join(unknown)}; valid: {', '.join(GROUP_KINDS)}")
    if a.reps < 1 or a.warmup < 0 or a.threads < 1 or a.sweep_reps < 1:
        p.error("--reps, --sweep-reps and --threads must be at least 1, --warmup at least 0")
    if "sweep" in a.only:
        experiment = Path(a.sweep_experiment)
        if not experiment.exists() and not (ROOT / "experiments" / f"{a.sweep_experiment}.json").exists():
            p.error(f"--sweep-experiment: {a.sweep_experiment!r} is neither a file nor a name in experiments/")
    try:
        a.depths = [int(d) for d in a.depths.split(",")]
    except ValueError:
        p.error(f"--depths must be comma-separated numbers, not {a.depths!r}")

    def models(flag, text):
        out = []
        for s in text.split(","):
            name, bn = (s[:-3], True) if s.endswith("-bn") else (s, False)
            if not any(name.startswith(f) and name[len(f):].isdigit() for f in ("resnet", "densenet")):
                p.error(f"{flag}: {s!r} is not resnetN, densenetN, or either with -bn")
            out.append((name, bn))
        return out

    a.tch_shapes = [s for s in a.tch_shapes.split(",") if s]
    if not a.tch_shapes or any(s != "transformer" and not (s.startswith("resnet") and s[6:].isdigit())
                               for s in a.tch_shapes):
        p.error(f"--tch-shapes: {a.tch_shapes} must be transformer or resnetD")
    a.modes = [m for m in a.modes.split(",") if m]
    if not a.modes or any(m not in MODES for m in a.modes):
        p.error(f"--modes: {a.modes} must name some of {', '.join(MODES)}")
    a.train_models = models("--models", a.models)
    a.logging_models = models("--logging-models", a.logging_models)
    a.precision_models = models("--precision-models", a.precision_models)
    for binary in ("scalefree", "examples/bench_optim", "examples/bench_data"):
        if not (a.bin_dir / binary).exists():
            p.error(f"--bin-dir: {a.bin_dir / binary} is missing (run `make build`)")
    if any(g in a.only for g in ("data", "train", "precision", "logging", "sweep")) and not a.data.exists():
        p.error(f"--data: {a.data} does not exist (run `make data`)")
    return a


def main():
    a = parse_args()
    import torch

    devices = ["cpu"] if a.device == "cpu" else ["cuda"] if a.device == "cuda" else \
        ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        sys.exit("error: --device cuda, but torch sees no GPU")
    groups = []
    for device in devices:
        if "optim" in a.only:
            groups += optim_groups(a, device)
        if "tch" in a.only:
            groups += tch_groups(a, device)
        if "data" in a.only and device == "cpu":
            groups += data_groups(a)
        if "train" in a.only:
            groups += train_groups(a, device)
        if "precision" in a.only:
            groups += precision_groups(a, device)
        if "logging" in a.only:
            groups += logging_groups(a, device)
        if "sweep" in a.only and device == "cpu":
            groups += sweep_groups(a)
    print(f"== {len(groups)} groups, {a.threads} threads per side, devices: {', '.join(devices)}", file=sys.stderr)
    load_start = os.getloadavg()[0]
    started = datetime.datetime.now()
    failure = None
    with tempfile.TemporaryDirectory(prefix="scalefree-bench-") as scratch:
        try:
            run_groups(groups, a.reps, a.warmup, scratch)
        except TrialFailed as e:
            failure = str(e)
        except KeyboardInterrupt:
            failure = "interrupted"
    # Tables from the groups that finished; every sample so far goes into the JSON, so that
    # a failure late in a long run loses nothing.
    finished = [g for g in groups if all(len(c.samples) == rounds_of(g, a.reps, a.warmup)[0] for c in g.candidates)]
    report = {
        "benchmark": "scalefree vs PyTorch, side by side",
        "date": started.strftime("%Y-%m-%d %H:%M"),
        "arguments": sys.argv[1:],
        "wall_minutes": (datetime.datetime.now() - started).total_seconds() / 60,
        "incomplete": failure,
        "machine": machine(), "versions": versions(), "commit": git_commit(),
        "threads": a.threads, "reps": a.reps, "warmup": a.warmup, "devices": devices,
        "load_average_start": load_start, "load_average_end": os.getloadavg()[0],
        "comparisons": comparisons(finished),
        "logging_overhead": logging_overheads(finished),
        "peak_memory": peak_memory(finished),
        "groups": [{"name": g.name, "device": g.device, "metric": g.metric, "unit": g.unit,
                    "candidates": [{"label": c.label, "side": c.side, "command": c.argv, "samples": c.samples,
                                    "median": median(c), "peak_rss_mb": c.peak_rss_mb}
                                   for c in g.candidates]} for g in groups],
    }
    a.out.mkdir(parents=True, exist_ok=True)
    name = a.name or free_name(a.out, started.strftime("%Y-%m-%d"))
    write_atomic(a.out / f"{name}.json", json.dumps(report, indent=2) + "\n")
    table = markdown(report, [g for g in report["groups"] if g["name"] in {f.name for f in finished}])
    if failure:
        table = f"**Incomplete run** ({failure.splitlines()[0]}): the tables hold the finished benchmarks.\n\n" + table
    write_atomic(a.out / f"{name}.md", table)
    print(table)
    print(f"wrote {a.out / (name + '.json')} and {a.out / (name + '.md')}", file=sys.stderr)
    if failure:
        sys.exit(f"error: {failure}\n(the results so far are in {a.out / (name + '.json')})")


if __name__ == "__main__":
    main()
