#!/usr/bin/env python3
"""Generates trainer/tests/fixtures/norm_reference.json: PyTorch's batch norm and one ResNet-20
training step, for trainer/tests/norm_parity.rs (which needs no PyTorch).

Batch norm cases: BatchNorm2d in training mode (forward, the gradients of x, gamma and beta for
an upstream gradient dy, and the running statistics after the step: PyTorch updates the running
variance with the unbiased batch variance) and in eval mode (forward on given running
statistics), in float64 from float32-rounded inputs.

ResNet-20 step: He et al.'s CIFAR ResNet-20 with option-A shortcuts (x[:, :, ::2, ::2] with the
new channels zero, split evenly before and after, as the common reference implementations
write it), on a batch of 4 images of 3x16x16, every weight set by a formula both sides compute
(so the fixture stays small): the loss, the logits, each parameter's gradient norm and first
values, the running statistics of the first batch norm, and the loss after one SGD step
(lr 0.1, momentum 0.9, weight decay 5e-4), in float32 as training runs.

Run from the repository root with a venv holding PyTorch:
    .venv/bin/python scripts/gen_norm_fixtures.py
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / "trainer" / "tests" / "fixtures" / "norm_reference.json"


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def bn_cases():
    cases = []
    for name, (n, c, h, w), seed, relu in [
        ("image_3ch", (4, 3, 5, 6), 1, False),
        ("image_8ch_relu", (2, 8, 7, 7), 2, True),
        ("vector_5", (6, 5, 1, 1), 3, False),
    ]:
        rng = np.random.default_rng(seed)
        x = f32(rng.normal(1.0, 2.0, (n, c, h, w)))
        gamma = f32(rng.normal(1.0, 0.3, c))
        beta = f32(rng.normal(0.0, 0.3, c))
        dy = f32(rng.normal(0.0, 1.0, (n, c, h, w)))
        rm0 = f32(rng.normal(0.0, 0.5, c))
        rv0 = f32(rng.uniform(0.5, 2.0, c))
        bn = nn.BatchNorm2d(c).double()
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(gamma))
            bn.bias.copy_(torch.tensor(beta))
            bn.running_mean.copy_(torch.tensor(rm0))
            bn.running_var.copy_(torch.tensor(rv0))
        xt = torch.tensor(x, requires_grad=True)
        bn.train()
        y = bn(xt)
        if relu:
            y = F.relu(y)
        y.backward(torch.tensor(dy))
        bn.eval()
        with torch.no_grad():
            ye = bn(torch.tensor(x))
            if relu:
                ye = F.relu(ye)
        cases.append({
            "name": name, "shape": [n, c, h, w], "relu": relu,
            "x": x.ravel().tolist(), "gamma": gamma.tolist(), "beta": beta.tolist(),
            "dy": dy.ravel().tolist(), "running_mean0": rm0.tolist(), "running_var0": rv0.tolist(),
            "y_train": y.detach().numpy().ravel().tolist(),
            "dx": xt.grad.numpy().ravel().tolist(),
            "dgamma": bn.weight.grad.numpy().tolist(), "dbeta": bn.bias.grad.numpy().tolist(),
            "running_mean": bn.running_mean.numpy().tolist(),
            "running_var": bn.running_var.numpy().tolist(),
            # Eval runs on the statistics after the training step.
            "y_eval": ye.numpy().ravel().tolist(),
        })
    return cases


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.extra = stride, cout - cin

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        sc = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.extra:
            before = self.extra // 2
            sc = F.pad(sc, (0, 0, 0, 0, before, self.extra - before))
        return F.relu(out + sc)


class ResNet20(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for stage, width in enumerate([16, 32, 64]):
            for b in range(3):
                blocks.append(Block(cin, width, 2 if stage > 0 and b == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(x.mean(dim=(2, 3)))


def resnet_case():
    torch.manual_seed(0)
    model = ResNet20()
    names = []
    with torch.no_grad():
        for t, (name, p) in enumerate(model.named_parameters()):
            shape = tuple(p.shape)
            n = int(np.prod(shape))
            j = np.arange(n, dtype=np.float64)
            if name.endswith("bn.weight") or ".bn1.weight" in name or ".bn2.weight" in name:
                v = 1.0 + 0.1 * np.sin(0.37 * j + t)
            elif p.dim() == 1:
                v = 0.1 * np.cos(0.53 * j + t)
            else:
                fan_in = int(np.prod(shape[1:]))
                v = np.sin(0.7 * j + 0.3 * t) * math.sqrt(2.0 / fan_in)
            p.copy_(torch.tensor(v.astype(np.float32)).reshape(shape))
            names.append(name)
    n = 4 * 3 * 16 * 16
    x = torch.tensor(np.sin(0.05 * np.arange(n) + 0.1 * np.cos(0.011 * np.arange(n))).astype(np.float32)).reshape(4, 3, 16, 16)
    y = torch.tensor([3, 1, 4, 1])
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    grads = []
    for name, p in model.named_parameters():
        g = p.grad.detach()
        if p.dim() == 2:
            g = g.t()  # Burn stores a linear weight as [in, out]
        grads.append({"name": name, "norm": float(g.norm()), "first": g.reshape(-1)[:6].tolist()})
    opt.step()
    with torch.no_grad():
        loss_after = F.cross_entropy(model(x), y)  # train mode again: batch statistics
    return {
        "input": [4, 3, 16, 16], "labels": y.tolist(),
        "loss": float(loss), "logits": logits.detach().reshape(-1).tolist(),
        "grads": grads,
        # After both forward passes in training mode (the step's and the one after it).
        "bn_running_mean": model.bn.running_mean.tolist(),
        "bn_running_var": model.bn.running_var.tolist(),
        "loss_after_step": float(loss_after),
    }


def main():
    torch.set_num_threads(2)
    data = {"batch_norm": bn_cases(), "resnet20_step": resnet_case()}
    OUT.write_text(json.dumps(data))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
