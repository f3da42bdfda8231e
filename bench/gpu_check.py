"""What a GPU machine should run, from a scalefree bundle: bench/gpu.sh OUT_DIR [--quick].

Needs nothing but the bundle and the machine's PyTorch (no Rust, no network, no
repository). Writes gpu.json and gpu.md into OUT_DIR (all it measured), and the
side-by-side benchmark's bench.json and bench.md beside them.

1. correctness: `scalefree check device` (models forward/backward and the optimizer's
   CUDA kernel against the CPU), the optimizer on the device against the Python float64
   reference of the rules (pytorch/reference_iterates.py), a short `scalefree train` with
   histograms and TensorBoard, and SIGTERM + `--resume` completing;
2. speed: compare.py on the device, scalefree and PyTorch alternating (ResNet-20/56/110
   with and without BN, batch 128, data pipeline included; optimizer steps at ResNet-110
   and ResNet-1202 shapes; the input pipeline), and the pipeline's images/s against what
   training consumes;
3. GPU busy: the fraction of a training run's samples in which nvidia-smi reports the
   GPU busy, and the peak GPU memory in use, for both sides.

On a machine without a GPU the CPU parts run (on the CPU, briefly) and the CUDA parts are
listed as skipped. The data is $SCALEFREE_DATA/cifar10 or data/cifar10 when present,
else random images in CIFAR-10's binary format (the speed is the same).
"""
import argparse
import datetime
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent  # the bundle's bench/
BUNDLE = HERE.parent
BIN = BUNDLE / "bin"
SCALEFREE = BIN / "scalefree"


class Checks:
    """Every step's outcome, in order: passed, failed or skipped, with its numbers."""

    def __init__(self):
        self.steps = []

    def run(self, name, f, skip=None):
        print(f"\n== {name}", flush=True)
        if skip:
            print(f"skipped: {skip}", flush=True)
            self.steps.append({"name": name, "status": "skipped", "why": skip})
            return None
        started = time.perf_counter()
        try:
            result = f() or {}
            status = "passed"
        except Failure as e:
            result, status = {"error": str(e)}, "failed"
            print(f"FAILED: {e}", flush=True)
        seconds = time.perf_counter() - started
        self.steps.append({"name": name, **result, "status": status, "seconds": round(seconds, 1)})
        print(f"{status} in {seconds:.1f} s", flush=True)
        return result


class Failure(Exception):
    pass


