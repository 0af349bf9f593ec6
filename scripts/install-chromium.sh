#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium).
# Never `playwright install`: it downloads its own browser, which this project does not use.
# Safe to run again: does nothing when Chromium is already there.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  echo "install-chromium: $CHROMIUM is already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: skipped: $CHROMIUM is missing and installing it needs root" \
    "(run 'sudo apt-get install -y chromium'); the browser tests will be skipped" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-chromium: skipped: no apt-get on this machine (install Chromium at $CHROMIUM by hand);" \
    "the browser tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
