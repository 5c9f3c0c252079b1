"""Reference for trainer/benches/train_throughput.rs: the same models, data, batch and optimizer
in PyTorch on CPU. Prints one JSON line per repeat.

    python bench/torch_train.py [mlp|cnn] [repeats] [steps] --threads 2
"""
import argparse, gzip, json, os, struct, time

import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("model", nargs="?", default="mlp")
p.add_argument("repeats", nargs="?", type=int, default=3)
p.add_argument("steps", nargs="?", type=int, default=None)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
a = p.parse_args()
torch.set_num_threads(a.threads)

def idx(path):
    with gzip.open(path) as f:
        magic, n = struct.unpack(">II", f.read(8))
        dims = struct.unpack(">II", f.read(8)) if magic == 2051 else ()
        return np.frombuffer(f.read(), np.uint8).reshape((n, 1, *dims) if dims else (n,))

x = idx(os.path.join(a.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
y = idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
x = (x - x.mean()) / x.std()
x, y = torch.from_numpy(x), torch.from_numpy(y)

def build(kind):
    if kind == "cnn":  # conv32-pool-conv64-pool-fc128, as trainer::net::model::build(SmallCnn)
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

steps = a.steps or (20 if a.model == "cnn" else 200)
batch = 128
for rep in range(a.repeats):
    net = build(a.model)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    phases = [0.0, 0.0, 0.0]
    def step(s):
        t0 = time.perf_counter()
        i = torch.arange(s * batch, (s + 1) * batch) % len(y)
        opt.zero_grad(set_to_none=True)
        loss = lossf(net(x[i]), y[i])
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        phases[0] += t1 - t0; phases[1] += t2 - t1; phases[2] += time.perf_counter() - t2
    for s in range(3):
        step(s)
    phases[:] = [0.0, 0.0, 0.0]
    t = time.perf_counter()
    for s in range(3, steps + 3):
        step(s)
    secs = time.perf_counter() - t
    print(json.dumps({"impl": f"pytorch-{torch.__version__}", "model": a.model, "threads": a.threads,
                      "repeat": rep, "steps": steps, "batch": batch, "samples_per_sec": round(steps * batch / secs, 1),
                      **{f"share_{k}": round(v / sum(phases), 3) for k, v in zip(("forward", "backward", "step"), phases)}}), flush=True)
