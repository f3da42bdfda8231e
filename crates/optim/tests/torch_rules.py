"""The reference side of crates/optim/tests/torch_rules.rs: torch.optim's own optimizers in float64.

Reads one JSON object on stdin:

    {"steps": 200,
     "schedule": {"warmup": W, "total": T},   # linear warm-up, then cosine (LambdaLR)
     "cases": [{"name": ..., "optimizer": "SGD" | "RMSprop" | "Adagrad" | "Adam" | "AdamW",
                "defaults": {...},            # keyword arguments of the constructor
                "groups": [{"lr": ..., "weight_decay": ..., "settings": {...},
                            "params": [{"shape": [...], "values": [...]}]}],
                "curvature": [...], "scale": [...]}]}  # per flat coordinate, see gradient()

and prints {"cases": [{"name": ..., "iterates": [[x after step 1], [x after step 2], …]}]}
where each iterate is every parameter of every group, flattened, in the order given.
The gradient at step k is computed from the current iterate with the same formula as
the Rust side's `gradient` (crates/optim/tests/torch_rules.rs).
"""

import json
import math
import sys

import torch

DTYPE = torch.float64


def noise(i, step):
    """Step-dependent noise of coordinate i: as Rust's
    `((i·12.9898 + step·78.233).sin() · 43758.5453).fract() · 0.1` (fmod = fract)."""
    return math.fmod(math.sin(i * 12.9898 + step * 78.233) * 43758.5453, 1.0) * 0.1


def gradient(x, step, curvature, scale):
    """scale_i·(curvature_i·(x_i − 1) + noise(i, step)) for every flat coordinate i."""
    return [
        s * (c * (xi - 1.0) + noise(i, step))
        for i, (xi, c, s) in enumerate(zip(x, curvature, scale))
    ]


def schedule_factor(k, warmup, total):
    """η_k/η_0 after k completed steps: linear warm-up over `warmup` steps, then cosine
    annealing to 0 over `total − warmup` steps (the crate's Schedule::warmup_cosine)."""
    if k < warmup:
        return (k + 1) / warmup
    span = max(total - warmup, 1)
    progress = min(k - warmup, span) / span
    return max(0.5 * (1.0 + math.cos(math.pi * progress)), 0.0)


def group_kwargs(settings):
    """torch.optim's keyword arguments from JSON: `betas` as a tuple."""
    kwargs = dict(settings)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return kwargs


def run_case(case, steps, schedule):
    curvature, scale = case["curvature"], case["scale"]
    params = []
    torch_groups = []
    for group in case["groups"]:
        tensors = [
            torch.tensor(p["values"], dtype=DTYPE).reshape(p["shape"]).requires_grad_(True)
            for p in group["params"]
        ]
        params.extend(tensors)
        torch_groups.append(
            {
                "params": tensors,
                "lr": group["lr"],
                "weight_decay": group["weight_decay"],
                **group_kwargs(group["settings"]),
            }
        )
    optimizer_class = getattr(torch.optim, case["optimizer"])
    optimizer = optimizer_class(torch_groups, foreach=False, **group_kwargs(case["defaults"]))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: schedule_factor(k, schedule["warmup"], schedule["total"])
    )
    iterates = []
    for step in range(steps):
        x = [v for p in params for v in p.detach().reshape(-1).tolist()]
        g = gradient(x, step, curvature, scale)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = torch.tensor(g[offset : offset + n], dtype=DTYPE).reshape(p.shape)
            offset += n
        optimizer.step()
        scheduler.step()
        iterates.append([v for p in params for v in p.detach().reshape(-1).tolist()])
    return {"name": case["name"], "iterates": iterates}


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(1)
    results = [run_case(case, request["steps"], request["schedule"]) for case in request["cases"]]
    json.dump({"cases": results}, sys.stdout)


if __name__ == "__main__":
    main()
