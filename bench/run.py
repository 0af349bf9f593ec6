"""lamina's benchmarks: ``make bench``, or ``.venv/bin/python bench/run.py`` from the repo root.

Generates a synthetic fleet (bench/fleetgen.py) under bench/out/ and measures:

1. resolving every target of the fleet in one process, config hash included: wall time
   for the whole fleet, the mean per target, and peak memory (tracemalloc and max RSS);
2. ``lamina --help`` start-up time (median of subprocess runs of the console script);
3. ``lamina build ENV/CLUSTER --hash`` of one target from a cold process (median).

Prints a table with the goals next to the figures and writes bench/out/results.json.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if importlib.util.find_spec("lamina") is None:  # not installed: use the source tree
    sys.path.insert(0, str(REPO_ROOT / "src"))

import lamina  # noqa: E402
from bench import fleetgen  # noqa: E402

GOAL_FLEET_SECONDS = 2.0
GOAL_HELP_SECONDS = 0.3
MIB = 1024 * 1024


# -- measuring ----------------------------------------------------------------------------------


def resolve_fleet(root: Path, keep: bool = False) -> dict[str, Any]:
    """Open the repository, resolve every target and hash it; timings in seconds."""
    start = time.perf_counter()
    with lamina.Repository(root) as repo:
        opened = time.perf_counter()
        kept: list[lamina.ResolvedConfig] = []
        hashes: dict[str, str] = {}
        for config in repo.resolve_all():
            hashes[str(config.target)] = config.config_hash
            if keep:
                kept.append(config)
        done = time.perf_counter()
    result: dict[str, Any] = {
        "total_s": done - start,
        "open_s": opened - start,
        "resolve_s": done - opened,
        "hashes": hashes,
    }
    if keep:
        result["kept"] = kept
    return result


def traced(run: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], int, int]:
    """Run under tracemalloc: the result, the peak and the memory still held after it."""
    gc.collect()
    tracemalloc.start()
    try:
        result = run()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, current


def max_rss_bytes() -> int:
    """The peak resident set size of this process so far."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def timed_runs(command: list[str], runs: int, env: dict[str, str], warmup: int = 1) -> dict[str, Any]:
    """Wall time of a subprocess, median of runs after warm-up runs (page cache, .pyc)."""
    times: list[float] = []
    last = None
    for index in range(warmup + runs):
        start = time.perf_counter()
        last = subprocess.run(command, capture_output=True, env=env, check=False)
        elapsed = time.perf_counter() - start
        if last.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {last.returncode}: {last.stderr.decode(errors='replace')}"
            )
        if index >= warmup:
            times.append(elapsed)
    assert last is not None
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs": runs,
        "stdout": last.stdout.decode(errors="replace"),
    }


def import_times(python: str, code: str, env: dict[str, str], top: int = 8) -> list[dict[str, Any]]:
    """``python -X importtime``: import time (self, summed by top-level package), largest first.

    The tracing itself slows imports down, so these are shares, not start-up figures.
    """
    done = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True, env=env, check=False)
    by_package: dict[str, int] = {}
    for line in done.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        self_us, _, name = line[len("import time:") :].split("|")
        if not self_us.strip().isdigit():
            continue
        package = name.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0) + int(self_us)
    rows = [{"package": name, "self_ms": us / 1000} for name, us in by_package.items()]
    rows.sort(key=lambda row: row["self_ms"], reverse=True)
    return rows[:top]


def lamina_script() -> str:
    """The ``lamina`` console script next to this interpreter, else the one on PATH."""
    here = Path(sys.executable).parent / "lamina"
    if here.is_file():
        return str(here)
    found = shutil.which("lamina")
    if found is None:
        raise SystemExit("bench: no lamina console script next to the interpreter or on PATH")
    return found


# -- reporting ----------------------------------------------------------------------------------


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def mib(value: int) -> str:
    return f"{value / MIB:.1f} MiB"


