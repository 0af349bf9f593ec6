"""Loading ``lamina.toml`` of a large fleet: parse (values and the line of every key) and check.

Run from the repo root: ``.venv/bin/python bench/fleet_load_bench.py [--clusters 1000,10000]``.
Goal (issue 16): a fleet file of 1,000 clusters loads in under 0.1 s; growth no worse than linear.
Each figure is the median of 7 loads in this process.
"""

from __future__ import annotations

import argparse
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


def median_load(root: Path, runs: int = 7) -> tuple[float, float]:
    """Median wall and CPU seconds to parse and check root's lamina.toml."""
    walls, cpus = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        loading.load_fleet(trees.WorkingTree(root))
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", default="1000", help="comma-separated fleet sizes")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.clusters.split(",")]
    figures: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="lamina-fleet-load-") as scratch:
        for size in sizes:
            root = Path(scratch) / str(size)
            fleetgen.generate(root, environments=4, clusters=size, keys=50, prompt_bytes=100, seed=1)
            figures[size] = median_load(root)
    load = os.getloadavg()[0]
    print(f"loading lamina.toml (parse, then check; key lines on first use), median of 7, load {load:.1f}")
    for size, (seconds, cpu) in figures.items():
        goal = ""
        if size == 1000:
            verdict = "ok" if seconds < GOAL_SECONDS_AT_1000 else "MISSED"
            goal = f"goal < {GOAL_SECONDS_AT_1000 * 1000:.0f} ms  {verdict}"
        per = seconds / size * 1e6
        print(
            f"  {size:>6} clusters  {seconds * 1000:7.0f} ms wall  {cpu * 1000:5.0f} ms CPU"
            f"  ({per:.0f} us per cluster)  {goal}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
