"""[secrets.<env>] store: one ExternalSecret per referenced Secret, valid for ESO's CRD schema."""

from __future__ import annotations

from ruamel.yaml import YAML

from cli_support import run_lamina_in_process
from conftest import WriteRepo, commit_all

from .crd_schemas import validate_crd_object

FILES = {
    "lamina.toml": """
        [fleet]
        name = "agent"
        promotion = ["staging", "production"]

        [clusters.stage-1]
        environment = "staging"
        directory = "deploy/stage-1"

        [clusters.prod-1]
        environment = "production"
        directory = "deploy/prod-1"
        namespace = "ai-agents"

        [render]
        workload = "deployment/agent"

        [secrets.production]
        store = "vault-backend"
        refresh = "15m"
    """,
    "base/agent.toml": """
        [agent]
        model = "gpt-4o"
        api_key = {secret = "vault:kv/agents#openai"}
        search_token = {secret = "search/token"}
        search_user = {secret = "search/user"}
    """,
}


def load_all(text: str) -> list[dict[str, object]]:
    return [doc for doc in YAML(typ="safe", pure=True).load_all(text) if doc]


def test_each_referenced_secret_renders_as_an_external_secret(write_repo: WriteRepo) -> None:
    root = write_repo(FILES)
    commit_all(root, "fleet")
    printed = run_lamina_in_process("--repo", root, "render", "production/prod-1", "--print")
    assert printed.returncode == 0, printed.stderr
    objects = load_all(printed.stdout)
    external = [o for o in objects if o["kind"] == "ExternalSecret"]
    labels = {
        "app.kubernetes.io/managed-by": "lamina",
        "lamina.dev/environment": "production",
        "lamina.dev/cluster": "prod-1",
    }
    assert external == [
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "agent-kv-agents", "namespace": "ai-agents", "labels": labels},
            "spec": {
                "refreshInterval": "15m",
                "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
                "target": {"name": "agent-kv-agents", "creationPolicy": "Owner"},
                "data": [{"secretKey": "openai", "remoteRef": {"key": "kv/agents", "property": "openai"}}],
            },
        },
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "search", "namespace": "ai-agents", "labels": labels},
            "spec": {
                "refreshInterval": "15m",
                "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
                "target": {"name": "search", "creationPolicy": "Owner"},
                "data": [
                    {"secretKey": "token", "remoteRef": {"key": "search", "property": "token"}},
                    {"secretKey": "user", "remoteRef": {"key": "search", "property": "user"}},
                ],
            },
        },
    ]
    for obj in external:
        assert validate_crd_object(obj) == []
    # the workload gets each secret as env from the ExternalSecret's target
    [patch] = [o for o in objects if o["kind"] == "Deployment"]
    env = patch["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[index]
    assert env == [
        {
            "name": "AGENT_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "agent-kv-agents", "key": "openai"}},
        },
        {"name": "AGENT_SEARCH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "search", "key": "token"}}},
        {"name": "AGENT_SEARCH_USER", "valueFrom": {"secretKeyRef": {"name": "search", "key": "user"}}},
    ]

    # staging has no store: no ExternalSecret, and its vault reference has no Secret to inject
    staging = load_all(run_lamina_in_process("--repo", root, "render", "staging/stage-1", "--print").stdout)
    assert [o["kind"] for o in staging] == ["ConfigMap", "Deployment"]

    # the GitOps folder holds the same objects, listed in its kustomization
    assert run_lamina_in_process("--repo", root, "render").returncode == 0
    folder = root / "deploy" / "prod-1"
    files = sorted(p.name for p in folder.iterdir())
    assert "externalsecret-agent-kv-agents.yaml" in files and "externalsecret-search.yaml" in files
    kustomization = (folder / "kustomization.yaml").read_text()
    assert "- externalsecret-agent-kv-agents.yaml" in kustomization
    written = load_all((folder / "externalsecret-search.yaml").read_text())
    assert written == [external[1]]
    assert not any(p.name.startswith("externalsecret-") for p in (root / "deploy" / "stage-1").iterdir())


def test_an_unknown_store_kind_is_refused_at_its_line(write_repo: WriteRepo) -> None:
    files = dict(FILES)
    files["lamina.toml"] = FILES["lamina.toml"].replace('refresh = "15m"', 'store_kind = "Vault"')
    root = write_repo(files)
    done = run_lamina_in_process("--repo", root, "validate")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: lamina.toml:19: [secrets.production] store_kind must be one of "
        "ClusterSecretStore, SecretStore"
    )
