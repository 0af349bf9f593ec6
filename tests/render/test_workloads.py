"""``[workload]`` sizing: a checked table of the config layers, rendered as part of the workload
patch and as a HorizontalPodAutoscaler (autoscaling/v2), valid for Kubernetes 1.35, also in the
GitOps folders (which ``kubectl kustomize`` builds with the user's workload)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_support import Ran
from clusters.conftest import run_cli
from conftest import commit_all
from lamina.render import configmaps, folders, workloads
from lamina.resolve.repository import Repository
from render.test_core_objects import merge_patch, minimal_workload, patch_errors, validate_strict
from render.test_kustomize_parity import kustomize

SIZING = """
[workload]
replicas = 4  # production's steady load
resources = {requests = {cpu = "250m", memory = "512Mi"}, limits = {memory = "1Gi"}}
"""


def _run(root: Path, *args: str) -> Ran:
    return run_cli(root, root / "no-kubeconfig", *args)


def sized(root: Path, extra: str = "", workload: str = "deployment/agent") -> Path:
    (root / "overlays" / "production" / "workload.toml").write_text(SIZING + extra)
    fleet = root / "lamina.toml"
    fleet.write_text(fleet.read_text().replace("[render]\n", f'[render]\nworkload = "{workload}"\n', 1))
    commit_all(root, "size production")
    return root


def rendered(root: Path, target: str) -> configmaps.RenderedConfig:
    with Repository(root) as repo:
        config = repo.resolve(target)
        render = repo.fleet.settings.render
        return configmaps.render_config(config, None, workload=render.workload, container=render.container)


@pytest.mark.parametrize("workload", ["deployment/agent", "statefulset/agent"])
def test_sizing_patch_and_autoscaler_are_valid_kubernetes_1_35(example_repo: Path, workload: str) -> None:
    root = sized(example_repo, "autoscaling = {min = 2, max = 8, cpu = 70}\n", workload)
    target = rendered(root, "production/prod-us-1")
    assert target.sizing == workloads.Sizing(
        4,
        {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        workloads.Autoscaling(2, 8, 70),
    )
    patch = configmaps.workload_patch(workload, target)
    assert "replicas" not in patch["spec"]  # the autoscaler owns them
    assert patch["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"memory": "1Gi"}
    assert patch_errors(patch, "1.35.0") == []
    meta = patch["metadata"]
    validate_strict(
        merge_patch(minimal_workload(patch["kind"], meta["name"], meta["namespace"]), patch), "1.35.0"
    )
    (hpa,) = target.kept_objects()
    validate_strict(hpa, "1.35.0")
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 70,
    }
    untouched = rendered(root, "staging/staging-us-1")
    assert untouched.sizing.empty and untouched.kept_objects() == []
    assert "replicas" not in configmaps.workload_patch(workload, untouched)["spec"]


def test_replicas_without_autoscaling_are_patched(example_repo: Path) -> None:
    target = rendered(sized(example_repo), "production/prod-us-1")
    patch = configmaps.workload_patch("deployment/agent", target)
    assert patch["spec"]["replicas"] == 4
    assert patch["metadata"]["annotations"] == {
        workloads.ANNOTATION_SIZING: workloads.sizing_hash(workloads.wanted(target.sizing))
    }
    assert target.kept_objects() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "[workload]\nreplicas = -1\n",
            "overlays/production/workload.toml:2: production/prod-us-1: workload.replicas must be a whole "
            "number, 0 or more",
            id="negative-replicas",
        ),
        pytest.param(
            '[workload]\nresources = {requests = {cpu = "lots"}}\n',
            "overlays/production/workload.toml:2: production/prod-us-1: workload.resources.requests.cpu "
            'must be a Kubernetes quantity (like "500m", "2Gi", 4)',
            id="quantity",
        ),
        pytest.param(
            "[workload]\nautoscaling = {min = 5, max = 2}\n",
            "overlays/production/workload.toml:2: production/prod-us-1: workload.autoscaling.min (5) is "
            "above max (2)",
            id="min-above-max",
        ),
        pytest.param(
            "[workload]\nreplica = 2\n",
            "overlays/production/workload.toml:2: production/prod-us-1: workload.replica is not a workload "
            "setting (known: autoscaling, replicas, resources)",
            id="unknown-key",
        ),
    ],
)
def test_bad_sizing_names_its_layer_line(example_repo: Path, text: str, message: str) -> None:
    (example_repo / "overlays" / "production" / "workload.toml").write_text(text)
    commit_all(example_repo, "bad sizing")
    code, out, err = _run(example_repo, "render", "production/prod-us-1", "--print")
    assert code == 2
    assert out == ""
    assert err.strip() == f"error: {message}"


def test_gitops_folders_carry_the_autoscaler_and_the_sizing_patch(example_repo: Path) -> None:
    root = sized(example_repo, "autoscaling = {max = 6}\n")
    (root / "agent").mkdir()
    (root / "agent" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: agent\nspec:\n"
        "  selector:\n    matchLabels: {app: agent}\n  template:\n    metadata:\n      labels: {app: agent}\n"
        "    spec:\n      containers:\n      - name: agent\n        image: agent:1\n"
    )
    (root / "agent" / "kustomization.yaml").write_text("resources:\n- deployment.yaml\n")
    fleet = root / "lamina.toml"
    fleet.write_text(fleet.read_text().replace("resources = []\n", 'resources = ["../../agent"]\n', 1))
    commit_all(root, "workload in the folders")
    out = root / "deploy"
    code, _, err = _run(root, "render", "--out", str(out), "--gitops", "flux")
    assert code == 0, err
    folder = out / "prod-us-1"
    assert (folder / "workload-autoscaler.yaml").is_file()
    assert (folder / folders.KUSTOMIZATION).read_text().count(workloads.PATCH_FILE) == 1
    built = {f"{obj['kind']}/{obj['metadata']['name']}": obj for obj in kustomize(folder)}
    deployment = built["Deployment/agent"]
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:1"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "250m"
    assert built["HorizontalPodAutoscaler/support-agent-agent"]["spec"]["maxReplicas"] == 6
    staging = out / "staging-us-1"
    assert not (staging / workloads.PATCH_FILE).exists()
    assert not any(p.name.startswith("workload-") for p in staging.iterdir())
