#!/usr/bin/env bash
# Create .venv and install lamina with its development tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# real kubectl (Kustomize) and helm, to check that lamina renders what Kustomize builds
bash scripts/install-kubectl.sh
# Debian's Chromium, for the dashboard's browser tests (installed when we are root)
bash scripts/install-chromium.sh
# git is needed for pins and TARGET@REV; tests make throwaway repositories with it.
command -v git >/dev/null || { echo "setup: git is required" >&2; exit 1; }
