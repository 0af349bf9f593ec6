"""Drift over 200 emulated clusters, each answering with 50 ms of latency, 5% unreachable.

Prints wall time, API requests made, the ratio to the latency-bound ideal
(ceil(clusters / parallelism) x latency) and memory. The emulated clusters run in a child
process, so the memory figures are the check's alone. Run: ``.venv/bin/python bench/drift_bench.py``;
``--memory 50,100,200,400,800`` prints the check's memory fleet size after fleet size.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from k8s_support import EmulatedFleet
from lamina.clusters import apply, connection, outcomes
from lamina.drift import checking
from lamina.resolve.repository import Repository


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


def serve(count: int, latency: float, unreachable: float, folder: Path) -> None:
    """Child process: serve the emulated clusters until stdin closes; "served" prints requests served."""
    names = cluster_names(count)
    down = unreachable_names(names, unreachable)
    with EmulatedFleet(folder) as k8s:
        for name in names:
            if name in down:
                k8s.add_unreachable(name)
            else:
                k8s.add(name, latency=latency)
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "served":
                print(sum(e.served for e in k8s.emulators.values()), flush=True)


def cluster_names(count: int) -> list[str]:
    return [f"c-{i:03d}" for i in range(count)]


def unreachable_names(names: list[str], share: float) -> set[str]:
    return set(names[:: int(1 / share)]) if share else set()


class Emulators:
    """The emulated clusters in a child process, so their memory is not counted as the check's."""

    def __init__(self, count: int, latency: float, unreachable: float, folder: Path) -> None:
        self.kubeconfig = folder / "kubeconfig.yaml"
        command = [sys.executable, __file__, "--serve", str(folder), "--clusters", str(count)]
        command += ["--latency", str(latency), "--unreachable", str(unreachable)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        if self.stdout.readline().strip() != "ready":
            raise SystemExit("the emulators did not start")

    def served(self) -> int:
        self.stdin.write("served\n")
        self.stdin.flush()
        return int(self.stdout.readline())

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=60)


def prepare(
    tmp: Path, args: argparse.Namespace, count: int
) -> tuple[Path, Emulators, connection.KubeSettings]:
    """A repository of count clusters, their emulators, and the current config applied to each."""
    names = cluster_names(count)
    root = tmp / f"repo-{count}"
    root.mkdir()
    write_repo(root, names)
    k8s = Emulators(count, args.latency, args.unreachable, tmp / f"k8s-{count}")
    settings = connection.KubeSettings(
        kubeconfig=str(k8s.kubeconfig), repo_root=root, timeout=5, parallelism=args.parallelism
    )
    repo = Repository(root)
    now = datetime.datetime.now(datetime.UTC)
    with ThreadPoolExecutor(max_workers=args.parallelism) as pool:
        rendered = checking.render_targets(repo, repo.targets())
        list(
            pool.map(lambda item: apply.apply_config(item, settings, outcomes.ApplyOptions(), now), rendered)
        )
    return root, k8s, settings


def traced_check(root: Path, settings: connection.KubeSettings) -> tuple[int, int, int, int]:
    """One drift check as the CLI runs it, traced: (fleet model, check's peak, kept in result, reports).

    The fleet model (lamina.toml's clusters and the target list) is loaded first and counted
    apart: it is the fleet's own description. The check's peak is what it adds on top.
    """
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    repo = Repository(root)
    refs = repo.targets()
    loaded = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = checking.check(repo, refs, settings, checking.DriftOptions())
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return loaded - before, peak - loaded, after - loaded, len(result.reports)


def timing(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        root, k8s, settings = prepare(tmp, args, args.clusters)
        try:
            down = unreachable_names(cluster_names(args.clusters), args.unreachable)
            repo = Repository(root)
            refs = repo.targets()
            served_before = k8s.served()
            started = time.perf_counter()
            result = checking.check(repo, refs, settings, checking.DriftOptions())
            wall = time.perf_counter() - started
            served = k8s.served() - served_before
            model, peak, kept, _ = traced_check(root, settings)  # untimed: tracing is slow
        finally:
            k8s.close()
    ideal = math.ceil(args.clusters / args.parallelism) * args.latency
    counts: dict[str, int] = {}
    for report in result.reports:
        counts[report.status.value] = counts.get(report.status.value, 0) + 1
    ms = args.latency * 1000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"clusters            {args.clusters} ({len(down)} unreachable), latency {ms:.0f} ms")
    print(f"parallelism         {args.parallelism}")
    print(f"statuses            {dict(sorted(counts.items()))}")
    print(f"wall time           {wall:.3f} s")
    print(f"requests made       {result.requests} (served by emulators: {served})")
    print(f"ideal               {ideal:.3f} s = ceil({args.clusters}/{args.parallelism}) x {ms:.0f} ms")
    print(f"ratio to ideal      {wall / ideal:.2f}x (goal: within 3x)")
    print(f"fleet model         {model / 2**20:.2f} MiB (lamina.toml's clusters and the targets)")
    print(
        f"check's peak        {peak / 2**20:.2f} MiB on top of it, {kept / 1024:.0f} KiB kept in the reports"
    )
    print(f"max RSS             {rss:.0f} MiB (this process; the emulators run in another)")


def memory(args: argparse.Namespace, sizes: list[int]) -> None:
    """Memory of the check alone, fleet after fleet: flat apart from one small report per cluster."""
    print(
        f"{'clusters':>8}  {'model MiB':>9}  {'peak MiB':>8}  {'reports KiB':>11}"
        f"  {'B/report':>8}  {'working MiB':>11}"
    )
    with tempfile.TemporaryDirectory() as name:
        for count in sizes:
            root, k8s, settings = prepare(Path(name), args, count)
            try:
                traced_check(root, settings)  # warm imports and connection code
                model, peak, kept, reports = traced_check(root, settings)
            finally:
                k8s.close()
            line = f"{count:>8}  {model / 2**20:>9.2f}  {peak / 2**20:>8.2f}  {kept / 1024:>11.0f}"
            print(f"{line}  {kept // reports:>8}  {(peak - kept) / 2**20:>11.2f}")
    print("working = the check's peak less the reports it returns; model = the loaded fleet description")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--unreachable", type=float, default=0.05)
    parser.add_argument("--parallelism", type=int, default=32)
    parser.add_argument(
        "--memory", metavar="SIZES", help="measure memory for these fleet sizes, e.g. 50,100,200,400"
    )
    parser.add_argument("--serve", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.clusters, args.latency, args.unreachable, Path(args.serve))
    elif args.memory:
        memory(args, [int(size) for size in args.memory.split(",")])
    else:
        timing(args)


if __name__ == "__main__":
    main()
