"""deploy/: the Helm chart of ``lamina serve`` checked by the real ``helm`` (lint, template) with
every rendered object validated by kubernetes-validate; the alerting rules by ``promtool``; the
Grafana dashboard names only metrics ``lamina serve`` exports at /metrics."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from lamina.server import metrics
from lamina.server.revisions import GitSync
from lamina.store.database import Database

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "chart" / "lamina"
HELM = ROOT / ".cache" / "bin" / "helm"
PROMTOOL = Path("/usr/bin/promtool")
RULES = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "lamina-dashboard.json"
KUBERNETES = "1.33"
REQUIRED = {
    "repository.url": "git@git.example.com:platform/agent-configs.git",
    "database.existingSecret": "lamina-database",
    "tokens.existingSecret": "lamina-tokens",
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=False)


def values(extra: dict[str, str] | None = None) -> list[str]:
    return [
        arg for key, value in {**REQUIRED, **(extra or {})}.items() for arg in ("--set", f"{key}={value}")
    ]


def rendered(extra: dict[str, str] | None = None) -> list[dict[str, Any]]:
    done = helm("template", "hub", str(CHART), "--namespace", "lamina", *values(extra))
    assert done.returncode == 0, done.stderr
    return [doc for doc in YAML(typ="safe").load_all(done.stdout) if doc]


def test_helm_lint_passes() -> None:
    done = helm("lint", "--strict", str(CHART), *values())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {
                "git.existingSecret": "lamina-git",
                "replicaCount": "3",
                "rbac.namespaces": "{ai-agents,ai-eu}",
            },
            id="git-credentials",
        ),
    ],
)
def test_every_rendered_object_is_valid_kubernetes(extra: dict[str, str]) -> None:
    objects = rendered(extra)
    kinds = sorted(f"{o['kind']}/{o['metadata'].get('namespace', '-')}" for o in objects)
    namespaces = ["ai-agents", "ai-eu"] if extra.get("rbac.namespaces") else ["ai-agents"]
    assert kinds == sorted(
        ["Deployment/-", "Service/-", "ServiceAccount/-"]
        + [f"{kind}/{ns}" for ns in namespaces for kind in ("Role", "RoleBinding")]
    )
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path) or "<object>"
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {where}: {error.message}")


def test_the_deployment_probes_reads_secrets_and_runs_the_replicas() -> None:
    (deployment,) = [
        o
        for o in rendered({"git.existingSecret": "lamina-git", "replicaCount": "3"})
        if o["kind"] == "Deployment"
    ]
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e for e in container["env"]}
    assert env["LAMINA_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "lamina-database",
        "key": "url",
    }
    assert env["LAMINA_GIT_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "lamina-git"
    assert env["LAMINA_TOKENS_FILE"]["value"] == "/etc/lamina/tokens/tokens.toml"
    assert pod["serviceAccountName"] == "hub-lamina"
    (clone,) = pod["initContainers"]
    assert clone["command"][:2] == ["git", "clone"] and REQUIRED["repository.url"] in clone["command"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"tokens": "lamina-tokens", "git-credentials": "lamina-git"}


def test_a_missing_required_value_is_named() -> None:
    done = helm(
        "template", "hub", str(CHART), "--set", "repository.url=x", "--set", "tokens.existingSecret=t"
    )
    assert done.returncode == 1
    assert "database.existingSecret is required: a Secret with the PostgreSQL URL" in done.stderr


def test_the_alerting_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = subprocess.run(
        [str(PROMTOOL), "check", "rules", "lamina-alerts.yaml"], cwd=RULES, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout
    tested = subprocess.run(
        [str(PROMTOOL), "test", "rules", "lamina-alerts.test.yaml"], cwd=RULES, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    names = {
        rule["alert"]
        for group in YAML(typ="safe").load((RULES / "lamina-alerts.yaml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert names == {
        "LaminaClusterUnreachable",
        "LaminaDriftHeld",
        "LaminaPromotionVerificationFailed",
        "LaminaSchedulerStalled",
        "LaminaGitFetchStalled",
        "LaminaNoticesFailed",
        "LaminaNoticesUndelivered",
    }


def exported(tmp_path: Path) -> set[str]:
    """Every series name /metrics of a server can show (a histogram's _bucket, _sum and _count too)."""
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        database.ensure_schema()
        registry = metrics.Metrics(database)
        registry.watch_git(GitSync(tmp_path, {}))
        body, _ = registry.exposition()
    finally:
        database.dispose()
    names = set()
    for line in body.decode().splitlines():
        found = re.match(r"# TYPE (\S+) (\S+)", line)
        if found:
            base, kind = found.groups()
            names.add(base)
            names.update(
                {
                    "histogram": {f"{base}_bucket", f"{base}_sum", f"{base}_count"},
                    "counter": {f"{base}_total"},
                }.get(kind, set())
            )
    return names


def test_the_grafana_dashboard_names_only_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\blamina_[a-z_]+", target["expr"])
    }
    rules = (RULES / "lamina-alerts.yaml").read_text()
    used_by_rules = set(re.findall(r"\blamina_[a-z_]+", rules))
    available = exported(tmp_path)
    assert used - available == set()
    assert used_by_rules - available == set()
    assert {"lamina_drift_status", "lamina_applies", "lamina_promotions"} <= used
