"""Drift over 200 emulated clusters, each answering with 50 ms of latency, 5% unreachable.

Prints wall time, API requests made, the ratio to the latency-bound ideal
(ceil(clusters / parallelism) x latency) and memory. Run: ``.venv/bin/python bench/drift_bench.py``.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from k8s_support import EmulatedFleet
from lamina.clusters import apply, connection
from lamina.drift import checking
from lamina.resolve.resolver import Repository


def write_repo(root: Path, names: list[str]) -> None:
    lines = ['[fleet]\nname = "agent"\npromotion = ["production"]\n']
    for name in names:
        lines.append(
            f'[clusters.{name}]\nenvironment = "production"\ncontext = "{name}"\nnamespace = "ai-agents"\n'
        )
    (root / "base" / "prompts").mkdir(parents=True)
    (root / "lamina.toml").write_text("\n".join(lines))
    (root / "base" / "agent.toml").write_text(
        '[agent]\nmodel = "gpt-4o"\nprompt = {file = "prompts/system.txt"}\n'
        "[feature_flags]\nstreaming = true\n"
    )
    (root / "base" / "prompts" / "system.txt").write_text("You are a helpful agent.\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--unreachable", type=float, default=0.05)
    parser.add_argument("--parallelism", type=int, default=32)
    args = parser.parse_args()
    names = [f"c-{i:03d}" for i in range(args.clusters)]
    down = set(names[:: int(1 / args.unreachable)]) if args.unreachable else set()
    with tempfile.TemporaryDirectory() as tmp, EmulatedFleet(Path(tmp) / "k8s") as k8s:
        root = Path(tmp) / "repo"
        root.mkdir()
        write_repo(root, names)
        for name in names:
            if name in down:
                k8s.add_unreachable(name)
            else:
                k8s.add(name, latency=args.latency)
        repo = Repository(root)
        settings = connection.KubeSettings(
            kubeconfig=str(k8s.kubeconfig), repo_root=root, timeout=5, parallelism=args.parallelism
        )
        options = checking.DriftOptions()
        refs = repo.targets()
        # put the current config on every reachable cluster (not timed)
        import datetime

        for rendered in checking.render_targets(repo, refs):
            apply.apply_config(rendered, settings, apply.ApplyOptions(), datetime.datetime.now(datetime.UTC))
        served_before = sum(e.served for e in k8s.emulators.values())
        started = time.perf_counter()
        result = checking.check(repo, refs, settings, options)
        wall = time.perf_counter() - started
        served = sum(e.served for e in k8s.emulators.values()) - served_before
        tracemalloc.start()  # a second, untimed run: tracing slows Python down several times
        checking.check(repo, refs, settings, options)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        ideal = math.ceil(len(names) / args.parallelism) * args.latency
        counts: dict[str, int] = {}
        for report in result.reports:
            counts[report.status.value] = counts.get(report.status.value, 0) + 1
        ms = args.latency * 1000
        per = peak / len(names) / 1024
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"clusters            {len(names)} ({len(down)} unreachable), latency {ms:.0f} ms")
        print(f"parallelism         {args.parallelism}")
        print(f"statuses            {dict(sorted(counts.items()))}")
        print(f"wall time           {wall:.3f} s")
        print(f"requests made       {result.requests} (served by emulators: {served})")
        print(f"ideal               {ideal:.3f} s = ceil({len(names)}/{args.parallelism}) x {ms:.0f} ms")
        print(f"ratio to ideal      {wall / ideal:.2f}x (goal: within 3x)")
        print(f"peak traced memory  {peak / 2**20:.1f} MiB during the check ({per:.1f} KiB/cluster)")
        print(f"max RSS             {rss:.0f} MiB (process, incl. emulators)")


if __name__ == "__main__":
    main()
