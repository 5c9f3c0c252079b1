"""Reference for trainer/benches/train_throughput.rs: the same models, data, batch and optimizer
in PyTorch on CPU. Prints one JSON line per repeat.

    python bench/torch_train.py [mlp|cnn|vgg11|vgg11_bn|resnet20] [repeats] [steps] --threads 2
    python bench/torch_train.py vgg11 --rss --threads 2   # one step; RSS before it and peak
    python bench/torch_train.py vgg11 1 40 --device cuda  # eager PyTorch on a GPU (the GPU check)

mlp and cnn train on Fashion-MNIST; vgg11 (the paper's narrow VGG-11, no BatchNorm, as
trainer::net::model::build makes it) on 2048 synthetic CIFAR-shaped images (3×32×32, labels
cycling through 10 classes), as the Rust bench does: the bench machine has no CIFAR-10.
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
p.add_argument("--rss", action="store_true", help="one training step, then the resident memory")
p.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU check")
a = p.parse_args()
torch.set_num_threads(a.threads)


def idx(path):
    with gzip.open(path) as f:
        magic, n = struct.unpack(">II", f.read(8))
        dims = struct.unpack(">II", f.read(8)) if magic == 2051 else ()
        return np.frombuffer(f.read(), np.uint8).reshape((n, 1, *dims) if dims else (n,))


if a.model in ("vgg11", "vgg11_bn", "resnet20"):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 3, 32, 32, generator=g)
    y = torch.arange(2048) % 10
else:
    x = idx(os.path.join(a.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x - x.mean()) / x.std()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
dev = torch.device(a.device)
x, y = x.to(dev), y.to(dev)


def sync():
    """A GPU queues work: time only what has finished."""
    if dev.type == "cuda":
        torch.cuda.synchronize()


class Block(nn.Module):
    """He et al.'s CIFAR basic block with the option-A shortcut, as experiment::zoo::resnet20
    builds it (the new channels' zeros split before and after the old ones)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                               nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.stride, self.extra = stride, cout - cin

    def forward(self, x):
        sc = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.extra:
            sc = nn.functional.pad(sc, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return torch.relu(self.f(x) + sc)


def resnet20():
    blocks, cin = [], 16
    for stage, width in enumerate([16, 32, 64]):
        for b in range(3):
            blocks.append(Block(cin, width, 2 if stage > 0 and b == 0 else 1))
            cin = width
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), *blocks,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def vgg11_narrow(bn=False):
    # As trainer::net::model::build(Vgg11 { width: Narrow, batch_norm: false }): 3×3 convs with
    # padding 1 and bias, each followed by ReLU; "M" is a 2×2 max-pool; five pools take 32×32 to
    # 1×1; then Linear-ReLU-Dropout(0.5) twice and the classifier.
    layers, cin = [], 3
    for v in [32, "M", 64, "M", 64, 64, "M", 128, 128, "M", 256, 256, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1)] + ([nn.BatchNorm2d(v)] if bn else []) + [nn.ReLU()]
            cin = v
    return nn.Sequential(*layers, nn.Flatten(),
                         nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 10))


def build(kind):
    if kind == "cnn":  # conv32-pool-conv64-pool-fc128, as trainer::net::model::build(SmallCnn)
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    if kind == "vgg11":
        return vgg11_narrow()
    if kind == "vgg11_bn":
        return vgg11_narrow(bn=True)
    if kind == "resnet20":
        return resnet20()
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def rss_mib():
    """VmRSS and VmHWM (peak) of this process in MiB, as the Rust bench reads them."""
    fields = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))


steps = a.steps or {"cnn": 20, "vgg11": 10, "vgg11_bn": 10, "resnet20": 5}.get(a.model, 200)
batch = 128
for rep in range(1 if a.rss else a.repeats):
    net = build(a.model).to(dev)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    phases = [0.0, 0.0, 0.0]
    def step(s):
        t0 = time.perf_counter()
        i = torch.arange(s * batch, (s + 1) * batch, device=dev) % len(y)
        opt.zero_grad(set_to_none=True)
        loss = lossf(net(x[i]), y[i])
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        phases[0] += t1 - t0; phases[1] += t2 - t1; phases[2] += time.perf_counter() - t2
    if a.rss:
        before, _ = rss_mib()
        step(0)
        _, peak = rss_mib()
        print(json.dumps({"impl": f"pytorch-{torch.__version__}", "model": a.model, "threads": a.threads, "batch": batch,
                          "rss_before_step_mib": round(before, 1), "peak_rss_mib": round(peak, 1)}), flush=True)
        break
    for s in range(3):
        step(s)
    sync()
    phases[:] = [0.0, 0.0, 0.0]
    t = time.perf_counter()
    for s in range(3, steps + 3):
        step(s)
    sync()
    secs = time.perf_counter() - t
    print(json.dumps({"impl": f"pytorch-{torch.__version__}", "model": a.model, "threads": a.threads,
                      "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", "repeat": rep, "steps": steps, "batch": batch, "samples_per_sec": round(steps * batch / secs, 1),
                      **{f"share_{k}": round(v / sum(phases), 3) for k, v in zip(("forward", "backward", "step"), phases)}}), flush=True)
