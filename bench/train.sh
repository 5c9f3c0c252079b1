#!/usr/bin/env bash
# Interleaves Burn (flex) and PyTorch training-throughput rounds (batch 128) for the MLP, the small
# CNN, the paper's narrow VGG-11 and ResNet-20 (built from its layer list, batch norm and residual
# blocks; `vgg11_bn` is the narrow VGG-11 with batch norm), at 2 threads and at 1, and prints medians, bests and their
# ratios; then the peak resident memory of one VGG-11 training step in a fresh process for each.
# The last lines are `ratio <model> median <x> best <y>` (Burn samples/s ÷ PyTorch samples/s at
# 2 threads), one per model, for scripts to read.
#
# Needs only bash and a PyTorch venv: python3 -m venv .venv && .venv/bin/pip install torch numpy
#   ROUNDS=3 MODELS="mlp cnn vgg11 resnet20" THREADS="2 1" REPEATS=3 STEPS= bench/train.sh
# (STEPS empty: each model's default, 200 / 20 / 10 / 5 steps per repeat.) VGG-11 and ResNet-20
# train on synthetic CIFAR-shaped images on both sides; see trainer/benches/train_throughput.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rounds="${ROUNDS:-3}"; py="${PYTHON:-.venv/bin/python}"
models="${MODELS:-mlp cnn vgg11 resnet20}"; threads="${THREADS:-2 1}"; repeats="${REPEATS:-3}"; steps="${STEPS:-}"
cargo bench -p trainer --bench train_throughput --no-run >/dev/null 2>&1
burn() { RAYON_NUM_THREADS="$1" cargo bench -q -p trainer --bench train_throughput -- "${@:2}" 2>/dev/null | grep '^{'; }
torch() { OMP_NUM_THREADS="$1" "$py" bench/torch_train.py "${@:2}" --threads "$1"; }
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
[[ -n "$cpu" ]] || cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
echo "CPU: ${cpu:-unknown} ($(nproc) cores visible)"
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
  for m in $models; do
    for t in $threads; do
      burn "$t" "$m" "$repeats" $steps >>"$out"
      torch "$t" "$m" "$repeats" $steps >>"$out"
    done
  done
done
rss=$(mktemp)
if [[ " $models " == *" vgg11 "* ]]; then
  burn 2 vgg11 rss >>"$rss"
  torch 2 vgg11 --rss >>"$rss"
fi
"$py" - "$out" "$rss" "$models" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rss = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
models, threads = sys.argv[3].split(), sys.argv[4].split()
ratios = {}
for m in models:
    for t in threads:
        by = {}
        for r in rows:
            if r["model"] == m and str(r["threads"]) == t:
                by.setdefault(r["impl"].split("-")[0], []).append(r["samples_per_sec"])
        burn, torch = by.get("burn", []), by.get("pytorch", [])
        if not (burn and torch):
            continue
        bm, tm = statistics.median(burn), statistics.median(torch)
        rm, rb = bm / tm, max(burn) / max(torch)
        print(f"{m} @{t} thread{'s' if t != '1' else ''}: burn-flex median {bm:,.0f} (best {max(burn):,.0f}) samples/s"
              f" | pytorch median {tm:,.0f} (best {max(torch):,.0f}) | ratio median {rm:.2f}, best {rb:.2f}  (n={len(burn)},{len(torch)})")
        if t == "2":
            ratios[m] = (rm, rb)
for m in models:
    shares = [r["share_data"] for r in rows if r["model"] == m and "share_data" in r and str(r["threads"]) == "2"]
    if shares:
        print(f"data pipeline share of a {m} step @2 threads (burn-flex): median {100 * statistics.median(shares):.2f}%"
              f", max {100 * max(shares):.2f}% (n={len(shares)})")
for r in rss:
    print(f"peak RSS, one {r['model']} step @{r['threads']} threads: {r['impl']} {r['peak_rss_mib']:,.0f} MiB"
          f" ({r['rss_before_step_mib']:,.0f} MiB before the step)")
for m in models:
    if m in ratios:
        print(f"ratio {m} median {ratios[m][0]:.3f} best {ratios[m][1]:.3f}")
PY
rm -f "$out" "$rss"
