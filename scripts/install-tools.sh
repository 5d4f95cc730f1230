#!/usr/bin/env bash
# Installs the heavy native tools portico needs, idempotently, cached in ~/.cargo/bin.
# Each tool is skipped when the pinned version is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

GARAGE_VERSION=2.5.0
WORKER_BUILD_VERSION=0.8.7
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

# wasm-bindgen-cli must equal the wasm-bindgen crate version in Cargo.lock exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[" ]/, "", $0); sub("version=", "", $0); print; exit}' Cargo.lock
}

log() { echo "[install-tools] $*" >&2; }

want_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

want_wasm_bindgen() {
  local v; v="$(wasm_bindgen_version)"
  if [ -x "$CARGO_BIN/wasm-bindgen" ] && "$CARGO_BIN/wasm-bindgen" --version | grep -q " $v\$"; then return; fi
  log "installing wasm-bindgen-cli $v (2-4 min)"
  # Not --locked: its lockfile names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$v" --force
}

want_worker_build() {
  if [ -x "$CARGO_BIN/worker-build" ] && "$CARGO_BIN/worker-build" --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then return; fi
  log "installing worker-build $WORKER_BUILD_VERSION (3-6 min)"
  cargo install --locked worker-build --version "$WORKER_BUILD_VERSION" --force
}

want_garage() {
  if [ -x "$CARGO_BIN/garage" ] && "$CARGO_BIN/garage" --version 2>/dev/null | grep -q "[: v]$GARAGE_VERSION\b"; then return; fi
  log "installing garage $GARAGE_VERSION from crates.io (~12 min on 2 cores, once)"
  cargo install garage --version "$GARAGE_VERSION" --locked --force
}

case "${1:-all}" in
  worker) want_target; want_wasm_bindgen; want_worker_build ;;
  garage) want_garage ;;
  all) want_target; want_wasm_bindgen; want_worker_build; want_garage ;;
  *) echo "usage: $0 [worker|garage|all]" >&2; exit 2 ;;
esac
