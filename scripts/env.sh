# Sourced by the build and test scripts: the environment cargo-leptos sets for dev builds, so
# plain cargo and cargo-leptos produce (and reuse) the same artifacts in target/.
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"   # binaryen's wasm-opt before any system one
export LEPTOS_OUTPUT_NAME=anneal   # read at compile time by leptos: names /pkg/anneal.wasm
if [[ "${ANNEAL_PROFILE:-debug}" == release ]]; then unset RUSTFLAGS; else export RUSTFLAGS="--cfg erase_components"; fi
