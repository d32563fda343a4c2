#!/usr/bin/env bash
# Builds the optional native decoder (native/, Rust) and installs it into a virtualenv.
#
#   bash scripts/build-native.sh PYTHON             build and install where a Rust toolchain is found
#   bash scripts/build-native.sh --find             print the cargo that would be used (or nothing)
#   bash scripts/build-native.sh --test             cargo fmt --check, clippy, cargo test (if found)
#   bash scripts/build-native.sh --wheel PYTHON DIR a wheel into DIR: manylinux via zig (PyPI's
#                                                   ziglang), else a plain linux wheel
#
# The toolchain is looked for on PATH, then in ~/.cargo/bin (rustup's, often not on PATH);
# it must be 1.85 or newer (pyo3's minimum: Debian's rustc 1.63 is too old). Without one,
# nothing is built and driftline runs its Python decoder. Cargo fetches crates from
# crates.io and pip fetches maturin from PyPI; nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
MIN_MINOR=85

find_cargo() {
  local c v
  for c in "$(command -v cargo || true)" "$HOME/.cargo/bin/cargo"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    v=$("$c" --version 2>/dev/null | awk '{print $2}') || continue   # cargo 1.95.0 (…)
    if [ "${v%%.*}" = 1 ] && [ "$(echo "$v" | cut -d. -f2)" -ge "$MIN_MINOR" ]; then
      echo "$c"
      return 0
    fi
  done
  return 0
}

CARGO=$(find_cargo)
case "${1:-}" in
  --find)
    [ -z "$CARGO" ] || echo "$CARGO"
    exit 0 ;;
  --test)
    if [ -z "$CARGO" ]; then
      echo "native decoder: no Rust toolchain: its cargo tests are skipped" >&2
      exit 0
    fi
    export PATH="$(dirname "$CARGO"):$PATH"
    cd native
    cargo fmt --check
    cargo clippy --quiet --all-targets -- -D warnings
    cargo clippy --quiet --features python -- -D warnings
    cargo test --quiet
    exit 0 ;;
  --wheel)
    PY=${2:?usage: build-native.sh --wheel PYTHON DIR}
    PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"  # absolute, symlinks kept (a venv)
    OUT=$(realpath -m "${3:?usage: build-native.sh --wheel PYTHON DIR}")
    if [ -z "$CARGO" ]; then
      echo "native decoder: no Rust toolchain >= 1.$MIN_MINOR: no native wheel" >&2
      exit 1
    fi
    # the venv's bin first: maturin runs zig as `python3 -m ziglang`, from PATH
    export PATH="$(dirname "$PY"):$(dirname "$CARGO"):$PATH"
    "$PY" -m pip install -q "maturin>=1.7,<2" ziglang
    cd native
    if "$PY" -m maturin build --release --zig --compatibility manylinux2014 --out "$OUT"; then
      echo "native decoder: manylinux2014 wheel in $OUT (zig)" >&2
    else
      echo "native decoder: zig could not build a manylinux wheel here: a plain linux wheel" >&2
      "$PY" -m maturin build --release --compatibility linux --out "$OUT"
    fi
    exit 0 ;;
esac
PY=${1:?usage: build-native.sh PYTHON | --find | --test | --wheel PYTHON DIR}
if [ -z "$CARGO" ]; then
  echo "native decoder: no Rust toolchain >= 1.$MIN_MINOR (cargo on PATH or in ~/.cargo/bin):" \
       "driftline runs its Python decoder" >&2
  exit 0
fi
export PATH="$(dirname "$CARGO"):$PATH"
echo "native decoder: building with $("$CARGO" --version)" >&2
start=$(date +%s)
"$PY" -m pip install -q ./native
echo "native decoder: installed in $(( $(date +%s) - start ))s" \
     "($("$PY" -c 'import driftline_native as n; print(n.__file__)'))" >&2
