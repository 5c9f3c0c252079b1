#!/usr/bin/env bash
# Starts the built server on a fresh data directory and a free port, waits for /healthz, runs
# the Playwright journeys in Debian's Chromium, and stops the server.
# Usage: scripts/e2e.sh [debug|release] [playwright args…]
# The port is one nothing listens on (so the journeys run beside an app that scripts/start.sh
# serves on 3000), unless ANNEAL_E2E_PORT names one.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-debug}"
# Whether something accepts connections on 127.0.0.1:$1 (bash's /dev/tcp, no extra tool).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port below Linux's ephemeral range (32768 and up), so no outgoing connection holds it.
pick_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 12000 ))
    listening "$p" || { echo "$p"; return; }
  done
  echo "no free port found between 20000 and 32000" >&2
  return 1
}
if [[ -n "${ANNEAL_E2E_PORT:-}" ]] && listening "$ANNEAL_E2E_PORT"; then
  echo "port $ANNEAL_E2E_PORT (ANNEAL_E2E_PORT) already serves an Anneal (or something else): stop it, or unset ANNEAL_E2E_PORT to use a free port" >&2
  exit 1
fi
data=$(mktemp -d -t anneal-e2e-XXXXXX)
pid=""
cleanup() {
  [[ -z "$pid" ]] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  [[ "${KEEP_E2E_DATA:-0}" == 1 ]] || rm -rf "$data"
}
trap cleanup EXIT
# Starts the server on $port and waits until it answers; fails if it exits first (a port taken
# between the check and the bind, for one).
start_server() {
  ANNEAL_ADDR="127.0.0.1:$port" ANNEAL_DATA_DIR="$data" RUST_LOG="${RUST_LOG:-info,sqlx=warn}" \
    "target/$profile/anneal" serve >"$data/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    # Alive after answering, so that the answer was ours and not another server's on the port.
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; pid=""; return 1; }
    sleep 0.2
  done
  echo "server did not become ready"; cat "$data/server.log"; exit 1
}
for attempt in 1 2 3 4 5; do
  port="${ANNEAL_E2E_PORT:-$(pick_port)}"
  start_server && break
  # Taken by someone else in the meantime: another port, unless one was asked for.
  if [[ -z "${ANNEAL_E2E_PORT:-}" && $attempt -lt 5 ]] && grep -qi "address already in use" "$data/server.log"; then
    continue
  fi
  cat "$data/server.log"; exit 1
done
echo "[e2e] server on http://127.0.0.1:$port"
status=0
(cd end2end && ANNEAL_URL="http://127.0.0.1:$port" npx playwright test "${@:2}") || status=$?
[[ $status -eq 0 ]] || { echo "--- server log ---"; tail -50 "$data/server.log"; }
exit $status
