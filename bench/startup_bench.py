"""Cold start of the ``lamina`` command against ``python -c pass`` and ``kubectl kustomize``.

Run from the repo root: ``.venv/bin/python bench/startup_bench.py [--runs 7]``. Every figure is
the median wall time of whole-process runs, all taken in the same run so a busy machine slows
each side alike. Goals (issue 16):

- ``lamina build ENV/CLUSTER`` within 3x of ``kubectl kustomize`` of a one-file folder;
- ``lamina --help`` and ``lamina envs`` under 100 ms above ``python -c pass``.

The console script's modules are byte-compiled first, as an installed package's are.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
KUBECTL = REPO_ROOT / ".cache" / "bin" / "kubectl"
LAMINA = Path(sys.executable).with_name("lamina")
TARGET = "production/prod-us-1"
BUILD_RATIO_GOAL = 3.0
ABOVE_PYTHON_GOAL = 0.100


CPU: dict[str, float] = {}
"""Median CPU time (user + system) of each measured command, by its first two words."""


def median_seconds(command: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    """Median wall time of runs whole-process runs (after one warm-up run); the median CPU time
    goes to CPU (on a busy machine it says more than the wall time)."""
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    CPU[" ".join(Path(part).name for part in command[:2])] = statistics.median(cpu)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    if not KUBECTL.exists():
        print("kubectl missing: run scripts/install-kubectl.sh", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "PYTHONDONTWRITEBYTECODE"))}
    env["LAMINA_USER"] = "bench@example.com"
    import lamina

    compileall.compile_dir(Path(lamina.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory(prefix="lamina-startup-") as scratch:
        work = Path(scratch)
        fleet = work / "fleet"
        subprocess.run([str(LAMINA), "init", str(fleet)], env=env, capture_output=True, check=True)
        folder = work / "kustomize"
        folder.mkdir()
        (folder / "kustomization.yaml").write_text("resources:\n- configmap.yaml\n")
        (folder / "configmap.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\ndata:\n  key: value\n"
        )
        runs = args.runs
        python = median_seconds([sys.executable, "-c", "pass"], work, env, runs)
        kustomize = median_seconds([str(KUBECTL), "kustomize", str(folder)], work, env, runs)
        help_ = median_seconds([str(LAMINA), "--help"], fleet, env, runs)
        envs = median_seconds([str(LAMINA), "envs"], fleet, env, runs)
        build = median_seconds([str(LAMINA), "build", TARGET], fleet, env, runs)
    rows = [
        ("python -c pass", python, "reference"),
        ("kubectl kustomize (one-file folder)", kustomize, "reference"),
        (
            "lamina --help",
            help_,
            f"{(help_ - python) * 1000:.0f} ms above python (goal < {ABOVE_PYTHON_GOAL * 1000:.0f} ms)"
            + ("  ok" if help_ - python < ABOVE_PYTHON_GOAL else "  MISSED"),
        ),
        (
            "lamina envs",
            envs,
            f"{(envs - python) * 1000:.0f} ms above python (goal < {ABOVE_PYTHON_GOAL * 1000:.0f} ms)"
            + ("  ok" if envs - python < ABOVE_PYTHON_GOAL else "  MISSED"),
        ),
        (
            f"lamina build {TARGET}",
            build,
            f"{build / kustomize:.1f}x kubectl kustomize (goal <= {BUILD_RATIO_GOAL:.0f}x)"
            + ("  ok" if build / kustomize <= BUILD_RATIO_GOAL else "  MISSED"),
        ),
    ]
    print(f"cold start, median of {runs} runs each ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    for name, seconds, goal in rows:
        print(f"  {name:<40} {seconds * 1000:7.0f} ms   {goal}")
    print("CPU time (user + system), median; less sensitive to a busy machine than wall time")
    for name, seconds in CPU.items():
        print(f"  {name:<40} {seconds * 1000:7.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
