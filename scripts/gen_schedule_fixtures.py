#!/usr/bin/env python3
"""Generates schedule/tests/fixtures/torch_reference.json: PyTorch's own LRs for each primitive.

Each case pairs a `schedule` spec (in Anneal's JSON format) with the LR that
`optimizer.param_groups[0]["lr"]` holds before optimizer step i, for i in 0..N, when
`scheduler.step()` is called once after every `optimizer.step()`. That is exactly what
`Schedule::lr_at(i)` promises, so the Rust test (schedule/tests/torch_parity.rs) compares
them one for one without needing PyTorch.

Primitives with no PyTorch class of their own (warmup, wsd, decay_at) are built from PyTorch
pieces (SequentialLR, MultiStepLR, LambdaLR) so that PyTorch's stepping still drives them.

Run from the repository root with the project's venv (PyTorch installed there):
    .venv/bin/python scripts/gen_schedule_fixtures.py
"""

import json
import math
import platform
import sys
import warnings
from pathlib import Path

import torch
from torch.optim import SGD
from torch.optim import lr_scheduler as S

OUT = Path(__file__).resolve().parent.parent / "schedule" / "tests" / "fixtures" / "torch_reference.json"


def optimizer(lr):
    # Momentum so that OneCycleLR's momentum cycling has something to cycle.
    return SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


def record(build, lr, n):
    opt = optimizer(lr)
    sched = build(opt)
    lrs = []
    for _ in range(n):
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step()
    return lrs


CASES = []


def case(name, torch_desc, spec, lr, n, build):
    CASES.append({"name": name, "torch": torch_desc, "spec": spec, "lrs": record(build, lr, n)})


# constant ---------------------------------------------------------------------------------
case("constant", "LambdaLR(lambda t: 1.0)", {"kind": "constant", "lr": 0.1}, 0.1, 20,
     lambda o: S.LambdaLR(o, lambda t: 1.0))

# step -------------------------------------------------------------------------------------
for lr, size, gamma, n in [(0.1, 3, 0.1, 20), (0.05, 1, 0.5, 40), (1.0, 7, 0.9, 60), (0.1, 100, 0.3, 1000)]:
    case(f"step/size{size}_gamma{gamma}", f"StepLR(step_size={size}, gamma={gamma})",
         {"kind": "step", "lr": lr, "step_size": size, "gamma": gamma}, lr, n,
         lambda o, size=size, gamma=gamma: S.StepLR(o, step_size=size, gamma=gamma))

# multi_step -------------------------------------------------------------------------------
for lr, ms, gamma, n in [
    (0.1, [5, 8], 0.1, 15),
    (0.05, [1], 0.5, 5),
    (0.1, [0, 3], 0.1, 8),  # a milestone at 0 decays step 0 itself
    (0.1, list(range(10, 510, 10)), 0.9, 600),
]:
    case(f"multi_step/{len(ms)}ms_first{ms[0]}_gamma{gamma}", f"MultiStepLR(milestones={ms}, gamma={gamma})",
         {"kind": "multi_step", "lr": lr, "milestones": ms, "gamma": gamma}, lr, n,
         lambda o, ms=ms, gamma=gamma: S.MultiStepLR(o, milestones=ms, gamma=gamma))

# exponential ------------------------------------------------------------------------------
for lr, gamma, n in [(0.1, 0.9, 200), (0.05, 0.999, 3000), (1.0, 0.5, 60)]:
    case(f"exponential/gamma{gamma}", f"ExponentialLR(gamma={gamma})",
         {"kind": "exponential", "lr": lr, "gamma": gamma}, lr, n,
         lambda o, gamma=gamma: S.ExponentialLR(o, gamma=gamma))

# cosine (stepped: PyTorch uses its recursive form here) -----------------------------------
for lr, t_max, eta, n in [
    (0.1, 10, 0.0, 45),  # past t_max: rises again, two full periods
    (0.1, 100, 0.001, 450),
    (0.1, 1, 0.0, 7),
    (0.05, 1000, 0.0, 2500),
    (0.1, 7, 0.01, 30),
]:
    case(f"cosine/tmax{t_max}_eta{eta}", f"CosineAnnealingLR(T_max={t_max}, eta_min={eta})",
         {"kind": "cosine", "lr": lr, "t_max": t_max, "eta_min": eta}, lr, n,
         lambda o, t_max=t_max, eta=eta: S.CosineAnnealingLR(o, T_max=t_max, eta_min=eta))

# linear -----------------------------------------------------------------------------------
for lr, sf, ef, it, n in [
    (0.1, 1 / 3, 1.0, 5, 10),
    (0.05, 1.0, 0.01, 100, 150),
    (0.1, 0.5, 0.0, 10, 15),
    (0.1, 0.1, 1.0, 1, 4),
]:
    case(f"linear/sf{sf:.3f}_ef{ef}_it{it}", f"LinearLR(start_factor={sf}, end_factor={ef}, total_iters={it})",
         {"kind": "linear", "lr": lr, "start_factor": sf, "end_factor": ef, "total_iters": it}, lr, n,
         lambda o, sf=sf, ef=ef, it=it: S.LinearLR(o, start_factor=sf, end_factor=ef, total_iters=it))

