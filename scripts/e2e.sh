#!/usr/bin/env bash
# Starts the built server on a fresh data directory, waits for /healthz, runs the Playwright
# journeys in Debian's Chromium, and stops the server. Usage: scripts/e2e.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-debug}"
port="${ANNEAL_E2E_PORT:-3000}"
if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
  echo "port $port already serves an Anneal (or something else): stop it, or set ANNEAL_E2E_PORT" >&2
  exit 1
fi
data=$(mktemp -d -t anneal-e2e-XXXXXX)
ANNEAL_ADDR="127.0.0.1:$port" ANNEAL_DATA_DIR="$data" RUST_LOG="${RUST_LOG:-info,sqlx=warn}" \
  "target/$profile/anneal" serve >"$data/server.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; [[ "${KEEP_E2E_DATA:-0}" == 1 ]] || rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/server.log"; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "server did not become ready"; cat "$data/server.log"; exit 1; }
status=0
(cd end2end && ANNEAL_URL="http://127.0.0.1:$port" npx playwright test "${@:2}") || status=$?
[[ $status -eq 0 ]] || { echo "--- server log ---"; tail -50 "$data/server.log"; }
exit $status
