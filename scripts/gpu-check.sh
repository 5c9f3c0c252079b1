#!/usr/bin/env bash
# The GPU check (#14). `scripts/gpu-check.sh build` (here, with the Rust toolchain) builds the
# check with the `cuda` feature for CUDA 13 (CUDARC_CUDA_VERSION=13000; cudarc loads the driver
# at run time, so no CUDA toolkit is needed to build) and strips it into target/gpu-check/.
# `scripts/gpu-check.sh run [IMAGES]` (on a machine with an NVIDIA GPU, no toolchain needed)
# trains one epoch of narrow VGG-11 on generated CIFAR-10-format data on the CPU and on CUDA
# from the same weights, checks that the first steps' losses agree, and prints samples/s for
# each. `scripts/gpu-check.sh cpu [IMAGES]` runs the CPU half only, with a CPU-only build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/gpu-check
case "${1:-}" in
  build)
    source scripts/env.sh
    # Its own target dir: the CUDA build neither waits on nor invalidates the everyday one.
    CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" \
      cargo build -p trainer --example gpu_check --features cuda --target-dir target/cuda
    mkdir -p "$out"
    strip -o "$out/gpu_check" target/cuda/debug/examples/gpu_check
    ls -la "$out/gpu_check"
    ;;
  run)
    [[ -x "$out/gpu_check" ]] || { echo "no $out/gpu_check: run 'scripts/gpu-check.sh build' first (here, then carry it)" >&2; exit 1; }
    ldconfig -p 2>/dev/null | grep -q 'libcuda\.so' || { echo "no NVIDIA driver (libcuda.so) on this machine: CUDA cannot be checked here" >&2; exit 1; }
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    lscpu | grep -m1 "Model name" || true
    timeout "${GPU_CHECK_TIMEOUT:-300}" "$out/gpu_check" --images "${2:-2560}"
    ;;
  cpu)
    source scripts/env.sh
    cargo build -p trainer --example gpu_check
    lscpu | grep -m1 "Model name" || true
    target/debug/examples/gpu_check --cpu-only --images "${2:-640}"
    ;;
  *)
    echo "usage: scripts/gpu-check.sh build | run [IMAGES] | cpu [IMAGES]" >&2
    exit 2
    ;;
esac
