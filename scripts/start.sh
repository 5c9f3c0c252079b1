#!/usr/bin/env bash
# The README's first command: install what is missing, build, and serve the app at
# http://127.0.0.1:3000 on the embedded defaults (CPU backend, SQLite under ./data).
# It installs only what running the app needs (scripts/setup.sh run): no browser, no database
# server, no cargo-leptos. The first build compiles Burn, Leptos and the server from cold (the
# README gives the measured time); later ones reuse target/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh run
echo "[start] building the site and the server (the first, cold build takes minutes: see the README)"
scripts/build.sh "$@"
echo "[start] ready after $(( $(date +%s) - start )) s"
profile=debug; [[ "${1:-}" == "--release" ]] && profile=release
exec "target/$profile/anneal" serve
