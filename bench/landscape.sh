#!/usr/bin/env bash
# Interleaves Burn (flex) and PyTorch rounds of the 41×41 loss-landscape grid on 2 threads and
# prints the medians of grid points per second and their ratio. Needs a PyTorch venv:
# python3 -m venv .venv && .venv/bin/pip install torch numpy
# Settings (env): ROUNDS (3), GRID (41), PER_CLASS (100), TEST_LIMIT (1000), EPOCHS (10),
# MODEL (mlp, or cnn for the small CNN).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rounds="${ROUNDS:-3}"; py="${PYTHON:-.venv/bin/python}"
grid="${GRID:-41}"; per_class="${PER_CLASS:-100}"; test_limit="${TEST_LIMIT:-1000}"; epochs="${EPOCHS:-10}"; model="${MODEL:-mlp}"
cargo bench -p trainer --bench landscape --no-run >/dev/null 2>&1
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
  RAYON_NUM_THREADS=2 cargo bench -q -p trainer --bench landscape -- "$grid" "$per_class" "$test_limit" "$epochs" 1 "$model" 2>/dev/null | grep '^{' | tee -a "$out"
  OMP_NUM_THREADS=2 "$py" bench/torch_landscape.py "$grid" "$per_class" "$test_limit" 1 --threads 2 --model "$model" | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["impl"].split("-")[0], []).append(r)
burn, torch = by.get("burn", []), by.get("pytorch", [])
if burn and torch:
    b = [r["points_per_sec"] for r in burn]; t = [r["points_per_sec"] for r in torch]
    bm, tm = statistics.median(b), statistics.median(t)
    print(f"{burn[0].get('model', 'mlp')} grid {burn[0]['grid']}x{burn[0]['grid']}, train {burn[0]['train']}, test {burn[0]['test']}: "
          f"burn-flex median {bm:.2f} (best {max(b):.2f}) points/s, {statistics.median(r['secs'] for r in burn):.1f} s | "
          f"pytorch median {tm:.2f} (best {max(t):.2f}) points/s, {statistics.median(r['secs'] for r in torch):.1f} s | "
          f"ratio median {bm/tm:.2f}, best {max(b)/max(t):.2f}  (n={len(b)},{len(t)})")
PY
