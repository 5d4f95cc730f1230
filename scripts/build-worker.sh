#!/usr/bin/env bash
# Builds the worker (release wasm + JS shim into build/) with the pinned, locally cached tools.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh worker >&2
[ -x node_modules/.bin/esbuild ] || npm install --no-audit --no-fund --no-save >&2
export WASM_BINDGEN_BIN="${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# PORTICO_PROFILE=1 keeps wasm function names (for scripts/profile_worker.py); never for deploys.
if [ "${PORTICO_PROFILE:-}" = 1 ]; then export CARGO_PROFILE_RELEASE_STRIP=false; fi
worker-build --release >&2