def verdict(value: float, goal: float) -> str:
    return "ok" if value < goal else "MISSED"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("figure", "value", "goal", "status")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if row is header:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lamina benchmarks")
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=1000, help="targets in the fleet")
    parser.add_argument("--keys", type=int, default=500, help="leaf values per config (about)")
    parser.add_argument("--prompt-bytes", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5, help="in-process fleet resolves to time")
    parser.add_argument("--cli-runs", type=int, default=10, help="subprocess runs per CLI figure")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    fleet = out / f"fleet-{args.environments}e-{args.clusters}c-{args.keys}k"
    rss_start = max_rss_bytes()

    start = time.perf_counter()
    fleetgen.generate(fleet, args.environments, args.clusters, args.keys, args.prompt_bytes, args.seed)
    generated_s = time.perf_counter() - start
    print(
        f"generated {fleet.relative_to(REPO_ROOT) if fleet.is_relative_to(REPO_ROOT) else fleet} "
        f"in {seconds(generated_s)}",
        flush=True,
    )

    # (1) the whole fleet in one process
    runs = []
    for _ in range(args.runs):
        gc.collect()
        runs.append(resolve_fleet(fleet))
    hashes = runs[0]["hashes"]
    if any(run["hashes"] != hashes for run in runs):
        raise SystemExit("bench: resolving the same fleet twice gave different hashes")
    targets = len(hashes)
    rss_after = max_rss_bytes()
    total = statistics.median(run["total_s"] for run in runs)
    open_s = statistics.median(run["open_s"] for run in runs)
    with lamina.Repository(fleet) as repo:
        sample = repo.resolve(next(reversed(hashes)))
        keys_per_config = sum(1 for _ in fleetgen.leaves(sample.data))
    streamed, peak_stream, _ = traced(lambda: resolve_fleet(fleet))
    kept_run, peak_kept, held = traced(lambda: resolve_fleet(fleet, keep=True))
    del kept_run
    print(f"resolved {targets} targets x {args.runs} runs", flush=True)

    # (2) and (3): cold processes of the console script
    script = lamina_script()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
    env["NO_COLOR"] = "1"
    python = sys.executable
    help_run = timed_runs([script, "--help"], args.cli_runs, env)
    floor = timed_runs([python, "-c", "pass"], args.cli_runs, env)
    import_run = timed_runs([python, "-c", "import lamina.cli.app"], args.cli_runs, env)
    target = next(reversed(hashes))
    build = timed_runs([script, "--repo", str(fleet), "build", target, "--hash"], args.cli_runs, env)
    build_hash = build["stdout"].strip()
    help_imports = import_times(
        python, "import sys; sys.argv = ['lamina', '--help']; from lamina.cli.app import main; main()", env
    )
    print(flush=True)

    fleet_ok = total < GOAL_FLEET_SECONDS
    help_ok = help_run["median_s"] < GOAL_HELP_SECONDS
    rows = [
        (
            f"(1) resolve + hash all {targets} targets, one process (median of {args.runs})",
            seconds(total),
            f"< {GOAL_FLEET_SECONDS:g} s",
            verdict(total, GOAL_FLEET_SECONDS),
        ),
        ("    of which opening the repository (lamina.toml)", seconds(open_s), "", ""),
        ("    per target (mean)", f"{total / max(targets, 1) * 1000:.2f} ms", "", ""),
        (
            "    first run / fastest run",
            f"{seconds(runs[0]['total_s'])} / {seconds(min(run['total_s'] for run in runs))}",
            "",
            "",
        ),
        ("    peak memory, tracemalloc, configs streamed", mib(peak_stream), "", ""),
        ("    peak memory, tracemalloc, all configs kept", mib(peak_kept), "", ""),
        ("    memory held by all kept configs", mib(held), "", ""),
        ("    max RSS: before / after the timed runs", f"{mib(rss_start)} / {mib(rss_after)}", "", ""),
        (
            f"(2) lamina --help, cold process (median of {args.cli_runs})",
            seconds(help_run["median_s"]),
            f"< {GOAL_HELP_SECONDS:g} s",
            verdict(help_run["median_s"], GOAL_HELP_SECONDS),
        ),
        ("    python -c pass (interpreter floor)", seconds(floor["median_s"]), "", ""),
        ("    python -c 'import lamina.cli.app'", seconds(import_run["median_s"]), "", ""),
        (
            f"(3) lamina build {target} --hash, cold (median of {args.cli_runs})",
            seconds(build["median_s"]),
            "-",
            "",
        ),
    ]
    print(
        f"lamina benchmarks: {args.environments} environments, {args.clusters} clusters "
        f"({targets} targets), {keys_per_config} leaf values per config, "
        f"{args.prompt_bytes}-byte prompt; Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print()
    print(table(rows))
    if build_hash != hashes[target]:
        print(f"\nWARNING: lamina build --hash printed {build_hash}, in-process gave {hashes[target]}")
    if not help_ok:
        print("\n--help start-up: import time by package (python -X importtime, inflated by tracing)")
        for row in help_imports:
            print(f"  {row['self_ms']:8.1f} ms  {row['package']}")

    results = {
        "fleet": {
            "path": str(fleet),
            "environments": args.environments,
            "clusters": args.clusters,
            "targets": targets,
            "keys": args.keys,
            "leaf_values_per_config": keys_per_config,
            "prompt_bytes": args.prompt_bytes,
            "seed": args.seed,
            "distinct_hashes": len(set(hashes.values())),
            "generate_s": generated_s,
        },
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "fleet_resolve": {
            "runs_total_s": [run["total_s"] for run in runs],
            "runs_open_s": [run["open_s"] for run in runs],
            "median_s": total,
            "open_median_s": open_s,
            "per_target_mean_ms": total / max(targets, 1) * 1000,
            "traced_total_s": streamed["total_s"],
            "tracemalloc_peak_streamed_bytes": peak_stream,
            "tracemalloc_peak_kept_bytes": peak_kept,
            "tracemalloc_held_kept_bytes": held,
            "max_rss_before_bytes": rss_start,
            "max_rss_after_bytes": rss_after,
            "goal_s": GOAL_FLEET_SECONDS,
            "meets_goal": fleet_ok,
        },
        "help": {
            **{k: v for k, v in help_run.items() if k != "stdout"},
            "script": script,
            "goal_s": GOAL_HELP_SECONDS,
            "meets_goal": help_ok,
            "python_floor_median_s": floor["median_s"],
            "import_cli_median_s": import_run["median_s"],
            "top_imports": help_imports,
        },
        "build_one_target": {
            **{k: v for k, v in build.items() if k != "stdout"},
            "target": target,
            "hash": build_hash,
            "matches_in_process_hash": build_hash == hashes[target],
        },
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out / 'results.json'}")
    return 1 if args.strict and not (fleet_ok and help_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
