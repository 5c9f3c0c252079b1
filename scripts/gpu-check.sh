#!/usr/bin/env bash
# The GPU check, one prepared script for one short device call.
#   scripts/gpu-check.sh build   here, with the Rust toolchain: the check and the `anneal` binary
#                                with `--features cuda` (fusion and autotune) for CUDA 13
#                                (CUDARC_CUDA_VERSION=13000; the driver is loaded at run time, so
#                                no toolkit is needed to build), stripped into target/gpu-check/.
#   scripts/gpu-check.sh run     on a machine with an NVIDIA GPU (no toolchain; PyTorch in its
#                                python3): finds the CUDA toolkit, trains narrow VGG-11 for one
#                                epoch on CPU and CUDA from the same weights (losses must agree),
#                                times Burn-CUDA and PyTorch eager on the same GPU after warm-up,
#                                runs the headless CLI's sweep on CUDA and on the CPU and compares
#                                their first epochs. Figures go to $OUT/gpu-check.json ($OUT, or
#                                target/gpu-check/out).
#   scripts/gpu-check.sh cpu     the CPU half anywhere (the test command runs it, so it cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/gpu-check
out="${OUT:-$bin/out}"
say() { printf '[gpu-check] %s\n' "$*"; }
die() { printf '[gpu-check] FAILED: %s\n' "$*" >&2; exit 1; }

# CubeCL compiles its kernels with NVRTC at run time, against the toolkit's headers.
find_toolkit() {
  local nvcc root lib
  nvcc=$(command -v nvcc || true)
  [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
  [[ -n "$nvcc" ]] || die "no nvcc on PATH or in /usr/local/cuda/bin: the CUDA toolkit is missing"
  root="${CUDA_PATH:-$(dirname "$(dirname "$(readlink -f "$nvcc")")")}"
  say "CUDA_PATH=$root (from $nvcc)"
  [[ -f "$root/include/cuda_runtime.h" ]] || die "$root/include/cuda_runtime.h is missing"
  [[ -d "$root/include/cccl" || -d "$root/targets/x86_64-linux/include/cccl" ]] || die "no include/cccl under $root"
  lib=$(find "$root/lib64" "$root/lib" "$root/targets" -name 'libnvrtc.so.13*' 2>/dev/null | head -1 || true)
  [[ -n "$lib" ]] || die "no libnvrtc.so.13* under $root"
  say "found include/cuda_runtime.h, include/cccl, $lib"
  export CUDA_PATH="$root"
  export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# The headless CLI's sweep on generated data, on $1 (cpu or cuda), in data directory $2.
cli_sweep() {
  local backend=$1 data=$2
  sed "s/^backend = .*/backend = \"$backend\"/" scripts/gpu-check-sweep.toml >"$data/sweep.toml"
  ANNEAL_DATA_DIR="$data" timeout 150 "$bin/anneal" sweep "$data/sweep.toml" >"$data/sweep.log" 2>&1 \
    || { tail -20 "$data/sweep.log" >&2; die "the $backend sweep failed"; }
}

case "${1:-}" in
  build)
    source scripts/env.sh
    # Its own target dir: the CUDA build neither waits on nor invalidates the everyday one.
    CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" \
      cargo build -p trainer --example gpu_check -p server --bin anneal --features trainer/cuda,server/cuda \
      --target-dir target/cuda
    mkdir -p "$bin"
    strip -o "$bin/gpu_check" target/cuda/debug/examples/gpu_check
    strip -o "$bin/anneal" target/cuda/debug/anneal
    ls -la "$bin"
    ;;
  run)
    [[ -x "$bin/gpu_check" && -x "$bin/anneal" ]] || die "no $bin/gpu_check or $bin/anneal: run 'scripts/gpu-check.sh build' first (here, then carry $bin)"
    ldconfig -p 2>/dev/null | grep -q 'libcuda\.so' || die "no NVIDIA driver (libcuda.so) on this machine"
    mkdir -p "$out"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    lscpu | grep -m1 "Model name" || true
    find_toolkit
    say "1/3 narrow VGG-11, one epoch, CPU and CUDA from the same weights"
    timeout 180 "$bin/gpu_check" --images "${GPU_CHECK_IMAGES:-5120}" --json "$out/burn.json"
    say "2/3 the same model and batch in PyTorch eager on the same GPU"
    timeout 120 python3 bench/torch_train.py vgg11 1 40 --device cuda | tee "$out/torch.json"
    say "3/3 the headless CLI's sweep (checkpoints on the GPU, branches resumed from them), CUDA and CPU"
    work=$(mktemp -d)
    "$bin/gpu_check" --write-data "$work/cuda/cifar" --images 1280 >/dev/null
    cp -r "$work/cuda" "$work/cpu"
    cli_sweep cuda "$work/cuda"
    cli_sweep cpu "$work/cpu"
    python3 scripts/gpu-check-report.py "$out" "$work/cuda/anneal.db" "$work/cpu/anneal.db"
    ;;
  cpu)
    source scripts/env.sh
    # The test command's package set: the same feature unification, so its artifacts are reused.
    cargo build -p schedule -p experiment -p domain -p datasets -p trainer -p server --example gpu_check
    lscpu | grep -m1 "Model name" || true
    mkdir -p "$out"
    target/debug/examples/gpu_check --cpu-only --images "${2:-640}" --json "$out/burn-cpu.json"
    cat "$out/burn-cpu.json"; echo
    # The CLI half on the CPU with the everyday binary: the sweep spec parses, trains and branches.
    [[ -x target/debug/anneal ]] || cargo build -p server --bin anneal
    bin=target/debug
    work=$(mktemp -d -t anneal-gpu-check-XXXXXX)
    target/debug/examples/gpu_check --write-data "$work/cpu/cifar" --images 640
    cli_sweep cpu "$work/cpu"
    python3 - "$work/cpu/anneal.db" <<'PY'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT id, status, backend FROM runs").fetchall()
print("cpu sweep runs:", rows)
assert len(rows) == 3 and all(s == "completed" and b == "flex" for _, s, b in rows), rows
PY
    rm -rf "$work"
    ;;
  *)
    echo "usage: scripts/gpu-check.sh build | run | cpu [IMAGES]" >&2
    exit 2
    ;;
esac
