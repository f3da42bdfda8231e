"""Adam-ℓ2, AdamW and AdamProx as a torch.optim.Optimizer, written the way the authors'
PyTorch code is: a Python loop over parameters with a handful of tensor ops each.

It is the baseline the Rust `optim` crate is timed against, and an independent reference
for it (tests/pytorch_baseline.rs compares their iterates). `weight_decay` is the paper's
λ; the decay is scaled by s_t = lr_t / lr_0, where lr_0 is the lr at construction.
"""
import math

import torch

MODES = ("adam-l2", "adamw", "adam-prox")


class PaperAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8,
                 decay="adamw", amsgrad=False):
        if decay not in MODES:
            raise ValueError(f"decay must be one of {', '.join(MODES)}, not {decay!r}")
        defaults = dict(lr=lr, initial_lr=lr, weight_decay=weight_decay, betas=betas, eps=eps,
                        decay=decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, lam, eps = group["lr"], group["weight_decay"], group["eps"]
            decay = lam * lr / group["initial_lr"]  # a = λ·s_t
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["decay"] == "adam-l2":
                    grad = grad.add(p, alpha=lam)
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                if group["amsgrad"]:
                    torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    second = state["max_exp_avg_sq"]
                else:
                    second = exp_avg_sq
                denom = (second.sqrt() / math.sqrt(1 - beta2 ** t)).add_(eps)
                step_size = lr / (1 - beta1 ** t)
                if group["decay"] == "adamw":
                    p.mul_(1 - decay)
                p.addcdiv_(exp_avg, denom, value=-step_size)
                if group["decay"] == "adam-prox":
                    p.div_(1 + decay)
