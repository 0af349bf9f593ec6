"""Isolation objects on an API cluster: applied before the ConfigMap, checked by drift, healed.

One emulated cluster (kmock over real HTTP) and the real ``kubernetes`` client, driven through
the CLI as a user would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import Ran
from clusters.conftest import deployment, run_cli
from conftest import WriteRepo, commit_all
from k8s_support import (
    CONFIGMAPS,
    DEPLOYMENTS,
    HPAS,
    LIMITRANGES,
    NAMESPACES,
    NETWORKPOLICIES,
    RESOURCEQUOTAS,
    EmulatedFleet,
)

FILES = {
    "lamina.toml": """
        [fleet]
        name = "agent"
        promotion = ["staging", "production"]

        [environments.production.isolation]
        pod_security = "baseline"
        quota = {"requests.cpu" = "4", "limits.memory" = "8Gi", pods = 20}
        limits = {default = {cpu = "500m", memory = "512Mi"}, default_request = {cpu = "100m"}}
        network = "deny-all"
        egress = [{cidr = "10.0.0.0/8", ports = [443]}, {namespace = "observability", ports = [4317]}]
        ingress_from = [{namespace = "gateway", labels = {app = "envoy"}, ports = [8080]}]

        [clusters.prod-1]
        environment = "production"
        context = "prod-1"
        namespace = "ai-agents"

        [render]
        workload = "deployment/agent"
    """,
    "base/agent.toml": """
        [agent]
        model = "gpt-4o"
    """,
}


class Cluster:
    def __init__(self, root: Path, k8s: EmulatedFleet) -> None:
        self.root = root
        self.k8s = k8s

    def run(self, *args: str) -> Ran:
        return run_cli(self.root, self.k8s.kubeconfig, *args)


@pytest.fixture
def cluster(write_repo: WriteRepo, tmp_path: Path) -> Iterator[Cluster]:
    root = write_repo({**FILES, ".gitignore": ".lamina/\n"})
    commit_all(root, "fleet")
    with EmulatedFleet(tmp_path / "k8s") as k8s:
        k8s.add("prod-1")
        k8s.put("prod-1", DEPLOYMENTS, deployment())
        yield Cluster(root, k8s)


def test_apply_ships_isolation_before_the_configmap_then_changes_nothing(cluster: Cluster) -> None:
    code, out, err = cluster.run("apply", "production", "--json")
    assert code == 0, out + err
    actions = json.loads(out)[0]["actions"]
    assert actions[:5] == [
        "update Namespace ai-agents",
        "create ResourceQuota agent-quota",
        "create LimitRange agent-limits",
        "create NetworkPolicy agent-default-deny",
        "create NetworkPolicy agent-allow",
    ]
    assert actions[5].startswith("create ConfigMap agent-config-")
    namespace = cluster.k8s.objects("prod-1", NAMESPACES, namespace=None)["ai-agents"]  # type: ignore[arg-type]
    labels = namespace["metadata"]["labels"]
    assert labels["lamina.dev/environment"] == "production"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    quota = cluster.k8s.objects("prod-1", RESOURCEQUOTAS)["agent-quota"]
    assert quota["spec"] == {"hard": {"limits.memory": "8Gi", "pods": "20", "requests.cpu": "4"}}
    limits = cluster.k8s.objects("prod-1", LIMITRANGES)["agent-limits"]
    assert limits["spec"]["limits"] == [
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "100m"},
        }
    ]
    policies = cluster.k8s.objects("prod-1", NETWORKPOLICIES)
    assert policies["agent-default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allow = policies["agent-allow"]["spec"]
    assert allow["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert allow["egress"][1] == {
        "to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    assert allow["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}},
                    "podSelector": {"matchLabels": {"app": "envoy"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    code, out, err = cluster.run("apply", "production", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["result"] == "unchanged"
    assert json.loads(out)[0]["actions"] == []


def test_a_hand_edited_network_policy_is_drift_and_heal_restores_it(cluster: Cluster) -> None:
    assert cluster.run("apply", "production")[0] == 0
    code, out, err = cluster.run("drift", "--json")
    assert code == 0, err
    assert [r["status"] for r in json.loads(out)] == ["in-sync"]
    edited = cluster.k8s.objects("prod-1", NETWORKPOLICIES)["agent-allow"]
    edited["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    cluster.k8s.put("prod-1", NETWORKPOLICIES, edited)
    quota = cluster.k8s.objects("prod-1", RESOURCEQUOTAS)["agent-quota"]
    quota["spec"]["hard"]["pods"] = "200"
    cluster.k8s.put("prod-1", RESOURCEQUOTAS, quota)

    code, out, err = cluster.run("drift", "--json")
    assert code == 1, err
    report = json.loads(out)[0]
    assert report["status"] == "drifted"
    assert report["detail"] == "NetworkPolicy/agent-allow, ResourceQuota/agent-quota changed outside lamina"
    paths = {f["path"]: f for f in report["fields"]}
    assert paths["object:ResourceQuota/agent-quota:spec.hard.pods"] == {
        "path": "object:ResourceQuota/agent-quota:spec.hard.pods",
        "status": "drifted",
        "expected": "20",
        "actual": "200",
    }
    assert "object:NetworkPolicy/agent-allow:spec.egress" in paths

    code, out, err = cluster.run("drift", "--heal", "--json")
    assert code == 0, err
    assert cluster.k8s.objects("prod-1", RESOURCEQUOTAS)["agent-quota"]["spec"]["hard"]["pods"] == "20"
    egress = cluster.k8s.objects("prod-1", NETWORKPOLICIES)["agent-allow"]["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]} not in egress
    code, out, err = cluster.run("drift", "--json")
    assert [r["status"] for r in json.loads(out)] == ["in-sync"], out
    assert len(cluster.k8s.objects("prod-1", CONFIGMAPS)) == 1


def test_isolation_declared_after_an_apply_is_out_of_sync_not_drift(cluster: Cluster) -> None:
    toml = cluster.root / "lamina.toml"
    text = toml.read_text()
    toml.write_text(text.replace("[environments.production.isolation]", "[environments.staging.isolation]"))
    commit_all(cluster.root, "isolation for staging only")
    assert cluster.run("apply", "production")[0] == 0
    toml.write_text(text)
    commit_all(cluster.root, "isolation for production")
    code, out, err = cluster.run("drift", "--json")
    report = json.loads(out)[0]
    assert code == 1, err
    assert report["status"] == "out-of-sync", err
    assert {f["status"] for f in report["fields"]} == {"out-of-sync"}
    assert "object:NetworkPolicy/agent-allow" in {f["path"] for f in report["fields"]}


SIZING = """
[workload]
replicas = 3  # production carries the evening peak
resources = {requests = {cpu = "250m", memory = "512Mi"}, limits = {memory = "1Gi"}}
"""


def test_workload_sizing_is_patched_a_hand_scale_is_drift_and_heal_scales_back(cluster: Cluster) -> None:
    (cluster.root / "overlays" / "production").mkdir(parents=True)
    (cluster.root / "overlays" / "production" / "workload.toml").write_text(SIZING)
    commit_all(cluster.root, "size production")
    code, out, err = cluster.run("explain", "production/prod-1", "workload.replicas", "--json")
    assert code == 0, err
    explained = json.loads(out)
    assert explained["value"] == 3
    assert explained["layers"][-1]["reason"] == "production carries the evening peak"
    assert cluster.run("apply", "production")[0] == 0
    body = cluster.k8s.objects("prod-1", DEPLOYMENTS)["agent"]
    assert body["spec"]["replicas"] == 3
    (container,) = body["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "agent:1"  # merged by name: the rest of the container stays
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"memory": "1Gi"},
    }
    code, out, _ = cluster.run("drift", "--json")
    assert [r["status"] for r in json.loads(out)] == ["in-sync"], out

    body["spec"]["replicas"] = 7  # kubectl scale deployment/agent --replicas 7
    cluster.k8s.put("prod-1", DEPLOYMENTS, body)
    code, out, _ = cluster.run("drift", "--json")
    assert code == 1
    report = json.loads(out)[0]
    assert report["status"] == "drifted"
    assert report["fields"] == [
        {"path": "object:Deployment/agent:replicas", "status": "drifted", "expected": 3, "actual": 7}
    ]
    code, out, err = cluster.run("drift", "--heal", "--json")
    assert code == 0, out + err
    assert cluster.k8s.objects("prod-1", DEPLOYMENTS)["agent"]["spec"]["replicas"] == 3
    code, out, _ = cluster.run("drift", "--json")
    assert [r["status"] for r in json.loads(out)] == ["in-sync"], out


def test_autoscaling_ships_an_hpa_that_owns_replicas(cluster: Cluster) -> None:
    (cluster.root / "overlays" / "production").mkdir(parents=True)
    (cluster.root / "overlays" / "production" / "workload.toml").write_text(
        SIZING + "autoscaling = {min = 3, max = 12, cpu = 65}\n"
    )
    commit_all(cluster.root, "autoscale production")
    code, out, err = cluster.run("apply", "production", "--json")
    assert code == 0, out + err
    assert "create HorizontalPodAutoscaler agent-agent" in json.loads(out)[0]["actions"]
    hpa = cluster.k8s.objects("prod-1", HPAS)["agent-agent"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "agent"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    body = cluster.k8s.objects("prod-1", DEPLOYMENTS)["agent"]
    assert "replicas" not in body["spec"]  # the autoscaler owns them
    body["spec"]["replicas"] = 9  # the autoscaler scaled up: not drift
    cluster.k8s.put("prod-1", DEPLOYMENTS, body)
    code, out, _ = cluster.run("drift", "--json")
    assert [r["status"] for r in json.loads(out)] == ["in-sync"], out


def test_fields_the_api_server_fills_in_are_no_drift(cluster: Cluster) -> None:
    assert cluster.run("apply", "production")[0] == 0
    limits = cluster.k8s.objects("prod-1", LIMITRANGES)["agent-limits"]
    limits["spec"]["limits"][0]["defaultRequest"]["memory"] = "512Mi"  # defaulted from default
    cluster.k8s.put("prod-1", LIMITRANGES, limits)
    code, out, _ = cluster.run("drift", "--json")
    assert [r["status"] for r in json.loads(out)] == ["in-sync"], out
    policy = cluster.k8s.objects("prod-1", NETWORKPOLICIES)["agent-default-deny"]
    policy["spec"]["podSelector"] = {"matchLabels": {"app": "other"}}  # narrowed by hand
    cluster.k8s.put("prod-1", NETWORKPOLICIES, policy)
    code, out, _ = cluster.run("drift", "--json")
    assert code == 1
    assert [f["path"] for f in json.loads(out)[0]["fields"]] == [
        "object:NetworkPolicy/agent-default-deny:spec.podSelector.matchLabels"
    ]
