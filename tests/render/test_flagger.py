"""Flagger objects in the GitOps hand-off: with ``[rollout.flagger]``, a Canary for the workload
and MetricTemplates from the environment's ``[[analysis]]``, in each cluster folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from cli_support import Ran, run_lamina_in_process
from conftest import commit_all

from .crd_schemas import validate_crd_object

KUBECTL = Path(__file__).resolve().parents[2] / ".cache" / "bin" / "kubectl"
needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(), reason="run scripts/install-kubectl.sh first")

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: support-agent
spec:
  selector:
    matchLabels: {app: support-agent}
  template:
    metadata:
      labels: {app: support-agent}
    spec:
      containers:
      - name: agent
        image: example/agent:1
        volumeMounts:
        - {name: config, mountPath: /etc/agent}
      volumes:
      - name: config
        configMap:
          name: support-agent-config
"""

ROLLOUT = """
[rollout.production]
steps    = ["wave=1", "100%"]
timeout  = "5m"
analysis = "agent-health"

[rollout.flagger]
interval    = "30s"
threshold   = 3
max_weight  = 40
step_weight = 20
address     = "http://prometheus.monitoring.svc:9090"
port        = 9898

[[analysis]]
name     = "agent-health"
provider = { type = "prometheus", url_env = "PROMETHEUS_URL" }
interval = "2m"
count    = 3
[[analysis.metrics]]
name  = "tool-success-rate"
query = 'sum(rate(agent_tool_calls_total{cluster="${cluster.name}",region="${cluster.labels.region}",\
status="ok"}[5m])) / sum(rate(agent_tool_calls_total{cluster="${cluster.name}"}[5m]))'
min   = 0.95
[[analysis.metrics]]
name  = "p95_latency_seconds"
query = 'histogram_quantile(0.95, sum by (le) (rate(agent_request_seconds_bucket{env="${env.name}"}[5m])))'
min   = 0
max   = 3.0
"""


def flagger_fleet(root: Path, rollout: str = ROLLOUT) -> None:
    """The example fleet with its workload in [render] resources and [rollout.flagger]."""
    workload = root / "workload"
    workload.mkdir()
    (workload / "kustomization.yaml").write_text("resources:\n- deployment.yaml\n")
    (workload / "deployment.yaml").write_text(DEPLOYMENT)
    fleet = root / "lamina.toml"
    text = (
        fleet.read_text()
        .replace('# workload  = "deployment/support-agent"', 'workload = "deployment/support-agent"')
        .replace("resources = []", 'resources = ["../../workload"]')
    )
    fleet.write_text(text + rollout)
    commit_all(root, "flagger")


def lamina(repo: Path, *args: str) -> Ran:
    return run_lamina_in_process("--repo", repo, *args)


def kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return [doc for doc in YAML(typ="safe").load_all(done.stdout) if doc]


def line_of(root: Path, text: str) -> int:
    lines = (root / "lamina.toml").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


@needs_kubectl
def test_each_cluster_folder_gets_a_canary_and_metric_templates_that_build(example_repo: Path) -> None:
    flagger_fleet(example_repo)
    out = example_repo / "out"

    result = lamina(example_repo, "render", "--out", str(out), "--gitops", "flux")

    assert result.returncode == 0, result.stderr
    built = kustomize(out / "prod-us-2")
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in built)
    assert [kind for kind, _ in kinds] == [
        "Canary",
        "ConfigMap",
        "Deployment",
        "MetricTemplate",
        "MetricTemplate",
    ]
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in built}
    assert all(o["metadata"]["namespace"] == "ai-agents" for o in built)
    canary = by_name[("Canary", "support-agent")]
    assert canary["spec"] == {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "support-agent"},
        "progressDeadlineSeconds": 300,
        "service": {"port": 9898},
        "analysis": {
            "interval": "30s",
            "threshold": 3,
            "maxWeight": 40,
            "stepWeight": 20,
            "metrics": [
                {
                    "name": "tool-success-rate",
                    "templateRef": {"name": "agent-health-tool-success-rate"},
                    "thresholdRange": {"min": 0.95},
                    "interval": "120s",
                },
                {
                    "name": "p95_latency_seconds",
                    "templateRef": {"name": "agent-health-p95-latency-seconds"},
                    "thresholdRange": {"min": 0, "max": 3.0},
                    "interval": "120s",
                },
            ],
        },
    }
    # the queries are filled for this cluster, as apply --rollout fills them
    assert by_name[("MetricTemplate", "agent-health-tool-success-rate")]["spec"] == {
        "provider": {"type": "prometheus", "address": "http://prometheus.monitoring.svc:9090"},
        "query": 'sum(rate(agent_tool_calls_total{cluster="prod-us-2",region="us-west-2",status="ok"}[5m])) '
        '/ sum(rate(agent_tool_calls_total{cluster="prod-us-2"}[5m]))',
    }
    assert by_name[("MetricTemplate", "agent-health-p95-latency-seconds")]["spec"]["query"] == (
        'histogram_quantile(0.95, sum by (le) (rate(agent_request_seconds_bucket{env="production"}[5m])))'
    )
    for obj in built:
        if obj["apiVersion"] == "flagger.app/v1beta1":
            assert validate_crd_object(obj) == [], obj["metadata"]["name"]
    first = kustomize(out / "prod-us-1")
    query = next(o for o in first if o["kind"] == "MetricTemplate" and "tool" in o["metadata"]["name"])
    assert 'cluster="prod-us-1",region="us-east-1"' in query["spec"]["query"]
    # no [rollout] applies to staging: its folder is as without Flagger
    assert sorted(p.name for p in (out / "staging-us-1").glob("*.yaml")) == ["kustomization.yaml"]


