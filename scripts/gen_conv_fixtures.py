#!/usr/bin/env python3
"""Generates trainer/tests/fixtures/conv_reference.json: PyTorch's conv2d forward output and
its gradients for the input, the weight and the bias, for the cases the CPU backend's own
convolution (trainer/src/net/fast_conv.rs) covers: strides 1 and 2, paddings 0, 1 and 2,
kernels 1, 3 and 5, 1, 3, 4, 8 and 16 channels, batches 1 and 3, odd and non-square images (7×9, 9×7,
9×9), with and without bias; both input-gradient paths (col2im, and the flipped-kernel
convolution used from 16 input channels and 8×8 images on) are exercised.

Each case draws x, the weight, the bias and an upstream gradient dy of the output's shape from
a normal distribution (its own fixed seed), computes y = conv2d(x, w, b) in float64 and
backpropagates dy, so the reference holds no float32 rounding; the inputs are rounded to
float32 first, as the Rust test reads them. The Rust test (trainer/tests/conv_parity.rs)
replays every case through `Autodiff<Flex>` and needs no PyTorch.

Run from the repository root with the project's venv (PyTorch installed there):
    .venv/bin/python scripts/gen_conv_fixtures.py
"""

import json
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent.parent / "trainer" / "tests" / "fixtures" / "conv_reference.json"

# (name, batch, c_in, c_out, (h, w), kernel, stride, padding, bias)
CASES = [
    ("k3_s1_p1_same", 3, 1, 4, (7, 9), 3, 1, 1, True),
    ("k3_s2_p1", 1, 3, 8, (7, 9), 3, 2, 1, True),
    ("k5_s1_p2", 3, 3, 3, (7, 9), 5, 1, 2, True),
    ("k1_s1_p0", 1, 16, 4, (7, 9), 1, 1, 0, True),
    ("k1_s2_p0", 3, 3, 8, (7, 9), 1, 2, 0, True),
    ("k5_s2_p0_tall", 3, 3, 8, (9, 7), 5, 2, 0, True),
    ("k3_s2_p2", 1, 8, 8, (7, 9), 3, 2, 2, True),
    ("k3_s1_p0_no_bias", 3, 3, 1, (7, 9), 3, 1, 0, False),
    ("k3_s1_p1_flipped", 1, 16, 4, (8, 9), 3, 1, 1, True),
    ("k3_s1_p2_flipped", 1, 16, 3, (9, 8), 3, 1, 2, True),
    ("k5_s1_p1_flipped_no_bias", 1, 16, 1, (8, 8), 5, 1, 1, False),
    ("k5_s2_p2", 3, 1, 3, (7, 9), 5, 2, 2, True),
    # Maps no larger than the kernel: the dense path.
    ("k3_s1_p1_2x2_dense", 3, 16, 8, (2, 2), 3, 1, 1, True),
    ("k3_s1_p1_3x3_dense", 2, 5, 7, (3, 3), 3, 1, 1, True),
    ("k3_s2_p1_3x2_dense_no_bias", 2, 4, 3, (3, 2), 3, 2, 1, False),
    ("k5_s1_p2_1x1_dense", 2, 6, 5, (1, 1), 5, 1, 2, True),
]


def f32(a):
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(np.format_float_positional(v, unique=True)) for v in np.asarray(a, np.float32).ravel()]


def case(i, name, batch, cin, cout, hw, k, stride, pad, bias):
    g = torch.Generator().manual_seed(1000 + i)
    # Drawn and scaled in float32, then widened: the float64 reference sees exactly the
    # float32 values the test reads.
    r = lambda *s, scale=1.0: (torch.randn(*s, generator=g, dtype=torch.float32) * scale).double()
    x = r(batch, cin, *hw).requires_grad_()
    w = r(cout, cin, k, k, scale=(cin * k * k) ** -0.5).requires_grad_()
    b = r(cout).requires_grad_() if bias else None
    y = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad)
    dy = r(*y.shape)
    y.backward(dy)
    out = {
        "name": name,
        "stride": stride,
        "padding": pad,
        "x_shape": list(x.shape),
        "w_shape": list(w.shape),
        "y_shape": list(y.shape),
        "x": f32(x.detach()),
        "w": f32(w.detach()),
        "b": f32(b.detach()) if bias else None,
        "dy": f32(dy),
        "y": f32(y.detach()),
        "dx": f32(x.grad),
        "dw": f32(w.grad),
        "db": f32(b.grad) if bias else None,
    }
    return out


def main():
    cases = [case(i, *c) for i, c in enumerate(CASES)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"torch_version": torch.__version__, "cases": cases}, separators=(",", ":")) + "\n")
    n = sum(len(c[k]) for c in cases for k in ("x", "w", "dy", "y", "dx", "dw"))
    print(f"wrote {OUT} ({len(cases)} cases, {n} floats, {OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
