"""``lamina render --out`` for a 1,000-target fleet, with and without isolation and workload sizing.

The same generated fleet (bench/fleetgen.py) is rendered twice in one run: as generated, then
with ``[environments.<env>.isolation]`` for every environment (Namespace, ResourceQuota,
LimitRange, two NetworkPolicies per cluster), ``[render] workload`` and a ``[workload]`` table
with autoscaling in base/ (a HorizontalPodAutoscaler per cluster). Goal: the second render
within 1.5x of the first, judged on the CPU time of a one-process render (the wall time of the
default render is printed too, but on a shared machine it moves with other load). Each is a
full render (the render cache is not used); the best of ``--runs`` is kept, the renders
alternating.

    .venv/bin/python bench/isolation_bench.py [--clusters 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if importlib.util.find_spec("lamina") is None:
    sys.path.insert(0, str(REPO_ROOT / "src"))

import lamina  # noqa: E402
from bench import fleetgen  # noqa: E402
from lamina.render import folders  # noqa: E402

GOAL = 1.5
ISOLATION = """
[environments.{env}.isolation]
quota = {{"requests.cpu" = "16", "limits.memory" = "64Gi", pods = 80}}
limits = {{default = {{cpu = "1", memory = "1Gi"}}, default_request = {{cpu = "100m", memory = "256Mi"}}}}
network = "deny-all"
egress = [{{cidr = "10.0.0.0/8", ports = [443]}}, {{namespace = "observability", ports = [4317]}}]
ingress_from = [{{namespace = "gateway", labels = {{app = "envoy"}}, ports = [8080]}}]
"""
SIZING = """
[workload]
replicas = 3
resources = {requests = {cpu = "250m", memory = "512Mi"}, limits = {memory = "1Gi"}}
autoscaling = {min = 3, max = 12, cpu = 70}
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        check=True,
        capture_output=True,
    )


def render(root: Path, out: Path, cpu: bool = False) -> tuple[float, int, int]:
    """One full render into a fresh out: its time, targets and files written.

    Args:
        cpu: the CPU time of one process (workers=1) instead of the wall time of the default
            render; other load on a shared machine hardly moves it.
    """
    shutil.rmtree(out, ignore_errors=True)
    clock = time.process_time if cpu else time.perf_counter
    start = clock()
    with lamina.Repository(root) as repo:
        report, clusters = folders.render_fleet(repo, out, use_cache=False, workers=1 if cpu else None)
    return clock() - start, len(clusters), len(report.written)


def commit(root: Path, message: str) -> None:
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    work = REPO_ROOT / "bench" / "out" / f"isolation-{args.environments}e-{args.clusters}c"
    fleet = work / "fleet"
    fenced_fleet = work / "fenced-fleet"
    fleetgen.generate(fleet, args.environments, args.clusters, args.keys, 8192, 1)
    commit(fleet, "bench fleet")
    shutil.rmtree(fenced_fleet, ignore_errors=True)
    shutil.copytree(fleet, fenced_fleet)
    with lamina.Repository(fenced_fleet) as repo:
        environments = list(repo.fleet.ordered_environments())
    toml = fenced_fleet / "lamina.toml"
    toml.write_text(
        toml.read_text()
        + "".join(ISOLATION.format(env=env) for env in environments)
        + '\n[render]\nworkload = "deployment/agent"\n'
    )
    (fenced_fleet / "base" / "workload.toml").write_text(SIZING)
    commit(fenced_fleet, "isolation and sizing")
    # the two renders alternate, so load from other work on the machine weighs on both alike
    plain = fenced = plain_cpu = fenced_cpu = float("inf")
    for _ in range(args.runs):
        took, targets, plain_files = render(fleet, work / "plain")
        plain = min(plain, took)
        took, fenced_targets, fenced_files = render(fenced_fleet, work / "fenced")
        fenced = min(fenced, took)
        plain_cpu = min(plain_cpu, render(fleet, work / "plain", cpu=True)[0])
        fenced_cpu = min(fenced_cpu, render(fenced_fleet, work / "fenced", cpu=True)[0])
    assert fenced_targets == targets
    ratio = fenced_cpu / plain_cpu
    rows = [
        ("targets", f"{targets}", ""),
        ("render --out, as generated: wall (best of runs)", f"{plain:.2f} s", ""),
        ("render --out, with isolation and workload sizing: wall", f"{fenced:.2f} s", ""),
        ("wall ratio with / without (moves with other load)", f"{fenced / plain:.2f}x", ""),
        ("CPU time of one process, as generated", f"{plain_cpu:.2f} s", ""),
        ("CPU time of one process, with isolation and sizing", f"{fenced_cpu:.2f} s", ""),
        ("CPU ratio with / without", f"{ratio:.2f}x", f"<= {GOAL}x"),
        ("files written without / with", f"{plain_files} / {fenced_files}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"{name.ljust(width)}  {value.rjust(12)}  {goal}")
    results = {
        "targets": targets,
        "render_plain_s": plain,
        "render_isolated_s": fenced,
        "cpu_plain_s": plain_cpu,
        "cpu_isolated_s": fenced_cpu,
        "ratio": ratio,
        "files_plain": plain_files,
        "files_isolated": fenced_files,
    }
    (REPO_ROOT / "bench" / "out" / "isolation.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
