#!/usr/bin/env python3
"""Generates trainer/tests/fixtures/schedulefree_reference.json: the `schedulefree` package's
own Schedule-Free SGD and AdamW (Defazio et al., arXiv 2405.15682) stepped on a tiny network.

Each case builds Linear(6, 5) -> ReLU -> Linear(5, 3) from a fixed seed, takes one fixed batch
of 8 inputs and labels under the cross-entropy loss (mean), and runs STEPS optimizer steps.
It records the initial parameters, the LR each step used (`group["scheduled_lr"]`, which
includes the package's linear warmup; two cases also halve the base LR after it), and after every step the parameters y the optimizer
left in the model (train mode) and the averaged iterate x that `optimizer.eval()` puts there.
The Rust test (trainer/tests/schedulefree_parity.rs) rebuilds the network from Burn layers,
feeds those LRs to Anneal's optimizers as the run's schedule would, and compares y and x step
by step, without needing PyTorch.

x is read by calling the package's `eval()` and then restoring y bit for bit from a copy,
rather than calling `train()`: `train()` recomputes y from x and z, which is exact only up to
rounding, and Anneal never round-trips y that way (it keeps y and derives x for evaluation).

Parameters are stored in PyTorch's layout (Linear weights [out, in]), named as in
`torch.nn.Sequential`: "0.weight", "0.bias", "2.weight", "2.bias".

Run from the repository root with the project's venv (PyTorch and schedulefree installed there):
    .venv/bin/python scripts/gen_schedulefree_fixtures.py
"""

import json
import platform
import re
from pathlib import Path

import schedulefree
import torch

OUT = Path(__file__).resolve().parent.parent / "trainer" / "tests" / "fixtures" / "schedulefree_reference.json"
STEPS = 8


def network():
    torch.manual_seed(7)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))


def batch():
    g = torch.Generator().manual_seed(11)
    inputs = torch.randn(8, 6, generator=g)
    labels = torch.randint(0, 3, (8,), generator=g)
    return inputs, labels


def params(model):
    return {name: p.detach().clone().tolist() for name, p in model.named_parameters()}


def run(name, make, settings, halve_at=None):
    """`halve_at`: from that step on the base LR is halved, as a decaying schedule would, so
    that the LR falls below the running maximum that weights the average."""
    model = network()
    opt = make(model.parameters())
    inputs, labels = batch()
    initial = params(model)
    lrs, ys, xs = [], [], []
    opt.train()
    for step in range(STEPS):
        if step == halve_at:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        opt.step()
        lrs.append(opt.param_groups[0]["scheduled_lr"])
        ys.append(params(model))
        saved = [p.detach().clone() for p in model.parameters()]
        opt.eval()
        xs.append(params(model))
        with torch.no_grad():
            for p, y in zip(model.parameters(), saved):
                p.copy_(y)
        for group in opt.param_groups:
            group["train_mode"] = True
    return {"name": name, "settings": settings, "initial": initial, "lrs": lrs, "y": ys, "x": xs}


def main():
    cases = [
        run("sgd",
            lambda ps: schedulefree.SGDScheduleFree(ps, lr=0.5, momentum=0.9, weight_decay=1e-2, warmup_steps=3),
            {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-2, "r": 0.0, "weight_lr_power": 2.0}),
        # The polynomial weighting, a weaker LR weighting and an LR that falls after the warmup,
        # which the defaults leave untested.
        run("sgd_r1_power1",
            lambda ps: schedulefree.SGDScheduleFree(ps, lr=0.3, momentum=0.8, weight_decay=0.0, warmup_steps=3,
                                                    r=1.0, weight_lr_power=1.0),
            {"optimizer": "sgd", "momentum": 0.8, "weight_decay": 0.0, "r": 1.0, "weight_lr_power": 1.0},
            halve_at=5),
        run("adamw",
            lambda ps: schedulefree.AdamWScheduleFree(ps, lr=0.01, weight_decay=1e-2, warmup_steps=3),
            {"optimizer": "adamw", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2,
             "r": 0.0, "weight_lr_power": 2.0}),
        run("adamw_betas_r05",
            lambda ps: schedulefree.AdamWScheduleFree(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05,
                                                      warmup_steps=3, r=0.5, weight_lr_power=2.0),
            {"optimizer": "adamw", "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05,
             "r": 0.5, "weight_lr_power": 2.0},
            halve_at=5),
    ]
    inputs, labels = batch()
    out = {
        "generated_by": "scripts/gen_schedulefree_fixtures.py",
        "torch_version": torch.__version__,
        "schedulefree_version": getattr(schedulefree, "__version__", None) or _dist_version(),
        "python_version": platform.python_version(),
        "layout": "PyTorch: Linear weights [out, in]; y and x after each step; lrs[i] = LR of step i",
        "inputs": inputs.tolist(),
        "labels": labels.tolist(),
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, indent=1)
    # Innermost lists of numbers on one line each: a tensor row per line keeps the file small
    # and its diffs readable.
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(cases)} cases of {STEPS} steps)")


def _dist_version():
    from importlib.metadata import version
    return version("schedulefree")


if __name__ == "__main__":
    main()