# polynomial -------------------------------------------------------------------------------
for lr, power, it, n in [(0.1, 1.0, 5, 10), (0.1, 2.0, 100, 130), (0.05, 0.5, 50, 60), (1.0, 3.7, 1000, 1100)]:
    case(f"polynomial/p{power}_it{it}", f"PolynomialLR(total_iters={it}, power={power})",
         {"kind": "polynomial", "lr": lr, "power": power, "total_iters": it}, lr, n,
         lambda o, power=power, it=it: S.PolynomialLR(o, total_iters=it, power=power))

# one_cycle (steps 0..total_steps-1: PyTorch raises past total_steps) ----------------------
for max_lr, total, pct, anneal, div, fdiv, three in [
    (0.1, 100, 0.3, "cos", 25.0, 1e4, False),
    (0.1, 100, 0.3, "linear", 25.0, 1e4, False),
    (0.1, 100, 0.3, "cos", 25.0, 1e4, True),
    (0.05, 1000, 0.25, "linear", 25.0, 1e4, True),
    (1.0, 17, 0.4, "cos", 10.0, 100.0, False),  # fractional phase ends
    (0.1, 3, 0.3, "cos", 25.0, 1e4, False),  # first phase ends before step 0
]:
    case(f"one_cycle/T{total}_pct{pct}_{anneal}_three{three}",
         f"OneCycleLR(max_lr={max_lr}, total_steps={total}, pct_start={pct}, anneal_strategy={anneal!r}, "
         f"div_factor={div}, final_div_factor={fdiv}, three_phase={three})",
         {"kind": "one_cycle", "max_lr": max_lr, "total_steps": total, "pct_start": pct, "anneal": anneal,
          "div_factor": div, "final_div_factor": fdiv, "three_phase": three}, max_lr, total,
         lambda o, max_lr=max_lr, total=total, pct=pct, anneal=anneal, div=div, fdiv=fdiv, three=three:
         S.OneCycleLR(o, max_lr=max_lr, total_steps=total, pct_start=pct, anneal_strategy=anneal,
                      div_factor=div, final_div_factor=fdiv, three_phase=three))

# cosine_warm_restarts ---------------------------------------------------------------------
for lr, t0, mult, eta, n in [
    (0.1, 10, 1, 0.0, 35),
    (0.1, 5, 2, 0.0, 80),  # restarts at 5, 15, 35, 75
    (0.05, 3, 3, 0.001, 130),  # restarts at 3, 12, 39, 120
    (0.1, 1, 2, 0.0, 70),
    (0.1, 100, 2, 0.0, 3200),  # restarts at 100, 300, 700, 1500, 3100
]:
    case(f"cosine_warm_restarts/t0{t0}_mult{mult}_eta{eta}",
         f"CosineAnnealingWarmRestarts(T_0={t0}, T_mult={mult}, eta_min={eta})",
         {"kind": "cosine_warm_restarts", "lr": lr, "t_0": t0, "t_mult": mult, "eta_min": eta}, lr, n,
         lambda o, t0=t0, mult=mult, eta=eta: S.CosineAnnealingWarmRestarts(o, T_0=t0, T_mult=mult, eta_min=eta))


# warmup = SequentialLR([LinearLR(start_factor -> 1 over W), inner], milestones=[W]) -------
# Equal to ours only for inners whose step-0 LR is their base LR (all PyTorch ones but
# OneCycleLR and LinearLR with start_factor != 1), which is what these use.
def warmup_case(name, w, sf, inner_spec, inner_desc, inner_build, lr, n):
    case(f"warmup/{name}",
         f"SequentialLR([LinearLR(start_factor={sf}, end_factor=1.0, total_iters={w}), {inner_desc}], milestones=[{w}])",
         {"kind": "warmup", "warmup_steps": w, "start_factor": sf, "inner": inner_spec}, lr, n,
         lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=sf, end_factor=1.0, total_iters=w), inner_build(o)],
                                  milestones=[w]))


warmup_case("cosine", 10, 0.1, {"kind": "cosine", "lr": 0.1, "t_max": 50, "eta_min": 0.0},
            "CosineAnnealingLR(T_max=50)", lambda o: S.CosineAnnealingLR(o, T_max=50), 0.1, 70)
warmup_case("multi_step", 5, 0.01, {"kind": "multi_step", "lr": 0.1, "milestones": [10, 20], "gamma": 0.1},
            "MultiStepLR([10, 20], 0.1)", lambda o: S.MultiStepLR(o, [10, 20], 0.1), 0.1, 30)
warmup_case("warm_restarts", 4, 0.25,
            {"kind": "cosine_warm_restarts", "lr": 0.05, "t_0": 10, "t_mult": 2, "eta_min": 0.0},
            "CosineAnnealingWarmRestarts(T_0=10, T_mult=2)",
            lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2), 0.05, 80)

