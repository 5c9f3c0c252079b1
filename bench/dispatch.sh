#!/usr/bin/env bash
# Wall time of a replicated Fashion-MNIST sweep (4 decay points, 2 seeds: 10 runs) through the
# local executor and through Slurm (a throwaway single-node cluster, scripts/slurm.sh, as
# root), side by side on this machine, and each executor's per-job dispatch overhead: from the
# claim of a run to its first stored event (the worker's "started"). Usage: bench/dispatch.sh
# [MAX_CONCURRENT] (SLURM_JOBS: runs in flight on the cluster, default the same); the binary is
# target/debug/anneal (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
slots="${1:-1}"
bin=target/debug/anneal
sweep='{"name":"dispatch bench","seeds":[0,1],
  "main":{"seed":0,"schedule":{"kind":"constant","lr":0.1},
    "experiment":{"kind":"net","dataset":"fashion_mnist","train_per_class":200,"model":{"kind":"mlp","hidden":[512,512]},
      "loss":"mse","optimizer":{"kind":"sgd","momentum":0.9,"weight_decay":0.0001},"batch":25,"epochs":20,"checkpoint_every":1}},
  "branch_at":[5,10,15,20],"after":{"kind":"constant","lr":0.01},"branch_length":5}'

measure() { # $1 label; the rest: env for the server
  local label=$1; shift
  local data; data=$(mktemp -d -t anneal-bench-XXXXXX)
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env "$@" ANNEAL_ADDR="127.0.0.1:$port" ANNEAL_DATA_DIR="$data" ANNEAL_MAX_CONCURRENT="$slots" RUST_LOG=warn \
    "$bin" serve >"$data/server.log" 2>&1 &
  local pid=$!
  until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.2; done
  local t0; t0=$(date +%s.%N)
  curl -fsS -XPOST "http://127.0.0.1:$port/api/sweeps" -H 'content-type: application/json' -d "$sweep" >/dev/null
  while [[ $(curl -fsS "http://127.0.0.1:$port/api/sweeps/1" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(all(r["run"]["status"] in ("completed","failed","cancelled") for r in s["runs"]))') != True ]]; do sleep 1; done
  local t1; t1=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$label" "$t0" "$t1" "$data/anneal.db" <<'PY'
import sqlite3, statistics, sys
label, t0, t1, db = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
c = sqlite3.connect(db)
done = c.execute("select count(*) from runs where status='completed'").fetchone()[0]
# Claim (started_at_ms) to the first event that says which device trains it.
rows = c.execute("""select r.started_at_ms, min(e.created_at_ms) from runs r join run_events e on e.run_id = r.id
                    where e.kind = 'status' and e.data like '%"backend"%' group by r.id""").fetchall()
over = [b - a for a, b in rows]
spans = c.execute("select started_at_ms, finished_at_ms from runs where finished_at_ms is not null").fetchall()
peak = max(sum(1 for a2, b2 in spans if a2 <= a < b2) for a, _ in spans)
print(f"{label}: {done} runs completed, wall {t1 - t0:.1f} s; dispatch (claim -> first event) "
      f"median {statistics.median(over):.0f} ms, max {max(over):.0f} ms over {len(over)} jobs; at most {peak} runs at once")
PY
  rm -rf "$data"
}

measure local ANNEAL_EXECUTOR=local
sdir=$(mktemp -d -t anneal-slurm-XXXXXX)
senv=$(scripts/slurm.sh start "$sdir")
trap 'scripts/slurm.sh stop "$sdir"' EXIT
eval "$senv"
measure slurm ANNEAL_EXECUTOR=slurm ANNEAL_SLURM_MAX_JOBS="${SLURM_JOBS:-$slots}"
