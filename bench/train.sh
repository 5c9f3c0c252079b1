#!/usr/bin/env bash
# Interleaves Burn (flex) and PyTorch training-throughput rounds on 2 threads and prints the
# medians and their ratio. Needs a PyTorch venv: python3 -m venv .venv && .venv/bin/pip install torch numpy
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rounds="${ROUNDS:-3}"; py="${PYTHON:-.venv/bin/python}"
cargo bench -p trainer --bench train_throughput --no-run >/dev/null 2>&1
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
  for m in mlp cnn; do
    RAYON_NUM_THREADS=2 cargo bench -q -p trainer --bench train_throughput -- "$m" 3 2>/dev/null | grep '^{' >>"$out"
    OMP_NUM_THREADS=2 "$py" bench/torch_train.py "$m" 3 --threads 2 >>"$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for m in ("mlp", "cnn"):
    by = {}
    for r in rows:
        if r["model"] == m:
            by.setdefault(r["impl"].split("-")[0], []).append(r["samples_per_sec"])
    burn, torch = by.get("burn", []), by.get("pytorch", [])
    if burn and torch:
        bm, tm = statistics.median(burn), statistics.median(torch)
        print(f"{m}: burn-flex median {bm:,.0f} (best {max(burn):,.0f}) samples/s | pytorch median {tm:,.0f} (best {max(torch):,.0f}) | ratio median {bm/tm:.2f}, best {max(burn)/max(torch):.2f}  (n={len(burn)},{len(torch)})")
PY
