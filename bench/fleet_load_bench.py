"""Loading ``lamina.toml`` of a large fleet: parse (values and the line of every key) and check.

Run from the repo root: ``.venv/bin/python bench/fleet_load_bench.py [--clusters 1000,10000]``.
Goal (issue 16): a fleet file of 1,000 clusters loads in under 0.1 s; growth no worse than linear
(10x the clusters, at most 10x the time; printed beside each larger size, for wall and CPU time,
next to the growth of a pass over the same files that is linear by construction).
Each figure is the median of 7 loads in this process, the sizes taking turns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import fleetgen  # noqa: E402
from lamina.fleet import loading  # noqa: E402
from lamina.source import trees  # noqa: E402

GOAL_SECONDS_AT_1000 = 0.1


def reference(text: str) -> None:
    """A pass over the file that is linear by construction: its lines to JSON and back (objects
    made and read again, as a parser does). Its growth is this machine's for the same bytes:
    the larger file and its objects no longer fit in the processor's caches."""
    json.loads(json.dumps(text.split("\n")))


def median_loads(roots: dict[int, Path], runs: int = 7) -> dict[int, tuple[float, float]]:
    """Median wall and CPU seconds to parse and check each root's lamina.toml.

    The sizes take turns (one load of each per round), so a busy spell on a shared machine
    weighs on every size alike instead of on whichever ran during it.
    """
    walls: dict[int, list[float]] = {size: [] for size in roots}
    cpus: dict[int, list[float]] = {size: [] for size in roots}
    references: dict[int, list[float]] = {size: [] for size in roots}
    texts = {size: (root / loading.FLEET_FILE).read_text() for size, root in roots.items()}
    for _ in range(runs):
        for size, root in roots.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            loading.load_fleet(trees.WorkingTree(root))
            walls[size].append(time.perf_counter() - start)
            cpus[size].append(time.process_time() - start_cpu)
            start_cpu = time.process_time()
            reference(texts[size])
            references[size].append(time.process_time() - start_cpu)
    return {
        size: (
            statistics.median(walls[size]),
            statistics.median(cpus[size]),
            statistics.median(references[size]),
        )
        for size in roots
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", default="1000", help="comma-separated fleet sizes")
    args = parser.parse_args(argv)
    sizes = sorted({int(size) for size in args.clusters.split(",")})
    with tempfile.TemporaryDirectory(prefix="lamina-fleet-load-") as scratch:
        roots = {size: Path(scratch) / str(size) for size in sizes}
        for size, root in roots.items():
            fleetgen.generate(root, environments=4, clusters=size, keys=50, prompt_bytes=100, seed=1)
        for root in roots.values():  # warm: imports and first-use caches out of the figures
            loading.load_fleet(trees.WorkingTree(root))
        figures = median_loads(roots)
    load = os.getloadavg()[0]
    print(f"loading lamina.toml (parse, then check; key lines on first use), median of 7, load {load:.1f}")
    previous: tuple[int, float, float, float] | None = None
    for size, (seconds, cpu, linear_pass) in figures.items():
        goal = ""
        if size == 1000:
            verdict = "ok" if seconds < GOAL_SECONDS_AT_1000 else "MISSED"
            goal = f"goal < {GOAL_SECONDS_AT_1000 * 1000:.0f} ms  {verdict}"
        if previous is not None:
            small, small_wall, small_cpu, small_pass = previous
            linear = size / small
            wall_growth, cpu_growth = seconds / small_wall, cpu / small_cpu
            verdict = "ok" if wall_growth <= linear else "MISSED"
            goal = (
                f"growth {wall_growth:.1f}x wall, {cpu_growth:.1f}x CPU for {linear:g}x the clusters"
                f" (goal <= {linear:g}x)  {verdict}; a linear pass over the same files:"
                f" {linear_pass / small_pass:.1f}x"
            )
        previous = (size, seconds, cpu, linear_pass)
        per = seconds / size * 1e6
        print(
            f"  {size:>6} clusters  {seconds * 1000:7.0f} ms wall  {cpu * 1000:5.0f} ms CPU"
            f"  ({per:.0f} us per cluster)  {goal}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
