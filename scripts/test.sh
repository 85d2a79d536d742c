#!/usr/bin/env bash
# Runs every test of trawl on a fresh machine: installs what the end-to-end tests need (Python
# packages from PyPI), builds the workspace, runs the Rust tests, then the end-to-end suite
# against the real `trawl` binary.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build directory outside the clone keeps repeated runs fast; a fresh machine simply fills it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trawl-target}"

echo "== installing test dependencies"
python3 -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt

echo "== building"
cargo build --workspace --all-targets --locked

echo "== rust tests"
cargo test --workspace --locked

echo "== end-to-end tests"
export TRAWL_BIN="$CARGO_TARGET_DIR/debug/trawl"
python3 -m pytest tests/e2e -q -p no:cacheprovider
