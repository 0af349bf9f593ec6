"""A rollout over 200 emulated clusters in 4 steps, 1 s bake, 3 measurements of 2 metrics each,
against a real Prometheus (Debian's) scraping a loopback exporter.

Prints the wall time against the ideal: the sum of bakes and measurement intervals plus the
apply time, measured in the same run as a plain apply (``shipping.ship``, what ``lamina
apply`` does) of the previous config to the same clusters and emulators; and the number of
Prometheus queries (goal: one batched ``by (cluster)`` query per metric, round and step =
4 x 3 x 2 = 24). Run: ``.venv/bin/python bench/rollout_bench.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from k8s_support import DEPLOYMENTS, EmulatedFleet
from lamina.clusters import connection, secrets
from lamina.core.states import RolloutStatus
from lamina.core.targets import TargetRef
from lamina.guard.actors import Actor
from lamina.resolve.repository import Repository
from lamina.rollout import engine
from lamina.ship import shipping
from lamina.store.database import Database
from rollout_support import DeploymentController, Exporter, PrometheusServer, deployment

GOAL = 1.5
STEPS = 4
BAKE = 1.0
COUNT = 3
INTERVAL = 1.0
METRICS = 2


def write_repo(root: Path, names: list[str]) -> None:
    lines = [
        '[fleet]\nname = "agents"\npromotion = ["production"]\n',
        '[render]\nworkload = "deployment/agent"\n',
        "[apply]\nparallelism = 32\ntimeout = 10\n",
        f'[rollout]\nsteps = ["wave=0", "wave=1", "wave=2", "wave=3"]\nbake = "{BAKE:g}s"\ntimeout = "60s"\n'
        'analysis = "agent-health"\n',
        "[[analysis]]\n"
        'name = "agent-health"\nprovider = { type = "prometheus", url_env = "PROMETHEUS_URL" }\n'
        f'interval = "{INTERVAL:g}s"\ncount = {COUNT}\nfailure_limit = 0\n'
        "[[analysis.metrics]]\n"
        'name = "tool-success-rate"\nquery = \'sum(rate(agent_tool_calls_total{cluster="${cluster.name}",'
        'status="ok"}[5s])) / sum(rate(agent_tool_calls_total{cluster="${cluster.name}"}[5s]))\'\n'
        "min = 0.95\n"
        "[[analysis.metrics]]\n"
        'name = "p95-latency-seconds"\nquery = \'max(agent_latency_seconds{cluster="${cluster.name}"})\'\n'
        "max = 3.0\n",
    ]
    for index, name in enumerate(names):
        lines.append(
            f'[clusters.{name}]\nenvironment = "production"\ncontext = "{name}"\nnamespace = "ai-agents"\n'
            f'labels = {{ wave = "{index * STEPS // len(names)}" }}\n'
        )
    (root / "base").mkdir(parents=True)
    (root / "lamina.toml").write_text("\n".join(lines))
    (root / ".gitignore").write_text(".lamina/\n")
    subprocess.run(["git", "-C", str(root), "init", "-q", "-b", "main"], check=True)
    commit_model(root, "v1")


def commit_model(root: Path, model: str) -> None:
    (root / "base/agent.toml").write_text(f'[agent]\nmodel = "{model}"\n')
    for args in (["add", "-A"], ["commit", "-q", "-m", model]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env={**os.environ, **IDENTITY})


IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--phases", action="store_true", help="print how long each phase took")
    args = parser.parse_args()
    names = [f"c-{i:03d}" for i in range(args.clusters)]
    started_at = time.monotonic()
    exporter = Exporter()
    calls = {"n": 0.0}

    def samples() -> dict[str, dict[str, float]]:
        """Counters that grow at every scrape: 99 of 100 tool calls ok."""
        calls["n"] += 1.0
        return {
            name: {
                'agent_tool_calls_total{status="ok"}': 99 * calls["n"],
                'agent_tool_calls_total{status="error"}': calls["n"],
                "agent_latency_seconds": 1.2,
            }
            for name in names
        }

    exporter.samples = samples
    marks: list[tuple[float, str, int, str]] = []
    prometheus = PrometheusServer(exporter)
    with tempfile.TemporaryDirectory(prefix="lamina-rollout-bench-") as folder:
        root = Path(folder) / "repo"
        write_repo(root, names)
        with EmulatedFleet(Path(folder) / "k8s") as k8s, DeploymentController(k8s, delay=0.05):
            for name in names:
                k8s.add(name)
                k8s.put(name, DEPLOYMENTS, deployment())
            os.environ["KUBECONFIG"] = str(k8s.kubeconfig)
            prometheus.wait_for(
                "count(sum by (cluster) (rate(agent_tool_calls_total[5s])) > 0)",
                lambda result: bool(result) and int(float(result[0]["value"][1])) == len(names),
                timeout=60,
            )
            print(
                f"setup: {time.monotonic() - started_at:.1f} s ({len(names)} emulated clusters, prometheus)"
            )
            refs = [TargetRef("production", name) for name in names]
            db = Database.for_repository(root, None)
            with Repository(root) as repo:  # the peer: a plain apply of v1 to every cluster
                kube = connection.KubeSettings.from_environment(
                    os.environ, repo.root, repo.fleet.settings.apply
                )
                with secrets.Lookups.from_environment(os.environ, kube) as lookups:
                    plain_began = time.monotonic()
                    shipped = shipping.ship(
                        repo,
                        db,
                        refs,
                        actor=Actor("bench"),
                        kube=kube,
                        lookups=lookups,
                        now=datetime.now(UTC),
                    )
                    plain = time.monotonic() - plain_began
            assert not shipped.failed, [o.detail for o in shipped.outcomes if o.failed]
            commit_model(root, "v2")
            with Repository(root) as repo:
                kube = connection.KubeSettings.from_environment(
                    os.environ, repo.root, repo.fleet.settings.apply
                )
                with secrets.Lookups.from_environment(os.environ, kube) as lookups:
                    driver = engine.Driver(
                        repo=repo,
                        db=db,
                        kube=kube,
                        lookups=lookups,
                        actor=Actor("bench"),
                        environ={"PROMETHEUS_URL": prometheus.url},
                        events=lambda event: marks.append(
                            (time.monotonic(), event.kind, event.step, event.text)
                        ),
                    )
                    began = time.monotonic()
                    record = driver.start(refs)
                    final = driver.drive(record.id)
                    wall = time.monotonic() - began
    prometheus.close()
    exporter.close()
    if args.phases:
        previous = began
        for moment, kind, step, text in marks:
            if kind in ("phase", "succeeded", "failed", "paused"):
                print(f"  step {step + 1} {text:<24} after {moment - previous:6.2f} s")
                previous = moment
    waiting = STEPS * (BAKE + (COUNT - 1) * INTERVAL)
    ideal = waiting + plain
    measured = len(final.measurements)
    print(f"rollout {final.status.value}: {len(names)} clusters, {STEPS} steps, {measured} measurements")
    print(f"plain apply of the same clusters (same run, the peer): {plain:.2f} s")
    print(
        f"wall time: {wall:.2f} s; ideal (bakes and measurement intervals {waiting:.2f} s"
        f" + the plain apply): {ideal:.2f} s"
    )
    print(f"ratio: {wall / ideal:.2f}x the ideal (goal <= {GOAL}x)")
    goal = STEPS * COUNT * METRICS
    print(f"prometheus queries: {driver.queries} (goal: {goal}, one per metric, round and step)")
    if final.status is not RolloutStatus.SUCCEEDED:
        print(f"reason: {final.reason}")
        sys.exit(1)


if __name__ == "__main__":
    main()
