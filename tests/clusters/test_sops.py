"""A SOPS reference end to end: validated in clear, decrypted in memory, shipped as a Secret.

One canary value is encrypted by the real sops for a real age key. It must reach the Secret in
the emulated cluster and appear nowhere else: no output, error, rendered folder, table of the
state database or ConfigMap holds it.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from cli_support import Ran, run_lamina_in_process
from conftest import WriteRepo, commit_all
from k8s_support import CONFIGMAPS, DEPLOYMENTS, SECRETS, EmulatedFleet
from sops_support import AgeKey, make_key

from .conftest import deployment, secret

CANARY = "sops-canary-Zq8Vw3Xk7Lm2Np5Rt9"
SOPS_FILE = "secrets/production.enc.yaml"

FILES = {
    "lamina.toml": """
        [fleet]
        name = "agent"
        promotion = ["production"]

        [clusters.prod-1]
        environment = "production"
        context = "prod-1"
        namespace = "ai-agents"

        [clusters.prod-git]
        environment = "production"
        directory = "deploy/prod-git"
        namespace = "ai-agents"
        secrets = ["search/token"]

        [render]
        workload = "deployment/agent"

        [render.env]
        "agent.api_key" = "OPENAI_API_KEY"
    """,
    "base/agent.toml": f"""
        [agent]
        model = "gpt-4o"
        api_key = {{secret = "sops:{SOPS_FILE}#openai_api_key"}}
        search_token = {{secret = "search/token"}}
    """,
}


def run(root: Path, kubeconfig: Path, key: AgeKey, *args: str) -> Ran:
    env = {
        "KUBECONFIG": str(kubeconfig),
        "LAMINA_USER": "tester@example.com",
        "SOPS_AGE_KEY_FILE": str(key.file),
    }
    return run_lamina_in_process("--repo", root, *args, env=env)


@pytest.fixture
def sops_fleet(write_repo: WriteRepo, tmp_path: Path) -> tuple[Path, EmulatedFleet, AgeKey]:
    key = make_key(tmp_path / "age")
    root = write_repo(FILES)
    (root / SOPS_FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / SOPS_FILE).write_bytes(key.encrypt(f"openai_api_key: {CANARY}\nunused_key: other-value\n"))
    (root / ".gitignore").write_text(".lamina/\n")
    commit_all(root, "fleet with a SOPS secret")
    return root, EmulatedFleet(tmp_path / "k8s"), key


def test_a_sops_secret_reaches_the_cluster_and_nothing_else(
    sops_fleet: tuple[Path, EmulatedFleet, AgeKey],
) -> None:
    root, k8s, key = sops_fleet
    with k8s:
        k8s.add("prod-1")
        k8s.put("prod-1", DEPLOYMENTS, deployment())
        k8s.put("prod-1", SECRETS, secret("search", {"token": "search-token-value"}))
        runs = [
            run(root, k8s.kubeconfig, key, "validate", "--json"),
            run(root, k8s.kubeconfig, key, "secrets", "check", "production", "--json"),
            run(root, k8s.kubeconfig, key, "build", "production/prod-1", "--format", "json"),
            run(root, k8s.kubeconfig, key, "apply", "production", "--json"),
            run(root, k8s.kubeconfig, key, "apply", "production", "--json"),
            run(root, k8s.kubeconfig, key, "drift", "production", "--json"),
            run(root, k8s.kubeconfig, key, "render", "--out", str(root / "out"), "--gitops", "flux"),
            run(root, k8s.kubeconfig, key, "history", "production", "--json"),
        ]
        assert [r.returncode for r in runs] == [0, 0, 0, 0, 0, 0, 0, 0], [
            r.stderr + r.stdout for r in runs if r.returncode
        ]
        secrets = k8s.objects("prod-1", SECRETS)
        configmaps = k8s.objects("prod-1", CONFIGMAPS)
        workload = k8s.objects("prod-1", DEPLOYMENTS)["agent"]

    checks = json.loads(runs[1].stdout)
    assert [(c["cluster"], c["reference"], c["status"]) for c in checks] == [
        ("prod-1", "search/token", "present"),
        ("prod-1", f"sops:{SOPS_FILE}#openai_api_key", "present"),
        ("prod-git", "search/token", "present"),
        ("prod-git", f"sops:{SOPS_FILE}#openai_api_key", "present"),
    ]
    # the Secret in the cluster holds the decrypted value, under the SOPS key's name
    [(name, made)] = [(n, s) for n, s in secrets.items() if n.startswith("agent-secrets-")]
    assert base64.b64decode(made["data"]["openai_api_key"]).decode() == CANARY
    assert set(made["data"]) == {"openai_api_key"}
    # each reference reaches the workload as env from its Secret (named by [render.env] or the key path)
    [container] = workload["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [
        {"name": "AGENT_SEARCH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "search", "key": "token"}}},
        {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": name, "key": "openai_api_key"}}},
    ]
    applied = json.loads(runs[3].stdout)
    assert any(f"create Secret {name} (1 SOPS keys)" in action for o in applied for action in o["actions"])
    again = json.loads(runs[4].stdout)
    assert [o["result"] for o in again] == ["unchanged", "unchanged"]

    # the GitOps hand-off: an encrypted manifest, listed by the folder, decrypted by Flux
    for folder in (root / "deploy" / "prod-git", root / "out" / "prod-git"):
        manifest = (folder / f"{name}.enc.yaml").read_text()
        assert "ENC[AES256_GCM," in manifest and "sops:" in manifest
        assert f"{name}.enc.yaml" in (folder / "kustomization.yaml").read_text()
    flux = (root / "out" / "_flux" / "kustomization-agent-prod-git.yaml").read_text()
    assert "decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n" in flux

    # nowhere else
    seen = [r.stdout + r.stderr for r in runs]
    seen += [json.dumps(configmaps)]
    seen += [p.read_text(errors="replace") for p in (root / "out").rglob("*") if p.is_file()]
    seen += [p.read_text(errors="replace") for p in (root / "deploy").rglob("*") if p.is_file()]
    with sqlite3.connect(root / ".lamina" / "state.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            seen.append(json.dumps(db.execute(f"SELECT * FROM {table}").fetchall(), default=str))
    for text in seen:
        assert CANARY not in text and base64.b64encode(CANARY.encode()).decode() not in text


def test_a_wrong_age_key_stops_apply_naming_the_file(
    sops_fleet: tuple[Path, EmulatedFleet, AgeKey], tmp_path: Path
) -> None:
    root, k8s, _ = sops_fleet
    wrong = make_key(tmp_path / "wrong")
    with k8s:
        k8s.add("prod-1")
        k8s.put("prod-1", DEPLOYMENTS, deployment())
        done = run(root, k8s.kubeconfig, wrong, "apply", "production")
        written = k8s.objects("prod-1", CONFIGMAPS), k8s.objects("prod-1", SECRETS)
    assert done.returncode == 3
    assert done.stderr.strip() == (
        f"error: {SOPS_FILE}: sops could not decrypt it: Failed to get the data key required to decrypt "
        "the SOPS file. (age: identity did not match any of the recipients: incorrect)"
    )
    assert written == ({}, {})  # nothing half-written
    assert not (root / "deploy").exists()


def test_a_plaintext_file_under_secrets_and_a_missing_key_fail_validate(
    sops_fleet: tuple[Path, EmulatedFleet, AgeKey],
) -> None:
    root, k8s, key = sops_fleet
    (root / "secrets" / "staging.yaml").write_text("openai_api_key: plain-canary-value\n")
    agent = root / "base" / "agent.toml"
    agent.write_text(agent.read_text().replace("#openai_api_key", "#anthropic_api_key"))
    commit_all(root, "a plaintext secrets file and a wrong key")
    done = run(root, k8s.kubeconfig, key, "validate", "--json")
    assert done.returncode == 1
    problems = [
        (p["place"], p["message"]) for p in json.loads(done.stdout)["problems"] if p["check"] == "secrets"
    ]
    assert problems == [
        (
            "secrets/staging.yaml",
            "secrets/staging.yaml: not SOPS-encrypted (no sops metadata); encrypt it with "
            "`sops encrypt -i secrets/staging.yaml`",
        ),
        (
            "base/agent.toml:3",
            f"agent.api_key: SOPS file {SOPS_FILE} has no key 'anthropic_api_key' "
            "(keys: openai_api_key, unused_key)",
        ),
    ]
    assert "plain-canary-value" not in done.stdout + done.stderr


def test_a_sops_secret_applied_by_the_server_stays_out_of_its_log_and_answers(
    sops_fleet: tuple[Path, EmulatedFleet, AgeKey], tmp_path: Path
) -> None:
    from cli_support import start_lamina_serve
    from lamina.server import tokens

    root, k8s, key = sops_fleet
    token = tokens.create(root / ".lamina" / "tokens.toml", "ops@example.com", ["admin"])
    log = tmp_path / "serve.log"
    with k8s, log.open("wb") as sink:
        k8s.add("prod-1")
        k8s.put("prod-1", DEPLOYMENTS, deployment())
        k8s.put("prod-1", SECRETS, secret("search", {"token": "search-token-value"}))
        env = {"KUBECONFIG": str(k8s.kubeconfig), "SOPS_AGE_KEY_FILE": str(key.file)}
        process, url = start_lamina_serve(root, env=env, stdout=sink, stderr=sink, timeout=60)
        try:
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client:
                answers = [
                    client.post("/api/v1/apply", json={"targets": ["production"]}),
                    client.post("/api/v1/drift/run", json={}),
                    client.get("/api/v1/drift"),
                    client.get("/api/v1/targets/production/prod-1/config"),
                    client.get("/api/v1/audit"),
                    client.get("/targets/production/prod-1"),
                    client.get("/metrics"),
                ]
        finally:
            process.terminate()
            process.wait(timeout=30)
        secrets = k8s.objects("prod-1", SECRETS)
    applied = answers[0]
    assert applied.status_code == 200, applied.text
    assert [o["result"] for o in applied.json()["outcomes"]] == ["applied", "applied"]
    # the server really decrypted it: the cluster's Secret holds the value
    [made] = [s for n, s in secrets.items() if n.startswith("agent-secrets-")]
    assert base64.b64decode(made["data"]["openai_api_key"]).decode() == CANARY
    seen = [f"{a.request.method} {a.request.url} {a.status_code}\n{a.text}" for a in answers]
    seen.append(log.read_text(errors="replace"))
    with sqlite3.connect(root / ".lamina" / "state.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            seen.append(json.dumps(db.execute(f"SELECT * FROM {table}").fetchall(), default=str))
    for text in seen:
        assert CANARY not in text and base64.b64encode(CANARY.encode()).decode() not in text
