"""Iterates of the Python paper optimizer on a fixed problem, for tests/pytorch_baseline.rs,
which runs the Rust optimizer on the same problem and compares: the two implementations
share nothing but libtorch, so agreement checks both against the rules of
docs/paper.md#update-rules.

The problem, built from libtorch ops that both sides call alike (so the inputs are equal
bit for bit), in float64: n coordinates, x_0 = sin(0.37 i + 0.1); gradients at step t
(1-based) cos(1.3 i + 0.7 t) · 10^((i mod 7) − 3), seven orders of magnitude apart; a
cosine schedule η_t = η_0 · ½(1 + cos(π (t−1)/T)).

  reference_iterates.py N T LR WEIGHT_DECAY   → {"adam-l2": [...], "adamw": [...],
                                                 "adam-prox": [...], "adamw-amsgrad": [...]}
"""
import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paper_adam import MODES, PaperAdam  # noqa: E402


def gradient(i, t):
    return (i * 1.3 + t * 0.7).cos() * ((i.remainder(7) - 3) * math.log(10)).exp()


def iterate(n, steps, lr, weight_decay, mode, amsgrad=False):
    i = torch.arange(n, dtype=torch.float64)
    x = (i * 0.37 + 0.1).sin().requires_grad_()
    opt = PaperAdam([x], lr=lr, weight_decay=weight_decay, decay=mode, amsgrad=amsgrad)
    for t in range(1, steps + 1):
        opt.param_groups[0]["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (t - 1) / steps))
        x.grad = gradient(i, t)
        opt.step()
    return x.detach().tolist()


def all_iterates(n, steps, lr, weight_decay):
    """Every variant's final iterate, keyed as the command line prints them."""
    out = {mode: iterate(n, steps, lr, weight_decay, mode) for mode in MODES}
    out["adamw-amsgrad"] = iterate(n, steps, lr, weight_decay, "adamw", amsgrad=True)
    return out


if __name__ == "__main__":
    n, steps = int(sys.argv[1]), int(sys.argv[2])
    lr, weight_decay = float(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(all_iterates(n, steps, lr, weight_decay)))
