"""The GPU check's report (scripts/gpu-check.sh run): reads the Burn and PyTorch timings and the
two CLI sweeps' databases, compares the sweeps' metrics epoch by epoch, prints a summary and
writes everything to OUT/gpu-check.json. Exits non-zero when the CUDA sweep did not finish or
its main path's first epochs disagree with the CPU's beyond the tolerance.

    python3 scripts/gpu-check-report.py OUT CUDA_DB CPU_DB
"""
import json, sqlite3, sys

# Per-epoch relative tolerance between CUDA and CPU: different summation orders (and TF32 tensor
# cores) compound over an epoch of steps; the first epochs must still agree closely.
TOLERANCE = 0.05
out, cuda_db, cpu_db = sys.argv[1:4]


def runs(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, status, backend, device, parent_id FROM runs ORDER BY id").fetchall()
    result = []
    for rid, status, backend, device, parent in rows:
        metrics = [json.loads(d) for (d,) in con.execute(
            "SELECT data FROM run_events WHERE run_id = ? AND kind = 'metric' ORDER BY seq", (rid,))]
        result.append({"id": rid, "status": status, "backend": backend, "device": device,
                       "branch": parent is not None, "metrics": metrics})
    return result


def value(row, key):
    return (row.get("values") or row).get(key)


cuda, cpu = runs(cuda_db), runs(cpu_db)
burn = json.load(open(f"{out}/burn.json"))
torch = json.loads(open(f"{out}/torch.json").read().strip().splitlines()[-1])
report = {"burn": burn, "torch": torch,
          "burn_over_torch_samples_per_sec": burn["cuda"]["samples_per_sec"] / torch["samples_per_sec"],
          "sweep": {"cuda": [{k: r[k] for k in ("id", "status", "backend", "device", "branch")} for r in cuda],
                    "cpu": [{k: r[k] for k in ("id", "status", "backend", "device", "branch")} for r in cpu]}}
problems = [f"cuda run {r['id']} is {r['status']}" for r in cuda if r["status"] != "completed"]
problems += [f"cuda run {r['id']} trained on {r['backend']}" for r in cuda if r["backend"] != "cuda"]
diffs = []
for a, b in zip(cuda, cpu):
    for ra, rb in zip(a["metrics"], b["metrics"]):
        for key in ("train_loss", "test_loss"):
            x, y = value(ra, key), value(rb, key)
            if x is not None and y is not None:
                diffs.append({"run": a["id"], "step": ra.get("step"), "metric": key, "cuda": x, "cpu": y,
                              "relative": abs(x - y) / max(abs(y), 1e-12)})
main_first = [d for d in diffs if d["run"] == cuda[0]["id"]][:4] if cuda else []
problems += [f"{d['metric']} at step {d['step']}: cuda {d['cuda']:.5f} vs cpu {d['cpu']:.5f}"
             for d in main_first if d["relative"] > TOLERANCE]
report["sweep"]["differences"] = diffs
report["sweep"]["tolerance"] = TOLERANCE
report["problems"] = problems
json.dump(report, open(f"{out}/gpu-check.json", "w"), indent=2)
print(f"device: {burn.get('device')}")
print(f"narrow VGG-11, batch {burn['batch']}: Burn-CUDA {burn['cuda']['samples_per_sec']:.0f} samples/s, "
      f"PyTorch eager {torch['samples_per_sec']:.0f}, ratio {report['burn_over_torch_samples_per_sec']:.2f}")
print(f"CLI sweep on CUDA: {len(cuda)} runs, {sum(r['status'] == 'completed' for r in cuda)} completed; "
      f"worst relative difference from the CPU sweep {max((d['relative'] for d in diffs), default=float('nan')):.2e}")
if problems:
    print("FAILED:", *problems, sep="\n  ")
    sys.exit(1)
print("gpu check passed")
