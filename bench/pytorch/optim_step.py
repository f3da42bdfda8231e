"""The PyTorch side of `make bench-optim`'s rule comparison: seconds per optimizer step
of torch.optim's CPU implementations of one rule, on the parameter shapes it is given.

  optim_step.py --serve            one JSON request per stdin line, one JSON answer per line
  optim_step.py --request JSON     one request, one answer on stdout

`crates/optim/examples/bench_optim` starts it once with --serve and alternates its own
timings with requests, so that both sides see the same machine. A request:

  {"optimizer": "sgd", "lr": 0.1, "weight_decay": 5e-4, "settings": {"momentum": 0.9, ...},
   "shapes": [[16, 3, 3, 3], ...], "threads": 1, "steps": 10}

`weight_decay` is PyTorch's (the caller converts); `settings` are the rule's own, by
PyTorch's names. The answer has, for each implementation that the optimizer has on the
CPU — `forloop` (foreach=False, fused=False: the CPU default), `foreach` (foreach=True)
and `fused` (fused=True, where torch accepts it on the CPU) — the mean seconds of one
`opt.step()` over `steps` calls, timed now, one implementation after another; each
optimizer was built once (3 warm-up steps) and is reused by later requests. Parameters
and their gradients are float32, random, set once: only the step is timed.

torch.optim has no Lion: `lion` is timed as lion-pytorch writes it (Chen et al. 2023,
Algorithm 2, decoupled decay), with a per-tensor loop (`forloop`) and with `torch._foreach_*`
ops (`foreach`); the answer's `source` says so.
"""
import argparse
import json
import sys
import time

import torch

WARMUP_STEPS = 3

TORCH_CLASSES = {
    "adam-l2": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


class Lion:
    """Lion with decoupled decay in PyTorch's units: `x ← x·(1 − lr·wd) − lr·sign(c)`,
    `c = β1·m + (1 − β1)·g`, then `m ← β2·m + (1 − β2)·g` (lion-pytorch's update)."""

    def __init__(self, params, lr, weight_decay, beta1=0.9, beta2=0.99, foreach=False):
        self.params = list(params)
        self.lr, self.wd, self.beta1, self.beta2 = lr, weight_decay, beta1, beta2
        self.foreach = foreach
        self.exp_avg = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        params = [p for p in self.params if p.grad is not None]
        grads = [p.grad for p in params]
        exp_avg = [m for p, m in zip(self.params, self.exp_avg) if p.grad is not None]
        if self.foreach:
            torch._foreach_mul_(params, 1 - self.lr * self.wd)
            update = [m.clone() for m in exp_avg]
            torch._foreach_lerp_(update, grads, 1 - self.beta1)
            torch._foreach_sign_(update)
            torch._foreach_add_(params, update, alpha=-self.lr)
            torch._foreach_lerp_(exp_avg, grads, 1 - self.beta2)
        else:
            for p, g, m in zip(params, grads, exp_avg):
                p.mul_(1 - self.lr * self.wd)
                update = m.clone().lerp_(g, 1 - self.beta1).sign_()
                p.add_(update, alpha=-self.lr)
                m.lerp_(g, 1 - self.beta2)


def torch_kwargs(name, settings):
    """The constructor's keyword arguments from the rule's settings (PyTorch's names)."""
    s = dict(settings)
    if name in ("adam-l2", "adamw"):
        return {"betas": (s.pop("beta1"), s.pop("beta2")), "eps": s.pop("eps"),
                "amsgrad": s.pop("amsgrad")}, s
    if name == "sgd":
        keys = ("momentum", "dampening", "nesterov")
    elif name == "rmsprop":
        keys = ("alpha", "eps", "centered", "momentum")
    elif name == "adagrad":
        keys = ("lr_decay", "initial_accumulator_value", "eps")
    elif name == "lion":
        keys = ("beta1", "beta2")
    else:
        raise ValueError(f"no PyTorch counterpart for {name!r}; known: "
                         f"{', '.join(list(TORCH_CLASSES) + ['lion'])}")
    return {k: s.pop(k) for k in keys if k in s}, s


def build(request, impl):
    """The optimizer `impl` (forloop | foreach | fused) of the request over fresh
    parameters, warmed up; or the reason torch refuses it."""
    name = request["optimizer"]
    kwargs, unused = torch_kwargs(name, request.get("settings", {}))
    if unused:
        raise ValueError(f"{name}: settings without a PyTorch counterpart: {sorted(unused)}")
    torch.manual_seed(0)
    params = [torch.randn(s, requires_grad=True) for s in request["shapes"]]
    for p in params:
        p.grad = torch.randn_like(p)
    lr, wd = request["lr"], request["weight_decay"]
    if name == "lion":
        if impl == "fused":
            return None, "no fused Lion"
        opt = Lion(params, lr, wd, foreach=impl == "foreach", **kwargs)
    else:
        flags = {"forloop": {"foreach": False}, "foreach": {"foreach": True},
                 "fused": {"fused": True}}[impl]
        try:
            opt = TORCH_CLASSES[name](params, lr=lr, weight_decay=wd, **kwargs, **flags)
            opt.step()
        except (TypeError, RuntimeError) as e:
            return None, f"{type(e).__name__}: {e}"
    for _ in range(WARMUP_STEPS):
        opt.step()
    return opt, None


OPTIMIZERS = {}


def answer(request):
    threads = int(request["threads"])
    steps = int(request["steps"])
    if threads < 1 or steps < 1:
        raise ValueError(f"threads and steps must be at least 1, not {threads} and {steps}")
    torch.set_num_threads(threads)
    key = json.dumps({k: request[k] for k in ("optimizer", "lr", "weight_decay", "settings", "shapes")},
                     sort_keys=True)
    seconds, refused = {}, {}
    for impl in ("forloop", "foreach", "fused"):
        if (key, impl) not in OPTIMIZERS:
            OPTIMIZERS[(key, impl)] = build(request, impl)
        opt, reason = OPTIMIZERS[(key, impl)]
        if opt is None:
            refused[impl] = reason
            continue
        start = time.perf_counter()
        for _ in range(steps):
            opt.step()
        seconds[impl] = (time.perf_counter() - start) / steps
    name = request["optimizer"]
    source = ("lion-pytorch's update with torch ops (torch.optim has no Lion)" if name == "lion"
              else f"torch.optim.{TORCH_CLASSES[name].__name__}")
    return {"optimizer": name, "source": source, "seconds_per_step": seconds, "refused": refused,
            "threads": torch.get_num_threads(), "steps": steps, "torch_version": torch.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--serve", action="store_true")
    mode.add_argument("--request")
    args = parser.parse_args()
    if args.request is not None:
        print(json.dumps(answer(json.loads(args.request))))
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = answer(json.loads(line))
        except (ValueError, KeyError, TypeError) as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
