"""One timed trial of the PyTorch side of `make bench`; prints one JSON line.

  trial.py optim --impl paper|torch-adamw-fused|torch-adamw-foreach|floor --depth D [--mode M]
  trial.py data  --data PATH
  trial.py train --model resnet20 [--bn] --steps N [--optimizer paper|torch-adamw-fused]
                 [--stats-every K] [--channels-last] --data PATH

`bench/compare.py` alternates these with the Rust side's trials. Every trial takes
--threads (torch's intra-op threads, and DataLoader workers) and --device.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cifar  # noqa: E402
import models  # noqa: E402
from paper_adam import MODES, PaperAdam  # noqa: E402

WARMUP_STEPS = 3  # as the Rust side's step timer
LR, WEIGHT_DECAY = 1e-3, 5e-5  # the paper's η_0 and λ


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(steps, device, f):
    for _ in range(WARMUP_STEPS):
        f()
    sync(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        f()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_optimizer(kind, params, mode="adamw"):
    if kind == "paper":
        return PaperAdam(params, lr=LR, weight_decay=WEIGHT_DECAY, decay=mode)
    if kind in ("torch-adamw-fused", "torch-adamw-foreach"):
        # PyTorch's weight_decay is λ/η_0 (docs/paper.md#weight-decay-convention-and-pytorch).
        fused = kind == "torch-adamw-fused"
        return torch.optim.AdamW(params, lr=LR, weight_decay=WEIGHT_DECAY / LR,
                                 fused=fused, foreach=not fused)
    raise ValueError(f"--optimizer/--impl must be paper, torch-adamw-fused or torch-adamw-foreach, not {kind!r}")


def optim_trial(args, device):
    """Median seconds of one optimizer step over ResNet-`depth`'s parameter shapes (with BN)."""
    shapes = [p.shape for p in models.ResNet(args.depth, bn=True).parameters()]
    numel = sum(int(np.prod(s)) for s in shapes)
    if args.impl == "floor":
        # 7 floats per parameter moved, as a copy of 3.5 floats (one read + one write each).
        src = torch.randn(numel * 7 // 2, device=device)
        dst = torch.zeros_like(src)
        seconds = median_seconds(args.steps, device, lambda: dst.copy_(src))
    else:
        params = [torch.randn(s, device=device, requires_grad=True) for s in shapes]
        for p in params:
            p.grad = torch.randn_like(p)
        opt = make_optimizer(args.impl, params, args.mode)
        seconds = median_seconds(args.steps, device, opt.step)
    return {"seconds_per_step": seconds, "steps": args.steps, "parameters": numel}


def data_trial(args, device):
    """Augmented training images/s of one epoch, timed from its first batch on."""
    loader = cifar.train_loader(args.data, args.cache, workers=args.threads,
                                pin_memory=device.type == "cuda")
    batches = iter(loader)
    next(batches)  # workers started, first batch in
    start, images = time.perf_counter(), 0
    for x, _ in batches:
        images += x.shape[0]
    seconds = time.perf_counter() - start
    return {"images_per_s": images / seconds, "images": images, "workers": args.threads}


class ScaleStats:
    """The authors' way of collecting gradient-scale statistics: copy every non-BN
    parameter and its gradient to NumPy (`.cpu().numpy()`) around the step, then
    histogram log2|g|, log2|Δx|, log2(|Δx|/η_0) and log2|x| per layer and merged, into
    TensorBoard, with the spread of log2|g| as scalars: what the Rust side logs."""

    EDGES = np.arange(-64, 17)  # octaves

    def __init__(self, model, logdir):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(logdir)
        self.layers = {}
        for name, p in model.named_parameters():
            if not models.is_batch_norm(model, name):
                self.layers.setdefault(name.rsplit(".", 1)[0], []).append(p)

    def before_step(self):
        self.before = {layer: [(p.detach().cpu().numpy().copy(), p.grad.detach().cpu().numpy().copy())
                               for p in ps] for layer, ps in self.layers.items()}

    def after_step(self, step):
        merged = {"grad": [], "update": [], "update_over_lr": [], "param": []}
        for layer, ps in self.layers.items():
            x = np.concatenate([p.detach().cpu().numpy().ravel() for p in ps])
            x0 = np.concatenate([b[0].ravel() for b in self.before[layer]])
            g = np.concatenate([b[1].ravel() for b in self.before[layer]])
            dx = x - x0
            for kind, values in (("grad", g), ("update", dx), ("update_over_lr", dx / LR), ("param", x)):
                values = np.log2(np.abs(values[values != 0]))
                merged[kind].append(values)
                self.writer.add_histogram(f"hist/{kind}/{layer}", values, step, bins=self.EDGES)
        for kind, parts in merged.items():
            values = np.concatenate(parts)
            self.writer.add_histogram(f"hist/{kind}/all", values, step, bins=self.EDGES)
            p01, p50, p99 = np.percentile(values, [1, 50, 99])
            self.writer.add_scalar(f"spread/{kind}", p99 - p01, step)
        self.writer.flush()


def train_trial(args, device):
    """Steady-state images/s of the training loop (data, forward, backward, step), as the
    authors' loop runs it, and the time spent collecting statistics."""
    torch.manual_seed(0)
    model = models.build(args.model, args.bn).to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    opt = make_optimizer(args.optimizer, model.parameters(), args.mode)
    loader = cifar.train_loader(args.data, args.cache, workers=args.threads,
                                pin_memory=device.type == "cuda")
    logdir = tempfile.TemporaryDirectory(prefix="bench-stats-")
    stats = ScaleStats(model, logdir.name) if args.stats_every else None
    model.train()
    steps, steady_steps, steady_images, steady_seconds = 0, 0, 0, 0.0
    stats_events, stats_seconds = 0, 0.0
    # Mixed precision as PyTorch users write it: autocast around forward and loss, and a
    # GradScaler for float16 (whose step unscales, skips non-finite steps and updates).
    dtype = {"fp32": None, "bf16": torch.bfloat16, "f16": torch.float16}[args.precision]
    scaler = torch.amp.GradScaler(device.type) if args.precision == "f16" else None
    last_end = time.perf_counter()
    while steps < args.steps:
        for x, y in loader:
            x = x.to(device, non_blocking=True).contiguous(memory_format=memory_format)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = model(x)
                loss = F.cross_entropy(out, y)
            opt.zero_grad()
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            log = stats is not None and (steps + 1 == 1 or (steps + 1) % args.stats_every == 0)
            if log:
                started = time.perf_counter()
                stats.before_step()
                logging = time.perf_counter() - started
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            if log:
                started = time.perf_counter()
                stats.after_step(steps + 1)
                stats_events += 1
                stats_seconds += logging + time.perf_counter() - started
            # The per-step loss and accuracy bookkeeping that both loops do (each a sync).
            loss_value = loss.item()
            _correct = out.argmax(1).eq(y).sum().item()
            steps += 1
            now = time.perf_counter()
            if steps > WARMUP_STEPS:
                steady_steps += 1
                steady_images += x.shape[0]
                steady_seconds += now - last_end
            last_end = now
            if steps >= args.steps:
                break
    return {
        "steady_images_per_s": steady_images / steady_seconds if steady_seconds else None,
        "steady_steps": steady_steps,
        "steady_seconds": steady_seconds,
        "scale_log_events": stats_events,
        "scale_log_seconds": stats_seconds,
        "final_loss": loss_value,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trial", choices=("optim", "data", "train"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--impl", default="paper",
                        choices=("paper", "torch-adamw-fused", "torch-adamw-foreach", "floor"))
    parser.add_argument("--mode", default="adamw", choices=MODES)
    parser.add_argument("--depth", type=int, default=110)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--data", default="data/cifar10")
    parser.add_argument("--cache", default="data/cache")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--bn", action="store_true")
    parser.add_argument("--optimizer", default="paper",
                        choices=("paper", "torch-adamw-fused", "torch-adamw-foreach"))
    parser.add_argument("--stats-every", type=int, default=0)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "f16"))
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, not {args.threads}")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # As `scalefree train` does on CUDA (fixed shapes: the fastest convolution algorithms
    # are timed once and kept), so that the comparison stays fair.
    torch.backends.cudnn.benchmark = device.type == "cuda"
    run = {"optim": optim_trial, "data": data_trial, "train": train_trial}[args.trial]
    try:
        result = run(args, device)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
