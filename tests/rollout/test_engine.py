"""Rollouts end to end: emulated clusters whose Deployments a controller rolls, a real
Prometheus scraping an exporter whose per-cluster agent metrics depend on the config each
cluster runs, and lamina driving the rollout."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import port_support
from cli_support import LAMINA, lamina_environ, run_lamina
from conftest import commit_all
from k8s_support import CONFIGMAPS, DEPLOYMENTS, EmulatedFleet
from lamina.clusters import connection, secrets
from lamina.core.states import MeasurementOutcome, RolloutClusterState, RolloutStatus
from lamina.core.targets import TargetRef
from lamina.guard.actors import Actor
from lamina.resolve.repository import Repository
from lamina.rollout import engine
from lamina.store import applies, rollouts
from lamina.store.database import Database
from lamina.store.rollouts import RolloutRecord
from rollout_support import DeploymentController, PrometheusServer, deployment

pytestmark = pytest.mark.slow

WAVES = {"a": "0", "b": "1", "c": "1", "d": "2", "e": "2"}


def lamina_toml(prefix: str, bake: str = "400ms") -> str:
    clusters = "".join(
        f'[clusters.{prefix}-{name}]\nenvironment = "dev"\ncontext = "{prefix}-{name}"\n'
        f'namespace = "ai-agents"\nlabels = {{ wave = "{wave}" }}\n\n'
        for name, wave in WAVES.items()
    )
    return (
        textwrap.dedent(
            f"""\
            [fleet]
            name = "agents"
            promotion = ["dev"]

            [render]
            workload = "deployment/agent"

            [apply]
            timeout = 5
            parallelism = 4

            [rollout]
            steps    = ["wave=0", "wave=1", "100%"]
            bake     = "{bake}"
            timeout  = "20s"
            analysis = "agent-health"

            [[analysis]]
            name     = "agent-health"
            provider = {{ type = "prometheus", url_env = "PROMETHEUS_URL" }}
            interval = "300ms"
            count    = 2
            failure_limit = 0
            [[analysis.metrics]]
            name  = "tool-success-rate"
            query = 'sum(agent_tool_success_ratio{{cluster="${{cluster.name}}"}})'
            min   = 0.95
            [[analysis.metrics]]
            name  = "p95-latency-seconds"
            query = 'max(agent_latency_seconds{{cluster="${{cluster.name}}"}})'
            max   = 3.0

            """
        )
        + clusters
    )


@dataclass
class RolloutFleet:
    """A committed repository (v1 applied everywhere, v2 committed), its clusters and metrics."""

    root: Path
    k8s: EmulatedFleet
    prometheus: PrometheusServer
    prefix: str
    v1: dict[str, str] = field(default_factory=dict)
    """cluster -> the ConfigMap it runs before the rollout."""
    bad: set[str] = field(default_factory=set)
    """Clusters whose agents degrade once they run v2."""
    silent: set[str] = field(default_factory=set)
    """Clusters that export nothing."""

    def names(self) -> list[str]:
        return [f"{self.prefix}-{name}" for name in WAVES]

    def mounted(self, cluster: str) -> str:
        volumes = self.k8s.objects(cluster, DEPLOYMENTS)["agent"]["spec"]["template"]["spec"]["volumes"]
        return str(volumes[0]["configMap"]["name"])

    def samples(self) -> dict[str, dict[str, float]]:
        out = {}
        for cluster in self.names():
            if cluster in self.silent:
                continue
            degraded = cluster in self.bad and self.mounted(cluster) != self.v1[cluster]
            out[cluster] = {
                "agent_tool_success_ratio": 0.5 if degraded else 0.99,
                "agent_latency_seconds": 1.2,
            }
        return out

    @property
    def db(self) -> Database:
        return Database.for_repository(self.root, None)

    def env(self, url: str | None = None) -> dict[str, str]:
        return {
            "KUBECONFIG": str(self.k8s.kubeconfig),
            "LAMINA_USER": "tester@example.com",
            "PROMETHEUS_URL": url or self.prometheus.url,
        }

    def drive(self, url: str | None = None) -> tuple[RolloutRecord, list[engine.Event], list[RolloutRecord]]:
        """Start and drive a rollout of dev in this process; returns it, its events and alerts."""
        events: list[engine.Event] = []
        alerts: list[RolloutRecord] = []
        saved = dict(os.environ)
        os.environ["KUBECONFIG"] = str(self.k8s.kubeconfig)
        try:
            with Repository(self.root) as repo:
                kube = connection.KubeSettings.from_environment(
                    os.environ, repo.root, repo.fleet.settings.apply
                )
                with secrets.Lookups.from_environment(os.environ, kube) as lookups:
                    driver = engine.Driver(
                        repo=repo,
                        db=self.db,
                        kube=kube,
                        lookups=lookups,
                        actor=Actor.on_command_line("tester@example.com", self.root),
                        environ=self.env(url),
                        events=events.append,
                        alert=alerts.append,
                    )
                    record = driver.start([TargetRef("dev", name) for name in self.names()])
                    return driver.drive(record.id), events, alerts
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture
def rollout_fleet(
    request: pytest.FixtureRequest, tmp_path: Path, prometheus: PrometheusServer
) -> Iterator[RolloutFleet]:
    prefix = "r" + format(abs(hash(request.node.nodeid)) % 10**6, "06d")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "lamina.toml").write_text(lamina_toml(prefix, bake=getattr(request, "param", "400ms")))
    (root / "base").mkdir()
    (root / "base/agent.toml").write_text('[agent]\nmodel = "v1"\n')
    (root / ".gitignore").write_text(".lamina/\n")
    commit_all(root, "v1")
    with EmulatedFleet(tmp_path / "k8s") as k8s, DeploymentController(k8s) as controller:
        del controller
        fleet = RolloutFleet(root, k8s, prometheus, prefix)
        for name in fleet.names():
            k8s.add(name)
            k8s.put(name, DEPLOYMENTS, deployment())
        done = run_lamina("--repo", root, "apply", "dev", env=fleet.env())
        assert done.returncode == 0, done.stdout + done.stderr
        fleet.v1 = {name: fleet.mounted(name) for name in fleet.names()}
        (root / "base/agent.toml").write_text('[agent]\nmodel = "v2"\n')
        commit_all(root, "v2")
        prometheus.exporter.samples = fleet.samples
        prometheus.wait_for(
            f'agent_tool_success_ratio{{cluster=~"{prefix}-.*"}}',
            lambda result: len(result) == len(fleet.names()) - len(fleet.silent),
        )
        try:
            yield fleet
        finally:
            prometheus.exporter.samples = dict


def v2_applies(fleet: RolloutFleet, record: RolloutRecord) -> dict[str, int]:
    """How many times each cluster had something written to it since the rollout started."""
    counts: dict[str, int] = {}
    for item in applies.applies_of(fleet.db, "dev"):
        if item.result == "applied" and item.at >= record.created_at:
            counts[item.cluster] = counts.get(item.cluster, 0) + 1
    return counts


def test_a_healthy_rollout_moves_every_step_and_succeeds(rollout_fleet: RolloutFleet) -> None:
    fleet = rollout_fleet
    record, events, alerts = fleet.drive()
    assert (record.status, record.reason, alerts) == (RolloutStatus.SUCCEEDED, None, [])
    assert record.plan["steps"] == [
        [f"{fleet.prefix}-a"],
        [f"{fleet.prefix}-b", f"{fleet.prefix}-c"],
        [f"{fleet.prefix}-d", f"{fleet.prefix}-e"],
    ]
    assert {c.state for c in record.clusters} == {RolloutClusterState.APPLIED}
    for cluster in record.clusters:
        assert cluster.previous_configmap == fleet.v1[cluster.cluster]
        assert fleet.mounted(cluster.cluster) == cluster.configmap != fleet.v1[cluster.cluster]
    # every metric measured twice on every cluster of every step, all within bounds
    assert len(record.measurements) == 5 * 2 * 2
    assert {m.outcome for m in record.measurements} == {MeasurementOutcome.PASSED}
    rates = {m.value for m in record.measurements if m.metric == "tool-success-rate"}
    assert rates == {0.99}
    # the step order is kept: no cluster of a later step moved before the earlier one passed
    applied = [e.cluster for e in events if e.kind == "applied"]
    assert applied[0] == f"{fleet.prefix}-a" and set(applied[3:]) == {
        f"{fleet.prefix}-d",
        f"{fleet.prefix}-e",
    }
    assert v2_applies(fleet, record) == {name: 1 for name in fleet.names()}


def test_a_metric_degrading_at_step_2_rolls_steps_1_and_2_back_and_alerts(
    rollout_fleet: RolloutFleet,
) -> None:
    fleet = rollout_fleet
    fleet.bad = {f"{fleet.prefix}-b"}
    record, events, alerts = fleet.drive()
    assert record.status is RolloutStatus.FAILED
    assert record.reason is not None
    assert record.reason.startswith(f"tool-success-rate on {fleet.prefix}-b out of bounds in 1 measurements")
    assert [a.id for a in alerts] == [record.id]
    states = {c.cluster: c.state for c in record.clusters}
    assert states == {
        f"{fleet.prefix}-a": RolloutClusterState.ROLLED_BACK,
        f"{fleet.prefix}-b": RolloutClusterState.ROLLED_BACK,
        f"{fleet.prefix}-c": RolloutClusterState.ROLLED_BACK,
        f"{fleet.prefix}-d": RolloutClusterState.PENDING,
        f"{fleet.prefix}-e": RolloutClusterState.PENDING,
    }
    for name in fleet.names():  # every cluster runs (again) the ConfigMap it ran before
        assert fleet.mounted(name) == fleet.v1[name]
        assert fleet.v1[name] in fleet.k8s.objects(name, CONFIGMAPS)
    failed = [m for m in record.measurements if m.outcome is MeasurementOutcome.FAILED]
    assert [(m.cluster, m.metric, m.value, m.detail) for m in failed] == [
        (f"{fleet.prefix}-b", "tool-success-rate", 0.5, "0.5 not >= 0.95")
    ]
    assert [e.kind for e in events if e.kind in ("failed", "rolled-back")].count("rolled-back") == 3


def test_no_data_pauses_the_rollout(rollout_fleet: RolloutFleet) -> None:
    fleet = rollout_fleet
    fleet.silent = {f"{fleet.prefix}-c"}
    fleet.prometheus.wait_for(f'agent_tool_success_ratio{{cluster="{fleet.prefix}-c"}}', lambda r: r == [])
    record, _events, alerts = fleet.drive()
    assert (record.status, record.step, alerts) == (RolloutStatus.PAUSED, 1, [])
    assert record.reason == f"inconclusive: tool-success-rate on {fleet.prefix}-c: no data"
    assert fleet.mounted(f"{fleet.prefix}-d") == fleet.v1[f"{fleet.prefix}-d"]  # step 3 never started


def test_an_unreachable_prometheus_pauses_the_rollout(rollout_fleet: RolloutFleet) -> None:
    fleet = rollout_fleet
    url = f"http://127.0.0.1:{port_support.refusing_port()}"
    record, _events, _alerts = fleet.drive(url)
    assert (record.status, record.step) == (RolloutStatus.PAUSED, 0)
    assert record.reason == (
        f"inconclusive: tool-success-rate on {fleet.prefix}-a: prometheus at {url} unreachable: ConnectError"
    )
    assert fleet.mounted(f"{fleet.prefix}-b") == fleet.v1[f"{fleet.prefix}-b"]


@pytest.mark.parametrize("rollout_fleet", [pytest.param("4s", id="bake-4s")], indirect=True)
def test_kill_9_during_bake_then_resume_completes_applying_each_cluster_once(
    rollout_fleet: RolloutFleet,
) -> None:
    fleet = rollout_fleet
    log = fleet.root.parent / "rollout.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(LAMINA), "--repo", str(fleet.root), "apply", "dev", "--rollout"],
            env=lamina_environ(fleet.env()),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 60
    seen = None
    while time.monotonic() < deadline:
        found = rollouts.list_rollouts(fleet.db) if (fleet.root / ".lamina/state.db").exists() else []
        # the phase is recorded before the driver prints it: wait for both, then kill
        if (
            found
            and found[0].step == 1
            and found[0].phase.value == "bake"
            and b"step 2  baking" in log.read_bytes()
        ):
            seen = found[0]
            break
        time.sleep(0.05)
    assert seen is not None, log.read_text()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert rollouts.get(fleet.db, seen.id).status is RolloutStatus.RUNNING  # nobody finished it
    done = run_lamina("--repo", fleet.root, "rollout", "resume", str(seen.id), "--json", env=fleet.env())
    assert done.returncode == 0, done.stdout + done.stderr
    record = rollouts.get(fleet.db, seen.id)
    assert record.status is RolloutStatus.SUCCEEDED
    assert "step 2  baking 4s" in log.read_text()  # the killed run showed its progress as plain lines
    assert v2_applies(fleet, record) == {name: 1 for name in fleet.names()}
    for name in fleet.names():
        assert fleet.mounted(name) != fleet.v1[name]
