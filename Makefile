# portico: the two commands of the README's quick start, plus the pieces they are made of.
# Every target installs what it needs, idempotently; heavy tools are cached in ~/.cargo/bin.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: dev test unit integration lint tools worker deps system-deps clean bench

## Start Garage and the worker under wrangler dev; print credentials (also in .dev/env).
dev: deps
	scripts/install-tools.sh all
	$(PY) scripts/stack.py dev

## The full test suite: formatting and lints, unit tests, then integration tests with real clients.
test: deps lint unit
	scripts/install-tools.sh all
	scripts/build-worker.sh
	$(PY) -m pytest -x -q tests/integration

unit:
	cargo test --quiet

lint:
	cargo fmt --check
	cargo clippy --quiet --all-targets -- -D warnings
	rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	# The runtime adapters exist only on wasm32: lint them there too.
	cargo clippy --quiet --target wasm32-unknown-unknown --lib -- -D warnings

worker: deps
	scripts/build-worker.sh

## Benchmarks: the release worker against direct Garage access and s3s-proxy, side by side; results
## in bench-results/latest.json and docs/BENCHMARKS.md. BENCH_QUICK=1 for a ~2 minute run.
bench: deps
	scripts/install-tools.sh all
	scripts/install-bench-tools.sh
	scripts/build-worker.sh
	$(PY) scripts/bench.py

tools:
	scripts/install-tools.sh all

## npm (wrangler, workerd, Node 22, Miniflare) and Python (pytest, boto3, awscli) dependencies.
deps: node_modules/.installed $(VENV)/.installed system-deps

## Clients from Debian's packages used by the integration tests (rclone; Chromium for the browser test).
system-deps:
	@command -v rclone >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q rclone >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q rclone >/dev/null 2>&1; } || \
		echo "warning: rclone could not be installed; its integration test will be skipped" >&2; }
	@[ -x /usr/bin/chromium ] || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "warning: chromium could not be installed; the browser integration test will be skipped" >&2; }

node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --no-save
	touch $@

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

clean:
	rm -rf build target/wasm32-unknown-unknown .dev .wrangler
