#!/usr/bin/env bash
# Installs what `make bench` needs beyond scripts/install-tools.sh, idempotently, cached in
# ~/.cargo/bin: the peer proxy s3s-proxy (a native Rust S3 proxy) from crates.io. Skipped when the
# pinned version is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

S3S_PROXY_VERSION=0.14.1
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

log() { echo "[install-bench-tools] $*" >&2; }

# `cargo install` records what it installed; s3s-proxy has no --version flag of its own.
installed_version() {
  cargo install --list 2>/dev/null | awk '$1 == "s3s-proxy" {gsub(/[v:]/, "", $2); print $2; exit}'
}

want_s3s_proxy() {
  if [ -x "$CARGO_BIN/s3s-proxy" ] && [ "$(installed_version)" = "$S3S_PROXY_VERSION" ]; then return; fi
  log "installing s3s-proxy $S3S_PROXY_VERSION from crates.io (a few minutes on 2 cores, once)"
  cargo install s3s-proxy --version "$S3S_PROXY_VERSION" --locked --force
}

want_s3s_proxy
