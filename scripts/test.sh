#!/usr/bin/env bash
# The README's second command and CI's only step: set up, then run every test layer:
# unit tests, router-level HTTP/SSE tests, the CUDA compile check, and the Playwright journeys.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n\033[1;34m[test %3ds]\033[0m %s\n' $(( $(date +%s) - start )) "$*"; }

WITH_CARGO_LEPTOS=0 scripts/setup.sh
source scripts/env.sh   # same artifacts as scripts/build.sh and cargo-leptos dev

step "format"
cargo fmt --all -- --check
step "unit, storage and router tests"
cargo test -p schedule -p spec -p datasets -p trainer -p server
step "app (ssr) tests"
cargo test -p app --features ssr
step "CUDA feature compiles (no GPU needed)"
CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" cargo check -p trainer --features cuda
step "build site and binary"
scripts/build.sh
step "end-to-end (Playwright, Chromium)"
scripts/e2e.sh debug
step "all passed"
