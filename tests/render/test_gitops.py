"""GitOps objects: Argo CD ApplicationSets and Flux Kustomizations that point at the rendered
folders, and a workload that Kustomize repoints at each new ConfigMap name."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from cli_support import Ran, run_lamina

KUBECTL = Path(__file__).resolve().parents[2] / ".cache" / "bin" / "kubectl"
needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(), reason="run scripts/install-kubectl.sh first")


def lamina(repo: Path, *args: str) -> Ran:
    return run_lamina("--repo", repo, *args)


def kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return [doc for doc in YAML(typ="safe").load_all(done.stdout) if doc]


@needs_kubectl
def test_argocd_applicationsets_select_clusters_by_environment(example_repo: Path) -> None:
    result = lamina(example_repo, "render", "--out", str(example_repo / "out"), "--gitops", "argocd")
    assert result.returncode == 0, result.stderr
    objects = kustomize(example_repo / "out" / "_argocd")
    assert [o["metadata"]["name"] for o in objects] == [
        "support-agent-development",
        "support-agent-production",
        "support-agent-production-eu",
        "support-agent-staging",
    ]
    eu = objects[2]
    assert eu["kind"] == "ApplicationSet"
    (generator,) = eu["spec"]["generators"]
    assert generator["clusters"]["selector"]["matchLabels"] == {
        "lamina.dev/environment": "production-eu",
        "lamina.dev/fleet": "support-agent",
    }
    source = eu["spec"]["template"]["spec"]["source"]
    assert source == {
        "repoURL": "https://git.example.com/platform/agent-configs.git",
        "targetRevision": "main",
        "path": "out/{{.name}}",
    }
    # the path each generated Application gets is a folder lamina rendered
    assert (example_repo / "out" / "prod-eu-1" / "kustomization.yaml").is_file()


@needs_kubectl
def test_flux_kustomization_per_cluster(example_repo: Path) -> None:
    result = lamina(example_repo, "render", "--out", str(example_repo / "out"), "--gitops", "flux")
    assert result.returncode == 0, result.stderr
    objects = kustomize(example_repo / "out" / "_flux")
    by_name = {o["metadata"]["name"]: o for o in objects}
    assert sorted(by_name) == [
        "support-agent-local-dev",
        "support-agent-prod-eu-1",
        "support-agent-prod-us-1",
        "support-agent-prod-us-2",
        "support-agent-staging-us-1",
    ]
    spec = by_name["support-agent-prod-eu-1"]["spec"]
    assert spec["path"] == "./out/prod-eu-1"
    assert spec["prune"] is True
    assert spec["interval"] == "5m"
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": "agent-configs"}
    assert spec["targetNamespace"] == "ai-agents"
    for obj in objects:
        folder = example_repo / obj["spec"]["path"]
        assert (folder / "kustomization.yaml").is_file()


def test_gitops_folders_survive_prune(example_repo: Path) -> None:
    out = example_repo / "out"
    assert lamina(example_repo, "render", "--out", str(out), "--gitops", "flux").returncode == 0
    assert lamina(example_repo, "render", "--out", str(out), "--prune").returncode == 0
    assert (out / "_flux" / "kustomization.yaml").is_file()


def test_gitops_needs_an_out_folder_inside_the_repository(example_repo: Path, tmp_path: Path) -> None:
    result = lamina(example_repo, "render", "--out", str(tmp_path / "elsewhere"), "--gitops", "flux")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --gitops: ")
    assert "outside the repository" in result.stderr


@needs_kubectl
def test_workload_in_resources_is_repointed_at_the_new_name(example_repo: Path) -> None:
    workload = example_repo / "workload"
    workload.mkdir()
    (workload / "kustomization.yaml").write_text("resources:\n- deployment.yaml\n")
    (workload / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: support-agent\n"
        "spec:\n  selector:\n    matchLabels: {app: support-agent}\n  template:\n"
        "    metadata:\n      labels: {app: support-agent}\n    spec:\n      containers:\n"
        "      - name: agent\n        image: example/agent:1\n        volumeMounts:\n"
        "        - {name: config, mountPath: /etc/agent}\n      volumes:\n"
        "      - name: config\n        configMap:\n          name: support-agent-config\n"
    )
    fleet = example_repo / "lamina.toml"
    fleet.write_text(fleet.read_text().replace("resources = []", 'resources = ["../../workload"]'))
    out = example_repo / "out"
    assert lamina(example_repo, "render", "--out", str(out)).returncode == 0
    printed = lamina(example_repo, "render", "production/prod-us-1", "--print")
    (configmap,) = [d for d in YAML(typ="safe").load_all(printed.stdout) if d]
    built = {o["kind"]: o for o in kustomize(out / "prod-us-1")}
    volume = built["Deployment"]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert built["ConfigMap"]["metadata"]["name"] == configmap["metadata"]["name"]


def test_print_with_workload_emits_a_patch_naming_the_configmap(example_repo: Path) -> None:
    fleet = example_repo / "lamina.toml"
    fleet.write_text(
        fleet.read_text().replace(
            '# workload  = "deployment/support-agent"', 'workload  = "deployment/support-agent"'
        )
    )
    printed = lamina(example_repo, "render", "production/prod-us-1", "--print")
    assert printed.returncode == 0, printed.stderr
    configmap, patch = [d for d in YAML(typ="safe").load_all(printed.stdout) if d]
    assert patch["kind"] == "Deployment"
    assert patch["metadata"] == {"name": "support-agent", "namespace": "ai-agents"}
    template = patch["spec"]["template"]
    assert template["spec"]["volumes"] == [
        {"name": "agent-config", "configMap": {"name": configmap["metadata"]["name"]}}
    ]
    assert (
        template["metadata"]["annotations"]["lamina.dev/config-hash"]
        == (configmap["metadata"]["labels"]["lamina.dev/config-hash"])
    )


@pytest.mark.parametrize("tool", ["argocd", "flux"])
def test_gitops_objects_satisfy_the_published_crd_schemas(example_repo: Path, tool: str) -> None:
    from .crd_schemas import validate_crd_object

    out = example_repo / "out"
    assert lamina(example_repo, "render", "--out", str(out), "--gitops", tool).returncode == 0
    folder = out / f"_{tool}"
    objects = [
        YAML(typ="safe").load(path.read_text())
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    ]
    assert objects
    for obj in objects:
        assert validate_crd_object(obj) == [], obj["metadata"]["name"]
