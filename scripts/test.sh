#!/usr/bin/env bash
# The README's second command and CI's only step: set up, then run every test layer:
# clippy per feature set (the CUDA one included, as a compile check), unit tests, router-level
# HTTP/SSE tests, and the Playwright journeys.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n\033[1;34m[test %3ds]\033[0m %s\n' $(( $(date +%s) - start )) "$*"; }

WITH_CARGO_LEPTOS=0 scripts/setup.sh test
source scripts/env.sh   # same artifacts as scripts/build.sh and cargo-leptos dev
# A test run builds each crate once; incremental caches would only double target/'s size (33 GB
# of them once) on a disk that CI shares. A developer's own cargo keeps its default.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "format"
cargo fmt --all -- --check
step "clippy -D warnings, one feature set at a time (never --all-features)"
cargo clippy -p schedule -p experiment -p domain -p datasets -p trainer -p server --all-targets -- -D warnings
cargo clippy -p app --features ssr --all-targets -- -D warnings
cargo clippy -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --target-dir target/front -- -D warnings
CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" cargo clippy -p trainer --features cuda --lib --examples -- -D warnings
step "unit, storage and router tests"
cargo test -p schedule -p experiment -p domain -p datasets -p trainer -p server
step "Burn's GPU code path (wgpu: CubeCL kernels, fusion, autotune) on Mesa's software Vulkan, against the CPU"
# A second build of the Burn stack (burn-backend gains CubeCL features): about 21 minutes on 2
# cores, and about 6 more while lavapipe compiles every kernel autotune tries.
CUBECL_WGPU_DEFAULT_DEVICE=Cpu cargo test -p trainer --features wgpu --test wgpu_parity -- --nocapture
step "storage and router tests again on Postgres (the second backend)"
pgdir=$(mktemp -d -t anneal-pg-XXXXXX)
if pg_url=$(scripts/pg.sh start "$pgdir"); then
  trap 'scripts/pg.sh stop "$pgdir"' EXIT
  ANNEAL_TEST_POSTGRES_URL="$pg_url" cargo test -p server --bin anneal
  scripts/pg.sh stop "$pgdir"; trap - EXIT
else
  echo "WARNING: could not start a throwaway Postgres cluster (see $pgdir); the Postgres backend was NOT tested" >&2
fi
step "app (ssr) tests"
cargo test -p app --features ssr
step "build site and binary"
scripts/build.sh
step "the GPU check's CPU half (so that the script a GPU machine runs cannot rot)"
scripts/gpu-check.sh cpu
step "end-to-end (Playwright, Chromium)"
scripts/e2e.sh debug
step "Slurm executor on a throwaway single-node cluster (Debian's slurm packages)"
sdir=$(mktemp -d -t anneal-slurm-XXXXXX)
if senv=$(scripts/slurm.sh start "$sdir"); then
  trap 'scripts/slurm.sh stop "$sdir"' EXIT
  (eval "$senv"; cargo test -p server --test slurm)
  # And from the browser: the same journeys' server, dispatching to the cluster.
  (eval "$senv"; ANNEAL_EXPECT_EXECUTOR=slurm scripts/e2e.sh debug tests/slurm.spec.ts)
  scripts/slurm.sh stop "$sdir"; trap - EXIT
else
  echo "WARNING: could not start a single-node Slurm cluster (see $sdir/log); the Slurm executor was NOT tested" >&2
fi
step "all passed"
