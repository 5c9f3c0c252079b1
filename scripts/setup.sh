#!/usr/bin/env bash
# Idempotently installs what Anneal needs on Debian with a Rust toolchain.
#   scripts/setup.sh run    what building and running the app needs (scripts/start.sh): the
#                           Fashion-MNIST package, the wasm target, wasm-bindgen-cli at the exact
#                           version Cargo.lock pins, plotly.js and binaryen from npm
#   scripts/setup.sh test   all of that, plus what only the tests need (scripts/test.sh):
#                           Chromium and Playwright for the journeys, PostgreSQL for the second
#                           storage backend, Slurm (with slurmrestd and munge) for the cluster
#                           executor
# WITH_CARGO_LEPTOS=1 also installs cargo-leptos 0.3.10 (about 18 minutes on 2 cores; only
# `cargo leptos watch` needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-test}"
[[ "$purpose" == run || "$purpose" == test ]] || { echo "usage: scripts/setup.sh run|test" >&2; exit 2; }

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  say "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

if command -v apt-get >/dev/null; then
  apt_install dataset-fashion-mnist
  if [[ "$purpose" == test ]]; then
    apt_install chromium
    # Postgres is only the storage tests' second backend: without it they run on SQLite alone.
    apt_install postgresql || say "could not install postgresql: the Postgres storage tests will be skipped"
    # A single-node Slurm cluster for the Slurm executor's tests (scripts/slurm.sh).
    apt_install slurmctld slurmd slurmrestd munge slurm-client || say "could not install Slurm: the Slurm executor tests will be skipped"
    # Mesa's software Vulkan (lavapipe): the wgpu parity test trains Burn's GPU code path on it.
    apt_install mesa-vulkan-drivers libvulkan1 || say "could not install Mesa's Vulkan driver: the wgpu parity test will fail"
  fi
else
  say "no apt-get: install Fashion-MNIST (and, for the tests, Chromium) yourself (see README)"
fi

rustup target list --installed | grep -qx wasm32-unknown-unknown || { say "adding wasm32 target"; rustup target add wasm32-unknown-unknown; }

# The CLI must equal the wasm-bindgen crate version in Cargo.lock exactly.
[[ -f Cargo.lock ]] || cargo generate-lockfile
WB=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WB" ]]; then
  say "installing wasm-bindgen-cli $WB (once; about 4 minutes on 2 cores)"
  # No --locked: its lockfile pins a webpki-roots release the registry no longer has.
  cargo install wasm-bindgen-cli --version "$WB" --force
fi

if [[ "${WITH_CARGO_LEPTOS:-0}" == 1 && "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos 0.3.10" ]]; then
  say "installing cargo-leptos 0.3.10 (~18 min on 2 cores)"
  # 0.3.11 needs rustc 1.96; no_downloads because this machine can't fetch tools from GitHub.
  cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads --force
fi

if [[ ! -x node_modules/.bin/wasm-opt || ! -f node_modules/plotly.js-dist-min/plotly.min.js ]]; then
  say "npm ci (plotly.js, binaryen)"
  npm ci --no-audit --no-fund --loglevel=error
fi
cmp -s node_modules/plotly.js-dist-min/plotly.min.js public/plotly.min.js \
  || cp node_modules/plotly.js-dist-min/plotly.min.js public/plotly.min.js
if [[ "$purpose" == test && ! -d end2end/node_modules/@playwright/test ]]; then
  say "npm ci in end2end (Playwright; no browser download)"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi
say "ok"