# sequential -------------------------------------------------------------------------------
case("sequential/linear_cosine_exponential",
     "SequentialLR([LinearLR(0.1, 1.0, 5), CosineAnnealingLR(20, 0.001), ExponentialLR(0.9)], milestones=[5, 25])",
     {"kind": "sequential", "milestones": [5, 25], "parts": [
         {"kind": "linear", "lr": 0.1, "start_factor": 0.1, "end_factor": 1.0, "total_iters": 5},
         {"kind": "cosine", "lr": 0.1, "t_max": 20, "eta_min": 0.001},
         {"kind": "exponential", "lr": 0.1, "gamma": 0.9},
     ]}, 0.1, 50,
     lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, 1.0, 5), S.CosineAnnealingLR(o, 20, 0.001),
                                  S.ExponentialLR(o, 0.9)], milestones=[5, 25]))
case("sequential/step_multistep",
     "SequentialLR([StepLR(3, 0.5), MultiStepLR([2, 4], 0.1)], milestones=[10])",
     {"kind": "sequential", "milestones": [10], "parts": [
         {"kind": "step", "lr": 0.1, "step_size": 3, "gamma": 0.5},
         {"kind": "multi_step", "lr": 0.1, "milestones": [2, 4], "gamma": 0.1},
     ]}, 0.1, 20,
     lambda o: S.SequentialLR(o, [S.StepLR(o, 3, 0.5), S.MultiStepLR(o, [2, 4], 0.1)], milestones=[10]))

case("sequential/milestone_at_zero",
     "SequentialLR([LambdaLR(lambda t: 1.0), ExponentialLR(0.9)], milestones=[0])",
     {"kind": "sequential", "milestones": [0], "parts": [
         {"kind": "constant", "lr": 0.1},
         {"kind": "exponential", "lr": 0.1, "gamma": 0.9},
     ]}, 0.1, 10,
     lambda o: S.SequentialLR(o, [S.LambdaLR(o, lambda t: 1.0), S.ExponentialLR(o, 0.9)], milestones=[0]))


# wsd: LambdaLR with the definition in schedule/SPEC.md ------------------------------------
def wsd_factor(t, lr, w, s, d, cooldown, floor):
    if t < w:
        return t / w
    if t < w + s:
        return 1.0
    if t < w + s + d:
        p = (t - w - s) / d
        f = {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * p)), "one_minus_sqrt": 1.0 - math.sqrt(p)}[cooldown]
        return (floor + (lr - floor) * f) / lr
    return floor / lr


for lr, w, s, d, cooldown, floor in [
    (0.1, 10, 20, 30, "linear", 0.0),
    (0.1, 10, 20, 30, "cosine", 0.001),
    (0.05, 5, 50, 45, "one_minus_sqrt", 0.0),
    (0.1, 0, 10, 10, "one_minus_sqrt", 0.01),
]:
    case(f"wsd/{cooldown}_w{w}_floor{floor}", f"LambdaLR(wsd lambda, see gen_schedule_fixtures.py)",
         {"kind": "wsd", "lr": lr, "warmup_steps": w, "stable_steps": s, "decay_steps": d, "cooldown": cooldown,
          "floor_lr": floor}, lr, w + s + d + 15,
         lambda o, lr=lr, w=w, s=s, d=d, cooldown=cooldown, floor=floor:
         S.LambdaLR(o, lambda t: wsd_factor(t, lr, w, s, d, cooldown, floor)))

# decay_at: MultiStepLR (the paper's ×0.1 then ×0.01 is gamma 0.1 at both milestones) --------
case("decay_at/single", "MultiStepLR(milestones=[7], gamma=0.1)",
     {"kind": "decay_at", "lr": 0.1, "decay_step": 7, "factor": 0.1}, 0.1, 15,
     lambda o: S.MultiStepLR(o, [7], 0.1))
case("decay_at/paper_two_decays", "MultiStepLR(milestones=[7, 12], gamma=0.1)",
     {"kind": "decay_at", "lr": 0.1, "decay_step": 7, "factor": 0.1, "second_decay_step": 12, "second_factor": 0.01},
     0.1, 20, lambda o: S.MultiStepLR(o, [7, 12], 0.1))
case("decay_at/other_factors", "LambdaLR(1 before 4, 0.3 before 9, 0.05 after)",
     {"kind": "decay_at", "lr": 0.2, "decay_step": 4, "factor": 0.3, "second_decay_step": 9, "second_factor": 0.05},
     0.2, 14, lambda o: S.LambdaLR(o, lambda t: 1.0 if t < 4 else (0.3 if t < 9 else 0.05)))


def main():
    warnings.simplefilter("ignore")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "generated_by": "scripts/gen_schedule_fixtures.py",
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "semantics": "lrs[i] = optimizer.param_groups[0]['lr'] before optimizer step i; scheduler.step() after each optimizer.step()",
        "cases": CASES,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(CASES)} cases to {OUT} (torch {torch.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
