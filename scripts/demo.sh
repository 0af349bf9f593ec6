#!/usr/bin/env bash
# The quick-start demo: write the example fleet and walk through what lamina does with it.
set -euo pipefail
cd "$(dirname "$0")/.."
LAMINA="$PWD/.venv/bin/lamina"
DEMO="${DEMO_DIR:-$PWD/demo}"
rm -rf "$DEMO"
step() { printf '\n\033[1;36m$ %s\033[0m\n' "$*"; }
run() { step "lamina $*"; "$LAMINA" --repo "$DEMO" "$@"; }
# `run_finding` is for commands whose exit code 1 means "found something", which is the point here
run_finding() { step "lamina $*"; "$LAMINA" --repo "$DEMO" "$@" || [ $? -eq 1 ]; }
# `run_refused` is for actions lamina must refuse (exit 2), shown on purpose
run_refused() { step "lamina $*   # refused on purpose"; "$LAMINA" --repo "$DEMO" "$@" || [ $? -eq 2 ]; }
commit() { git -C "$DEMO" -c user.name=demo -c user.email=demo@example.com commit -qam "$1"; }

step "lamina init $DEMO"
"$LAMINA" init "$DEMO"
run envs
run clusters
run clusters --selector region=us-east-1
run build production-eu/prod-eu-1 --format yaml
run build production-eu/prod-eu-1 --hash
run explain production-eu/prod-eu-1 guardrails.max_tool_calls
run_finding diff staging production
run parity --strict
run validate

run render production/prod-us-1 --print
run render --out "$DEMO/rendered"
step "kubectl kustomize $DEMO/rendered/prod-eu-1   # what Argo CD or Flux would build"
"$PWD/.cache/bin/kubectl" kustomize "$DEMO/rendered/prod-eu-1" | grep -E '^  name: |^kind: '
run render --out "$DEMO/rendered"   # unchanged fleet: nothing rewritten
run render --out "$DEMO/rendered" --gitops argocd
step "kubectl kustomize $DEMO/rendered/_argocd   # the ApplicationSets Argo CD would sync"
"$PWD/.cache/bin/kubectl" kustomize "$DEMO/rendered/_argocd" | grep -E "^  name: |^kind: |path: "

step "change base/ and read the change against the last commit"
sed -i 's/max_tokens    = 1024/max_tokens    = 2048/' "$DEMO/base/agent.toml"
run_finding diff development/local-dev@HEAD development/local-dev
run_finding plan
run explain development/local-dev agent.max_tokens

step "promote the change from development to staging, with an approval"
commit "base: longer answers"
run --as alice promote request development staging --reason "longer answers for complex tickets"
run_refused --as alice promote approve PR-1
run --as bob promote approve PR-1
step "a pre-commit hook refuses the pin commit: lamina says why and leaves lamina.lock as it was"
printf '#!/bin/sh\necho "policy: pin changes wait for the release window" >&2\nexit 1\n' > "$DEMO/.git/hooks/pre-commit"
chmod +x "$DEMO/.git/hooks/pre-commit"
step "lamina --as ops promote apply PR-1   # the hook refuses (exit 3)"
"$LAMINA" --repo "$DEMO" --as ops promote apply PR-1 || [ $? -eq 3 ]
step "git status --short -- lamina.lock   # nothing: lamina.lock untouched, nothing staged"
git -C "$DEMO" status --short -- lamina.lock
rm "$DEMO/.git/hooks/pre-commit"
run --as ops promote apply PR-1
step "git log -1   # the pin, committed with the request, requester, approver and reason"
git -C "$DEMO" log -1 --format=%B
run envs
run build staging/staging-us-1 --format yaml | grep max_tokens
run_refused --as alice promote request development production
run history staging

step "production is protected: it runs only configs an approved, applied request covers"
run_refused apply production
step "who may sign decisions: SSH keys in an allowed-signers file outside the repository"
KEYS="$PWD/.cache/demo-keys"
rm -rf "$KEYS" && mkdir -p "$KEYS"
for name in bob carol; do
  ssh-keygen -q -t ed25519 -N "" -C "$name" -f "$KEYS/$name"
  printf '%s %s\n' "$name" "$(cut -d' ' -f1,2 "$KEYS/$name.pub")" >> "$KEYS/allowed_signers"
done
sed -i "s|# allowed_signers = \"/etc/lamina/allowed_signers\"|allowed_signers = \"$KEYS/allowed_signers\"|" "$DEMO/lamina.toml"
commit "who may sign decisions"
run --as alice change request production --reason "first ship of production"
run_refused --as bob promote approve PR-2
run --as bob --sign-with "$KEYS/bob" promote approve PR-2
run --as carol --sign-with "$KEYS/carol" change apply PR-2
run promote show PR-2

step "apply the directory clusters, edit one by hand, find the drift and heal it"
export LAMINA_USER=ops
run apply production
python3 - "$DEMO/out/prod-us-1/agent-config.json" <<'PY'
import json, pathlib, sys
path = pathlib.Path(sys.argv[1])
config = json.loads(path.read_text())
config["guardrails"]["max_tool_calls"] = 99
path.write_text(json.dumps(config, indent=2) + "\n")
PY
run_finding drift production
run drift production --heal
run audit
run audit --verify
step "one screen: pins, drift, requests awaiting you, backfills, freezes, rollouts in progress"
run status
step "the notices each event wrote, in the same transaction (the server sends them to [alerts] sinks)"
run notices
step "lamina serve   # the API, the dashboard and scheduled drift checks, in the background"
PORT="${DEMO_PORT:-8080}"
PIDFILE="$PWD/.cache/demo-server.pid"
if [ -f "$PIDFILE" ]; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; sleep 0.5; fi
TOKEN=$("$LAMINA" --repo "$DEMO" token create demo@example.com --role admin 2>/dev/null)
nohup "$LAMINA" --repo "$DEMO" serve --port "$PORT" > "$DEMO/.lamina/serve.log" 2>&1 &
SERVER=$!
mkdir -p "$(dirname "$PIDFILE")" && echo "$SERVER" > "$PIDFILE"
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/environments" | head -c 300; echo
printf '\n\033[1;32mdemo finished: the example fleet is in %s\033[0m\n' "$DEMO"
printf 'dashboard: http://127.0.0.1:%s/  (sign in with the token below)\n' "$PORT"
printf 'token:     %s\n' "$TOKEN"
printf 'stop it:   kill %s\n' "$SERVER"
