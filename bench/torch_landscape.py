"""Reference for trainer/benches/landscape.rs: the same G×G grid evaluation in PyTorch on CPU.
The same model (MLP 784-512-512-10, or with --model cnn the small CNN), a training subset of the same size (k per class), the same
test-set size and evaluation batch; at every grid point the weights centre + x·v1 + y·v2 are
written into the model and cross-entropy loss and accuracy are computed on both splits. The
plane itself is random here (only the grid evaluation is timed, and its cost does not depend
on where the plane lies). Prints one JSON line per repeat.

    python bench/torch_landscape.py [grid] [per_class] [test_limit] [repeats] --threads 2 --batch 1000 [--model cnn]
"""
import argparse, gzip, json, os, struct, time

import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("grid", nargs="?", type=int, default=41)
p.add_argument("per_class", nargs="?", type=int, default=100)
p.add_argument("test_limit", nargs="?", type=int, default=1000)
p.add_argument("repeats", nargs="?", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=1000)
p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)


def idx(path):
    with gzip.open(path) as f:
        magic, n = struct.unpack(">II", f.read(8))
        dims = struct.unpack(">II", f.read(8)) if magic == 2051 else ()
        return np.frombuffer(f.read(), np.uint8).reshape((n, 1, *dims) if dims else (n,))


def load(split):
    x = idx(os.path.join(a.data, f"{split}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = idx(os.path.join(a.data, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    return x, y


xtr, ytr = load("train")
rng = np.random.default_rng(1)
keep = np.concatenate([rng.permutation(np.flatnonzero(ytr == c))[: a.per_class] for c in range(10)])
xtr, ytr = xtr[keep], ytr[keep]
mean, std = xtr.mean(), xtr.std()
xte, yte = load("t10k")
xte, yte = xte[: a.test_limit], yte[: a.test_limit]
splits = [(torch.from_numpy((x - mean) / std).contiguous(), torch.from_numpy(y)) for x, y in ((xtr, ytr), (xte, yte))]

if a.model == "cnn":  # conv32-pool-conv64-pool-fc128, as trainer::net::model::build(SmallCnn)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
else:
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
net.eval()
params = list(net.parameters())
centre = nn.utils.parameters_to_vector(params).detach()
v1, v2 = torch.randn_like(centre), torch.randn_like(centre)
v1 /= v1.norm()
v2 -= (v2 @ v1) * v1
v2 /= v2.norm()
n_params = centre.numel()
span = 0.5 * centre.norm().item()
xs = torch.linspace(-span, span, a.grid).tolist()
lossf = nn.CrossEntropyLoss(reduction="sum")


@torch.inference_mode()
def evaluate(x, y):
    loss, correct = 0.0, 0
    for i in range(0, len(y), a.batch):
        logits = net(x[i : i + a.batch])
        yy = y[i : i + a.batch]
        loss += lossf(logits, yy).item()
        correct += (logits.argmax(1) == yy).sum().item()
    return loss / len(y), correct / len(y)


@torch.inference_mode()
def grid_point(x, y):
    w = centre + x * v1 + y * v2
    nn.utils.vector_to_parameters(w, params)
    return [evaluate(*s) for s in splits]


grid_point(0.0, 0.0)  # warm-up: allocations, thread pool
for rep in range(a.repeats):
    t = time.perf_counter()
    out = [grid_point(x, y) for y in xs for x in xs]
    secs = time.perf_counter() - t
    points = a.grid * a.grid
    print(json.dumps({"impl": "pytorch", "model": a.model, "version": torch.__version__, "threads": a.threads, "repeat": rep,
                      "grid": a.grid, "train": len(ytr), "test": len(yte), "params": n_params,
                      "secs": round(secs, 3), "points_per_sec": round(points / secs, 3)}), flush=True)
