#!/usr/bin/env bash
# Runs every test of trawl on a fresh machine: installs what the end-to-end tests need (Python
# packages from PyPI), builds the workspace, runs the Rust tests, then the end-to-end suite
# against the real `trawl` binary.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build directory outside the clone keeps repeated runs fast; a fresh machine simply fills it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trawl-target}"

# Debian packages for the blocks below: `apt-get update` runs at most once, and only when a
# block has something to install.
APT_UPDATED=""
apt_install() {
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if [ -z "$APT_UPDATED" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

echo "== installing test dependencies"
python3 -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt

# ---- web UI browser test (tests/e2e/test_ui.py): Debian's Chromium, a font with Hangul for the
# screenshots, and playwright-core from npm (never `npx playwright install`). The UI itself is
# built by `cargo build` (crates/ui/build.rs runs npm ci and Vite).
echo "== installing browser test dependencies"
if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=ko 2>/dev/null | grep -q .; then
  apt_install chromium fonts-nanum
fi
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
# ---- end of web UI block

# ---- compatibility endpoint tests (test_syslog_ng.py, test_loki.py): syslog-ng with its HTTP
# module relays syslog to `_bulk`; winston-loki from npm pushes Loki protobuf. `logger`
# (util-linux) is preinstalled. apt-get runs only when syslog-ng is missing.
echo "== installing compatibility test dependencies"
if ! command -v syslog-ng >/dev/null 2>&1 || ! ls /usr/lib/syslog-ng/*/libhttp.so >/dev/null 2>&1 \
   || [ ! -d /usr/share/syslog-ng/include/scl/elasticsearch ]; then
  apt_install syslog-ng-core syslog-ng-mod-http syslog-ng-scl
fi
(cd tests/loki-node && npm ci --no-audit --no-fund --loglevel=error)
# ---- end of compatibility block

# ---- alerting tests (tests/e2e/test_alerting_*.py): a real Prometheus Alertmanager that trawl's
# `alertmanager` contact point posts to (the SMTP sink, aiosmtpd, comes from requirements.txt).
# apt-get runs only when the binary is missing.
echo "== installing alerting test dependencies"
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  apt_install prometheus-alertmanager
fi
# ---- end of alerting block

echo "== building"
cargo build --workspace --all-targets --locked

echo "== rust tests"
cargo test --workspace --locked

echo "== end-to-end tests"
export TRAWL_BIN="$CARGO_TARGET_DIR/debug/trawl"
python3 -m pytest tests/e2e -q -p no:cacheprovider
