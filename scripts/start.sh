#!/usr/bin/env bash
# The README's first command: install what is missing, build, and serve the app at
# http://127.0.0.1:3000 on the embedded defaults (CPU backend, SQLite under ./data).
# Set WITH_CARGO_LEPTOS=0 to skip the cargo-leptos install (only `cargo leptos watch` needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_CARGO_LEPTOS="${WITH_CARGO_LEPTOS:-1}" scripts/setup.sh
scripts/build.sh "$@"
profile=debug; [[ "${1:-}" == "--release" ]] && profile=release
exec "target/$profile/anneal" serve
