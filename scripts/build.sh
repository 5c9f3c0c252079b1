#!/usr/bin/env bash
# Builds the site and the `anneal` binary with plain cargo + wasm-bindgen: the same commands and
# environment cargo-leptos uses, so both share target/. Usage: scripts/build.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug; wasm_profile=debug; cargo_flags=(); wasm_flags=()
if [[ "${1:-}" == "--release" ]]; then
  profile=release; wasm_profile=wasm-release; cargo_flags=(--release); wasm_flags=(--profile wasm-release)
fi
ANNEAL_PROFILE=$profile source scripts/env.sh

cargo build -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --target-dir target/front "${wasm_flags[@]}"
cargo build -p server --bin anneal --no-default-features ${ANNEAL_FEATURES:+--features "$ANNEAL_FEATURES"} "${cargo_flags[@]}"

site=target/site
rm -rf "$site.tmp" && mkdir -p "$site.tmp/pkg"
cp -r public/. "$site.tmp/"
cp style/main.css "$site.tmp/pkg/anneal.css"
wasm-bindgen --target web --out-name anneal --out-dir "$site.tmp/pkg" \
  "target/front/wasm32-unknown-unknown/$wasm_profile/app.wasm"
mv "$site.tmp/pkg/anneal_bg.wasm" "$site.tmp/pkg/anneal.wasm"
if [[ $profile == release ]]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$site.tmp/pkg/anneal.wasm" -o "$site.tmp/pkg/anneal.wasm"
fi
rm -rf "$site" && mv "$site.tmp" "$site"
echo "built target/$profile/anneal and $site"
