"""An API-cluster fleet: a config repository whose clusters are emulated Kubernetes servers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_support import Ran, run_lamina_in_process
from conftest import WriteRepo, commit_all
from k8s_support import DEPLOYMENTS, SECRETS, EmulatedFleet

CANARY = "CANARY-sk-live-do-not-print-0123456789"

FILES = {
    "lamina.toml": """
        [fleet]
        name = "agent"
        promotion = ["staging", "production"]

        [clusters.stage-1]
        environment = "staging"
        context = "stage-1"
        namespace = "ai-agents"
        labels = { wave = "0" }

        [clusters.prod-1]
        environment = "production"
        context = "prod-1"
        namespace = "ai-agents"
        labels = { wave = "1", region = "eu" }

        [clusters.prod-2]
        environment = "production"
        context = "prod-2"
        namespace = "ai-agents"
        labels = { wave = "2", region = "us" }

        [render]
        workload = "deployment/agent"

        [apply]
        timeout = 10  # generous: a busy CI worker must not turn a slow answer into a failure
        parallelism = 4

        [drift]
        ignore = ["feature_flags.*"]
    """,
    "base/agent.toml": """
        [agent]
        model = "gpt-4o"
        temperature = 0.2
        system_prompt = {file = "prompts/system.txt"}
        api_key = {secret = "openai/api-key"}

        [feature_flags]
        streaming = true
    """,
    "base/prompts/system.txt": "You are a helpful agent.\nBe brief.\n",
    "clusters/prod-2.toml": """
        [agent]
        temperature = 0.1   # us traffic prefers steadier answers
    """,
}


@dataclass
class ApiFleet:
    """The repository and its emulated clusters."""

    root: Path
    k8s: EmulatedFleet

    def run(self, *args: str) -> Ran:
        return run_cli(self.root, self.k8s.kubeconfig, *args)


def run_cli(root: Path, kubeconfig: Path, *args: str) -> Ran:
    """Run ``lamina --repo ROOT ARGS`` in this process against kubeconfig's clusters."""
    env = {"KUBECONFIG": str(kubeconfig), "LAMINA_USER": "tester@example.com"}
    return run_lamina_in_process("--repo", root, *args, env=env)


def deployment(name: str = "agent") -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ai-agents"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {},
                "spec": {
                    "containers": [{"name": "agent", "image": "agent:1"}],
                    "volumes": [{"name": "agent-config", "configMap": {"name": "none-yet"}}],
                },
            },
        },
    }


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[EmulatedFleet]:
    with EmulatedFleet(tmp_path / "k8s") as emulated:
        yield emulated


@pytest.fixture
def api_fleet(write_repo: WriteRepo, k8s: EmulatedFleet) -> ApiFleet:
    root = write_repo(FILES)
    commit_all(root, "fleet")
    (root / ".gitignore").write_text(".lamina/\n")
    commit_all(root, "ignore state")
    for name in ("stage-1", "prod-1", "prod-2"):
        k8s.add(name)
        k8s.put(name, DEPLOYMENTS, deployment())
        k8s.put(name, SECRETS, secret("openai", {"api-key": CANARY}))  # what the configs reference
    return ApiFleet(root, k8s)


def secret(name: str, keys: dict[str, str]) -> dict[str, object]:
    """A Secret with these keys (values base64-encoded, as the API keeps them)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ai-agents"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in keys.items()},
    }


MakeFleet = Callable[[], ApiFleet]


def as_json(text: str) -> object:
    return json.loads(text)
