"""Isolation objects: valid Kubernetes 1.35 objects, written into every cluster folder (which
``kubectl kustomize`` builds), checked by drift in a directory cluster, compared by parity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cli_support import Ran
from clusters.conftest import run_cli
from conftest import commit_all
from lamina.fleet.isolation_settings import Isolation, Peer
from lamina.render import isolation
from render.test_core_objects import validate_strict
from render.test_kustomize_parity import kustomize

ISOLATION = """
[environments.production.isolation]
quota = {"requests.cpu" = "8", "limits.memory" = "16Gi", pods = 40}
limits = {cpu = "500m", memory = "512Mi"}
network = "same-namespace"
egress = [{cidr = "10.0.0.0/8", ports = [443]}, {namespace = "observability", ports = [4317]}]
ingress_from = [{namespace = "gateway", labels = {app = "envoy"}}]

[environments.staging.isolation]
pod_security = "baseline"
quota = {pods = 10}
network = "deny-all"
"""


def _run(root: Path, *args: str) -> Ran:
    return run_cli(root, root / "no-kubeconfig", *args)


@pytest.fixture
def isolated(example_repo: Path) -> Path:
    fleet = example_repo / "lamina.toml"
    text = fleet.read_text()
    fleet.write_text(text.replace("[layers]", ISOLATION + "\n[layers]", 1))
    commit_all(example_repo, "isolation")
    return example_repo


LABELS = {"app.kubernetes.io/managed-by": "lamina", "lamina.dev/environment": "production"}


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(Isolation(), id="namespace-only"),
        pytest.param(
            Isolation(
                "restricted",
                {"requests.cpu": "4", "pods": "20"},
                {"default": {"cpu": "1"}, "defaultRequest": {"cpu": "100m"}, "max": {"memory": "2Gi"}},
                "deny-all",
                (Peer(cidr="10.0.0.0/8", ports=(443, 8443)), Peer(namespace="observability", ports=(4317,))),
                (Peer(namespace="gateway", labels={"app": "envoy"}, ports=(8080,), protocol="TCP"),),
            ),
            id="everything-deny-all",
        ),
        pytest.param(Isolation("baseline", network="same-namespace"), id="same-namespace"),
        pytest.param(
            Isolation(ingress_from=(Peer(labels={"role": "probe"}),), network="deny-all"), id="labels-only"
        ),
    ],
)
def test_isolation_objects_are_valid_kubernetes_1_35(settings: Isolation) -> None:
    objects = isolation.objects("agent", "ai-agents", settings, LABELS)
    assert objects[0]["kind"] == "Namespace"
    for obj in objects:
        validate_strict(obj, "1.35.0")
        assert obj["metadata"]["annotations"] == {isolation.ANNOTATION_MANAGED: isolation.managed_hash(obj)}
    kinds = [obj["kind"] for obj in objects]
    expected = (
        ["Namespace"]
        + (["ResourceQuota"] if settings.quota else [])
        + (["LimitRange"] if settings.limits else [])
    )
    expected += ["NetworkPolicy", "NetworkPolicy"] if settings.network else []
    assert kinds == expected


def test_dns_is_always_allowed_and_same_namespace_adds_the_namespace() -> None:
    objects = isolation.objects("agent", "ai-agents", Isolation(network="same-namespace"), LABELS)
    allow = objects[-1]["spec"]
    assert allow["egress"] == [
        {
            "to": [isolation.DNS_PEER],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {"to": [{"podSelector": {}}]},
    ]
    assert allow["ingress"] == [{"from": [{"podSelector": {}}]}]
    deny = isolation.objects("agent", "ai-agents", Isolation(network="deny-all"), LABELS)[-1]["spec"]
    assert "ingress" not in deny and len(deny["egress"]) == 1


def test_render_out_writes_isolation_into_each_folder_and_kustomize_builds_it(
    isolated: Path, tmp_path: Path
) -> None:
    out = isolated / "deploy"
    code, _, err = _run(isolated, "render", "--out", str(out), "--gitops", "flux")
    assert code == 0, err
    assert (out / "_flux" / "kustomization.yaml").is_file()
    prod = out / "prod-eu-1"  # production-eu extends production: the same fences
    kinds = [obj["kind"] for obj in YAML(typ="safe").load_all((prod / isolation.ISOLATION_FILE).read_text())]
    assert kinds == ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "NetworkPolicy"]
    built = {f"{obj['kind']}/{obj['metadata']['name']}": obj for obj in kustomize(prod)}
    assert built["Namespace/ai-agents"]["metadata"]["labels"]["lamina.dev/environment"] == "production-eu"
    assert (
        built["Namespace/ai-agents"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )
    assert built["ResourceQuota/support-agent-quota"]["spec"]["hard"] == {
        "limits.memory": "16Gi",
        "pods": "40",
        "requests.cpu": "8",
    }
    assert built["NetworkPolicy/support-agent-allow"]["metadata"]["namespace"] == "ai-agents"
    assert any(key.startswith("ConfigMap/support-agent-config-") for key in built)
    for obj in built.values():
        if obj["kind"] != "ConfigMap":
            validate_strict(obj, "1.35.0")
    staging = YAML(typ="safe").load_all((out / "staging-us-1" / isolation.ISOLATION_FILE).read_text())
    assert [obj["kind"] for obj in staging] == [
        "Namespace",
        "ResourceQuota",
        "NetworkPolicy",
        "NetworkPolicy",
    ]
    assert not (out / "local-dev" / isolation.ISOLATION_FILE).exists()


def test_directory_cluster_isolation_hand_edit_is_drift_and_heal_restores(isolated: Path) -> None:
    assert _run(isolated, "apply", "production", "--json")[0] == 0
    code, out, _ = _run(isolated, "drift", "production", "--json")
    assert {r["status"] for r in json.loads(out)} == {"in-sync"}, out
    quota = isolated / "out" / "prod-us-1" / isolation.ISOLATION_FILE
    quota.write_text(quota.read_text().replace('"40"', '"400"'))
    code, out, _ = _run(isolated, "drift", "production", "--json")
    rows = {r["cluster"]: r for r in json.loads(out)}
    assert code == 1
    assert rows["prod-us-1"]["status"] == "drifted"
    assert rows["prod-us-1"]["fields"] == [
        {
            "path": "object:ResourceQuota/support-agent-quota:spec.hard.pods",
            "status": "drifted",
            "expected": "40",
            "actual": "400",
        }
    ]
    assert rows["prod-us-2"]["status"] == "in-sync"
    code, out, _ = _run(isolated, "drift", "production", "--heal", "--json")
    assert code == 0, out
    assert '"40"' in quota.read_text()


def test_parity_shows_how_isolation_differs(isolated: Path) -> None:
    code, out, err = _run(isolated, "parity", "staging", "production", "--json")
    assert code == 0, err
    found = {d["path"]: d for d in json.loads(out)["differences"] if d.get("table") == "isolation"}
    assert found["network"]["values"] == {"staging": "deny-all", "production": "same-namespace"}
    assert found["pod_security"]["values"] == {"staging": "baseline", "production": "restricted"}
    assert found['quota."requests.cpu"']["values"] == {"production": "8"}
    assert found["quota.pods"]["set_in"]["staging"].startswith("lamina.toml:")
    code, out, _ = _run(isolated, "parity", "staging", "production")
    assert "[isolation] network" in out
