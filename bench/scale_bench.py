"""The same commands on a 1,000- and a 10,000-cluster fleet, side by side.

Run from the repo root: ``.venv/bin/python bench/scale_bench.py [--sizes 1000,10000]``.
Goals (issue 16): growth no worse than linear (10x the clusters, at most 10x the time), and the
commands that touch one target (``build``, ``explain``) under 1 s at 10,000 clusters and no
slower than at 1,000 beyond loading the fleet file once. Whole-fleet commands run once as
whole processes (wall time); one-target commands are the median of 3; loading ``lamina.toml``
and resolving every target are timed in this process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import lamina  # noqa: E402
from bench import fleetgen  # noqa: E402
from lamina.fleet import loading  # noqa: E402
from lamina.source import trees  # noqa: E402

LAMINA = Path(sys.executable).with_name("lamina")
ONE_TARGET_GOAL = 1.0
KEY = "agent.model"


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        check=True,
        capture_output=True,
    )


def timed(work: Callable[[], object], runs: int = 1) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> None:
    env = {**os.environ, "LAMINA_USER": "bench@example.com"}
    done = subprocess.run([str(LAMINA), *args], cwd=root, env=env, capture_output=True, text=True)
    if done.returncode not in ok:
        raise SystemExit(f"lamina {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")


def resolve_all(root: Path) -> int:
    with lamina.Repository(root) as repo:
        targets = repo.targets(())
        for target in targets:
            repo.resolve(str(target))
        return len(targets)


def measure(size: int, work: Path) -> dict[str, float]:
    fleet = work / f"fleet-{size}"
    fleetgen.generate(fleet, environments=4, clusters=size, keys=500, prompt_bytes=8192, seed=1)
    if not (fleet / ".git").exists():
        git(fleet, "init", "-q", "-b", "main")
    git(fleet, "add", "-A")
    git(fleet, "commit", "-q", "--allow-empty", "-m", "bench fleet")
    with lamina.Repository(fleet) as repo:
        one = str(repo.targets(())[size // 2])
    figures: dict[str, float] = {}
    figures["load lamina.toml"] = timed(lambda: loading.load_fleet(trees.WorkingTree(fleet)), runs=3)
    figures["lamina envs"] = timed(lambda: run(fleet, "envs"), runs=3)
    figures["lamina build ENV/CLUSTER"] = timed(lambda: run(fleet, "build", one, "--hash"), runs=3)
    figures["lamina explain ENV/CLUSTER KEY"] = timed(lambda: run(fleet, "explain", one, KEY), runs=3)
    figures["resolve every target"] = timed(lambda: resolve_all(fleet))
    out = work / f"rendered-{size}"
    shutil.rmtree(out, ignore_errors=True)
    figures["lamina render --out"] = timed(lambda: run(fleet, "render", "--out", str(out)))
    figures["lamina validate"] = timed(lambda: run(fleet, "validate", ok=(0, 1)))
    base = next(iter(sorted((fleet / "base").glob("*.toml"))))
    base.write_text(base.read_text() + "\n[scale_bench]\nchanged = true\n")
    figures["lamina plan (a base change)"] = timed(lambda: run(fleet, "plan", "--json", ok=(0, 1)))
    git(fleet, "checkout", "-q", "--", ".")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="two comma-separated fleet sizes")
    args = parser.parse_args(argv)
    small, large = (int(size) for size in args.sizes.split(","))
    work = REPO_ROOT / "bench" / "out" / "scale"
    work.mkdir(parents=True, exist_ok=True)
    figures = {size: measure(size, work) for size in (small, large)}
    growth_limit = large / small
    print(f"the same commands at {small:,} and {large:,} clusters (load {os.getloadavg()[0]:.1f})")
    print(f"{'command':34} {small:>9,} {large:>9,}  growth  goal")
    load_extra = figures[large]["load lamina.toml"] - figures[small]["load lamina.toml"]
    for name in figures[small]:
        a, b = figures[small][name], figures[large][name]
        growth = b / a if a else float("inf")
        if name.startswith(("lamina build", "lamina explain")):
            verdict = "ok" if b < ONE_TARGET_GOAL and b - a <= load_extra + 0.1 else "MISSED"
            goal = f"< {ONE_TARGET_GOAL:.0f} s, at most the extra load time (+{load_extra:.2f} s)  {verdict}"
        else:
            verdict = "ok" if growth <= growth_limit else "MISSED"
            goal = f"<= {growth_limit:.0f}x (linear)  {verdict}"
        print(f"{name:34} {a:8.2f}s {b:8.2f}s  {growth:5.1f}x  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