def test_the_folders_list_the_flagger_objects_and_an_unchanged_fleet_rewrites_nothing(
    example_repo: Path,
) -> None:
    flagger_fleet(example_repo)
    out = example_repo / "out"

    assert lamina(example_repo, "render", "--out", str(out), "--gitops", "argocd").returncode == 0

    assert sorted(p.parent.name for p in out.glob("*/canary-support-agent.yaml")) == [
        "prod-us-1",
        "prod-us-2",
    ]
    listed = YAML(typ="safe").load((out / "prod-us-1" / "kustomization.yaml").read_text())["resources"]
    assert listed == [
        "../../workload",
        "canary-support-agent.yaml",
        "metrictemplate-agent-health-p95-latency-seconds.yaml",
        "metrictemplate-agent-health-tool-success-rate.yaml",
    ]
    again = lamina(example_repo, "render", "--out", str(out), "--gitops", "argocd", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["written"] == []


def test_a_directory_cluster_applied_by_lamina_holds_the_same_flagger_objects_and_is_in_sync(
    example_repo: Path,
) -> None:
    flagger_fleet(example_repo)
    out = example_repo / "out"  # the example's directory clusters live in out/<name>
    assert lamina(example_repo, "render", "--out", str(out)).returncode == 0
    rendered = {p.name: p.read_bytes() for p in (out / "prod-us-1").iterdir()}

    drift = lamina(example_repo, "drift", "production", "--json")

    assert drift.returncode == 0, drift.stdout + drift.stderr
    (canary,) = [p for p in (out / "prod-us-1").iterdir() if p.name.startswith("canary-")]
    canary.unlink()  # lamina writes the folder again the way render does
    applied = lamina(example_repo, "--as", "alice@example.com", "apply", "production/prod-us-1")
    assert applied.returncode == 0, applied.stderr
    assert {p.name: p.read_bytes() for p in (out / "prod-us-1").iterdir()} == rendered


def test_a_query_naming_a_label_a_cluster_lacks_is_refused_at_its_line(example_repo: Path) -> None:
    flagger_fleet(example_repo, ROLLOUT.replace("${cluster.labels.region}", "${cluster.labels.tier}"))
    out = example_repo / "out"

    for args in (("validate",), ("render", "--out", str(out), "--gitops", "flux")):
        result = lamina(example_repo, *args)

        assert result.returncode == 2
        line = line_of(example_repo, "query = 'sum(rate(agent_tool_calls_total")
        assert result.stderr.strip() == (
            f"error: lamina.toml:{line}: [[analysis.metrics]] tool-success-rate: the query uses "
            "${cluster.labels.tier} and cluster prod-us-1 has no such label ([rollout.flagger] fills it in "
            "for each cluster)"
        )
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("written", "setting", "message"),
    [
        pytest.param(
            "port        = 9898",
            "canary_port = 80",
            "unknown key 'canary_port' in [rollout.flagger] (known: address, interval, iterations, "
            "max_weight, port, step_weight, threshold)",
            id="unknown-key",
        ),
        pytest.param(
            "threshold   = 3",
            "threshold   = 0",
            "[rollout.flagger] threshold must be a positive integer",
            id="threshold",
        ),
        pytest.param(
            'interval    = "30s"',
            'interval    = "every minute"',
            "[rollout.flagger] interval: 'every minute' is not a duration like '10m', '1h30m', "
            "'1d12h', '30s' or '0'",
            id="interval",
        ),
    ],
)
def test_validate_refuses_a_bad_flagger_table_at_its_line(
    example_repo: Path, written: str, setting: str, message: str
) -> None:
    flagger_fleet(example_repo, ROLLOUT.replace(written, setting))

    result = lamina(example_repo, "validate")

    assert result.returncode == 2
    line = line_of(example_repo, setting)
    assert result.stderr.strip() == f"error: lamina.toml:{line}: {message}"


def test_iterations_make_a_blue_green_canary(example_repo: Path) -> None:
    import lamina
    from lamina.render import flagger

    flagger_fleet(example_repo, ROLLOUT.replace("max_weight  = 40\nstep_weight = 20", "iterations  = 4"))

    with lamina.Repository(example_repo) as repo:
        fleet = repo.fleet
        canary, *templates = flagger.cluster_objects(fleet.settings, fleet.cluster("prod-us-1"))
        staging = flagger.cluster_objects(fleet.settings, fleet.cluster("staging-us-1"))

    analysis = canary["spec"]["analysis"]
    assert {key: analysis[key] for key in analysis if key != "metrics"} == {
        "interval": "30s",
        "threshold": 3,
        "iterations": 4,
    }
    assert [t["metadata"]["name"] for t in templates] == [
        "agent-health-tool-success-rate",
        "agent-health-p95-latency-seconds",
    ]
    assert validate_crd_object(canary) == []
    assert staging == []  # no [rollout] applies to staging