def scalefree(*args, timeout=600, **kw):
    out = subprocess.run([str(SCALEFREE), *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, **kw)
    if out.returncode != 0:
        raise Failure(f"scalefree {' '.join(map(str, args[:2]))} exited {out.returncode}: "
                      f"{(out.stderr or out.stdout).strip()[-800:]}")
    return out.stdout


def find_data(work):
    for candidate in [os.environ.get("SCALEFREE_DATA"), "data"]:
        if candidate and (Path(candidate) / "cifar10").exists():
            return Path(candidate) / "cifar10", "CIFAR-10 at " + str(Path(candidate) / "cifar10")
    folder = work / "cifar10-random"
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        # 10,000 records of a label byte and 3,072 pixel bytes, as the official files.
        (folder / name).write_bytes(b"".join(bytes([rng.randrange(10)]) + rng.randbytes(3072)
                                             for _ in range(10000)))
    return folder, "random images in CIFAR-10's binary format (no CIFAR-10 found)"


# ---- 1. correctness ---------------------------------------------------------------------

def check_device(device, out):
    path = out / "check-device.json"
    iterates = out / "iterates.json"
    proc = subprocess.run([str(SCALEFREE), "check", "device", "--device", device, "--json", str(path),
                           "--iterates", str(iterates)], capture_output=True, text=True, timeout=900)
    print(proc.stdout[-3000:], end="")
    if not path.exists():
        raise Failure(f"scalefree check device exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    report = json.loads(path.read_text())
    path.unlink()
    worst = {c["what"]: c["relative_difference"] for c in report["comparisons"]}
    failed = [c["what"] for c in report["comparisons"] if not c["passed"]]
    if failed:
        raise Failure(f"beyond tolerance: {'; '.join(failed)}")
    return {"comparisons": worst}


def check_reference(device, out):
    """scalefree's iterates on the device (written by check device) against Python float64."""
    iterates = out / "iterates.json"
    if not iterates.exists():
        raise Failure("no iterates from `scalefree check device` (it failed before writing them)")
    ours = json.loads(iterates.read_text())
    iterates.unlink()
    sys.path.insert(0, str(HERE / "pytorch"))
    import reference_iterates  # noqa: E402

    theirs = reference_iterates.all_iterates(64, 25, 1e-2, 0.1)
    differences = {}
    for key, values in theirs.items():
        a, b = torch.tensor(values, dtype=torch.float64), torch.tensor(ours[key], dtype=torch.float64)
        differences[key] = float((a - b).abs().max())
    worst = max(differences.values())
    # float64 over 25 steps: only the rounding of two op orders (tests/pytorch_baseline.rs).
    if not worst < 1e-13:
        raise Failure(f"max |scalefree − Python| = {worst:.3e} (tolerance 1e-13): {differences}")
    print(f"max |scalefree on {device} − Python float64| per variant: {differences}")
    return {"max_abs_difference": differences, "tolerance": 1e-13}


def train_args(data, device, threads, steps, out_dir):
    return ["train", "--data", data, "--model", "resnet20", "--bn", "--max-steps", steps,
            "--batch-size", 32, "--eval-every", 0, "--hist-every", 5, "--device", device,
            "--threads", threads, "--quiet", "--out", out_dir]


def check_train(data, device, threads, work):
    run = work / "train-run"
    scalefree(*train_args(data, device, threads, 20, run))
    summary = json.loads((run / "summary.json").read_text())
    events = list(run.rglob("events.out.tfevents.*"))
    timing = summary.get("timing", {})
    if summary.get("status") != "completed":
        raise Failure(f"summary status {summary.get('status')!r}, not completed")
    if timing.get("scale_log_events", 0) < 4:
        raise Failure(f"{timing.get('scale_log_events')} histogram events, expected at least 4 (every 5 steps)")
    if not events:
        raise Failure("no TensorBoard event file in the run directory")
    print(f"completed: {summary.get('steps_done')} steps, {timing.get('scale_log_events')} histogram events, "
          f"{len(events)} TensorBoard file(s)")
    return {"steps_done": summary.get("steps_done"), "histogram_events": timing.get("scale_log_events"),
            "tensorboard_files": len(events)}


def check_precisions(data, device, threads, work):
    """bf16 and f16 (with loss scaling) train on the GPU: 40 steps each, to a finite loss."""
    result = {}
    for precision in ("bf16", "f16"):
        run = work / f"train-{precision}"
        scalefree(*train_args(data, device, threads, 40, run), "--precision", precision)
        summary = json.loads((run / "summary.json").read_text())
        trainer = json.loads((run / "checkpoint" / "trainer.json").read_text())
        if summary.get("status") != "completed":
            raise Failure(f"{precision}: summary status {summary.get('status')!r}, not completed")
        scaler = trainer.get("loss_scaler") or {}
        result[precision] = {"final_train_loss": summary.get("final_train_loss"),
                             "images_per_s": summary.get("images_per_s"),
                             "loss_scale": scaler.get("scale"), "skipped_steps": scaler.get("skipped")}
        print(f"{precision}: completed, {result[precision]}")
    return result


def check_resume(data, device, threads, work, steps):
    """A run stopped with SIGTERM mid-epoch checkpoints, says interrupted (exit 130), and
    `--resume` with the same settings completes it."""
    run = work / "resume-run"
    args = train_args(data, device, threads, steps, run)
    proc = subprocess.Popen([str(SCALEFREE), *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    # Stopped once training is under way: the histograms of step 5 are written.
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        scales = run / "scales.jsonl"
        if scales.exists() and scales.read_text().count("\n") >= 2:
            break
        time.sleep(0.1)
    if proc.poll() is not None:
        raise Failure(f"the run ended (exit {proc.returncode}) before it could be stopped: "
                      f"{proc.stderr.read()[-500:]}")
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=120)
    stopped = json.loads((run / "summary.json").read_text())
    if code != 130 or stopped.get("status") != "interrupted":
        raise Failure(f"SIGTERM gave exit {code} and status {stopped.get('status')!r} (want 130, interrupted)")
    scalefree(*args, "--resume")
    done = json.loads((run / "summary.json").read_text())
    if done.get("status") != "completed" or done.get("steps_done") != steps:
        raise Failure(f"the resumed run ended {done.get('status')!r} at step {done.get('steps_done')}")
    print(f"stopped at step {stopped.get('steps_done')}, resumed, completed at step {done.get('steps_done')}")
    return {"stopped_at_step": stopped.get("steps_done"), "completed_at_step": done.get("steps_done")}


# ---- 2. speed and 3. GPU busy -----------------------------------------------------------

def benchmarks(device, data, threads, out, quick):
    argv = [sys.executable, str(HERE / "compare.py"), "--device", device, "--threads", str(threads),
            "--bin-dir", str(BIN), "--data", str(data), "--out", str(out), "--name", "bench"]
    if quick:
        argv += ["--reps", "1", "--warmup", "0", "--depths", "20", "--optim-steps", "3",
                 "--models", "resnet20", "--precision-models", "resnet20", "--train-steps", "5",
                 "--only", "optim,train,precision"]
    else:
        # Sized for about 5 minutes of the 8: two counted rounds (each trial's first three
        # steps are warm-up already), AdamW alone in the optimizer benchmark.
        argv += ["--reps", "2", "--warmup", "0", "--modes", "adamw",
                 "--models", "resnet20,resnet20-bn,resnet56,resnet56-bn,resnet110,resnet110-bn",
                 "--precision-models", "resnet20,resnet56", "--only", "optim,data,train,precision"]
    proc = subprocess.run(argv, timeout=1800)
    report_path = out / "bench.json"
    if not report_path.exists():
        raise Failure(f"compare.py exited {proc.returncode} without results")
    report = json.loads(report_path.read_text())
    if proc.returncode != 0:
        raise Failure(f"compare.py: {report.get('incomplete')}")
    result = {"comparisons": report["comparisons"], "results": "bench.json, bench.md"}
    rows = report["comparisons"]
    loader = [r["scalefree_median"] for r in rows if r["group"].startswith("input pipeline")]
    training = {r["group"]: r["scalefree_median"] for r in rows if r["group"].startswith("training step")}
    if loader and training:
        # Above 1: the loader makes images faster than training on the device uses them.
        result["pipeline_vs_consumption"] = {
            group.split(", ")[1]: round(loader[0] / ips, 1) for group, ips in training.items()}
    return result


def gpu_busy(data, threads, work):
    """nvidia-smi's utilisation and memory in use, sampled every 100 ms while each side
    trains ResNet-56: how busy one run keeps the GPU and how much of its memory it takes,
    from which runs per GPU (`--runs-per-gpu`, paper-best's `runs_per_gpu`) are chosen."""
    results = {}
    for side, argv in [
        ("scalefree", [str(SCALEFREE), *map(str, train_args(data, "cuda", threads, 120, work / "busy-run"))]),
        ("pytorch", [sys.executable, str(HERE / "pytorch" / "trial.py"), "train", "--data", str(data),
                     "--model", "resnet56", "--steps", "120", "--threads", str(threads), "--device", "cuda"]),
    ]:
        if side == "scalefree":
            argv[argv.index("resnet20")] = "resnet56"
            argv[argv.index("--batch-size") + 1] = "128"
            argv[argv.index("--hist-every") + 1] = "0"
        samples, memory_mib, stop = [], [], threading.Event()

        def sample():
            while not stop.is_set():
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                      "--format=csv,noheader,nounits", "-i", "0"], capture_output=True, text=True)
                fields = [f.strip() for f in out.stdout.strip().split(",")]
                if out.returncode == 0 and len(fields) == 2 and all(f.isdigit() for f in fields):
                    samples.append(int(fields[0]))
                    memory_mib.append(int(fields[1]))
                time.sleep(0.1)

        shutil.rmtree(work / "busy-run", ignore_errors=True)
        thread = threading.Thread(target=sample)
        thread.start()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        stop.set()
        thread.join()
        if proc.returncode != 0:
            raise Failure(f"{side} training for the GPU-busy measurement failed: {proc.stderr[-500:]}")
        # The first second is start-up (data loading, CUDA context): not training.
        steady = samples[10:] or samples
        results[side] = {"mean_utilization_percent": round(sum(steady) / len(steady), 1) if steady else None,
                         "peak_memory_used_mib": max(memory_mib) if memory_mib else None,
                         "samples": len(steady)}
        print(f"{side}: GPU busy {results[side]['mean_utilization_percent']} % of {len(steady)} samples, "
              f"peak memory in use {results[side]['peak_memory_used_mib']} MiB")
    return {"resnet56_no_bn_batch128": results}


def missing_modules(names):
    """Why the PyTorch side of the benchmarks cannot run here, or None."""
    import importlib.util

    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        return f"the PyTorch side needs {' and '.join(missing)}, which {sys.executable} lacks"
    return None


# ---- the report -------------------------------------------------------------------------

def markdown(report):
    lines = [f"### bench/gpu.sh, {report['date']} ({report['wall_minutes']:.1f} min)", "",
             f"{report['machine']}; torch {report['torch']}; {report['gpu'] or 'no GPU'}; "
             f"bundle {report['bundle']}", "",
             "| step | status | time | detail |", "|---|---|---:|---|"]
    for s in report["steps"]:
        detail = s.get("why") or s.get("error") or ""
        if not detail and "max_abs_difference" in s:
            detail = f"largest absolute difference from Python float64: {max(s['max_abs_difference'].values()):.1e}"
        if not detail and "comparisons" in s and isinstance(s["comparisons"], dict):
            detail = f"largest relative difference {max(s['comparisons'].values()):.1e}"
        if not detail and "histogram_events" in s:
            detail = (f"{s['steps_done']} steps, {s['histogram_events']} histogram events, "
                      f"{s['tensorboard_files']} TensorBoard file(s)")
        if not detail and "stopped_at_step" in s:
            detail = f"stopped at step {s['stopped_at_step']}, completed at {s['completed_at_step']}"
        if not detail and "pipeline_vs_consumption" in s:
            detail = "pipeline images/s over training's: " + ", ".join(
                f"{k}: {v} ×" for k, v in s["pipeline_vs_consumption"].items())
        if not detail and "resnet56_no_bn_batch128" in s:
            r = s["resnet56_no_bn_batch128"]
            detail = ", ".join(f"{k}: {v['mean_utilization_percent']} % busy, "
                               f"peak {v.get('peak_memory_used_mib')} MiB in use" for k, v in r.items())
        lines.append(f"| {s['name']} | {s['status']} | {s.get('seconds', '—')} s | {detail} |")
    if report.get("bench_markdown"):
        lines += ["", report["bench_markdown"]]
    return "\n".join(lines) + "\n"


def write_atomic(path, text):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="folder for gpu.json, gpu.md, bench.json, bench.md")
    p.add_argument("--quick", action="store_true", help="tiny benchmark settings (the CPU-only test)")
    p.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    no_gpu = None if cuda else "torch sees no GPU on this machine"
    started = datetime.datetime.now()
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="scalefree-gpu-") as scratch:
        work = Path(scratch)
        data, data_note = find_data(work)
        print(f"data: {data_note}")

        def info():
            text = scalefree("info", "--json")
            env = json.loads(text[text.index("{"):])
            if cuda and not env.get("cuda_available"):
                raise Failure("torch sees a GPU but scalefree (libtorch through tch) does not")
            print(f"scalefree on libtorch {env['libtorch_version']} (built for {env['libtorch_built_for']}), "
                  f"CUDA {env['cuda_available']}")
            return {"libtorch": env["libtorch_version"], "cuda_available": env["cuda_available"]}

        checks.run("scalefree info sees the device", info)
        checks.run(f"check device ({device} against the CPU)", lambda: check_device(device, a.out))
        checks.run(f"optimizer on {device} vs the Python float64 reference", lambda: check_reference(device, a.out))
        checks.run(f"train on {device} with histograms and TensorBoard",
                   lambda: check_train(data, device, a.threads, work))
        if cuda:
            checks.run(f"bf16 and f16 (loss scaling) training on {device}",
                       lambda: check_precisions(data, device, a.threads, work))
        resume_steps = 60 if a.quick else 200
        checks.run(f"SIGTERM and --resume on {device}",
                   lambda: check_resume(data, device, a.threads, work, resume_steps))
        bench = checks.run(f"side by side with PyTorch on {device}",
                           lambda: benchmarks(device, data, a.threads, a.out, a.quick),
                           skip=missing_modules(["numpy", "torchvision"]))
        checks.run("GPU busy while training", lambda: gpu_busy(data, a.threads, work),
                   skip=no_gpu or (None if shutil.which("nvidia-smi") else "no nvidia-smi on PATH"))
    report = {
        "date": started.strftime("%Y-%m-%d %H:%M"),
        "wall_minutes": (datetime.datetime.now() - started).total_seconds() / 60,
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "bundle": (BUNDLE / "COMMIT").read_text().strip() if (BUNDLE / "COMMIT").exists() else "unknown",
        "data": data_note,
        "cuda_skipped": no_gpu,
        "steps": checks.steps,
    }
    if bench is not None and (a.out / "bench.md").exists():
        report["bench_markdown"] = (a.out / "bench.md").read_text()
    write_atomic(a.out / "gpu.json", json.dumps(report, indent=2) + "\n")
    write_atomic(a.out / "gpu.md", markdown(report))
    failed = [s["name"] for s in checks.steps if s["status"] == "failed"]
    print(f"\nwrote {a.out / 'gpu.json'} and {a.out / 'gpu.md'}")
    for s in checks.steps:
        if s["status"] == "skipped":
            print(f"skipped: {s['name']} ({s['why']})")
    if failed:
        sys.exit(f"error: failed: {'; '.join(failed)}")


if __name__ == "__main__":
    main()
