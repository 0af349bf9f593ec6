"""How fast ``lamina plan`` answers on a 1,000-target fleet: ``.venv/bin/python bench/plan_bench.py``.

Generates a synthetic fleet (bench/fleetgen.py) under bench/out/, commits it as a git
repository of its own, and times in one process, through the library, the plan from HEAD
to the working tree of:

(a) a change to ``base/`` (every target is touched: all of them resolved, on both sides);
(b) a change to one cluster file (one target touched: only it resolved);
(c) and (d) the same two changes committed, planned between two commits.

Each figure is the median of several runs, each opening the repository afresh as
``lamina plan`` would. The goal is under 3 s for each.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if importlib.util.find_spec("lamina") is None:  # not installed: use the source tree
    sys.path.insert(0, str(REPO_ROOT / "src"))

from bench import fleetgen  # noqa: E402
from bench.run import seconds, table, verdict  # noqa: E402
from lamina.plan.planning import plan_revisions  # noqa: E402
from lamina.plan.results import Plan  # noqa: E402

GOAL_SECONDS = 3.0
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "lamina bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "lamina bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def git(root: Path, *args: str) -> str:
    """Run git in the generated fleet (never in lamina's own repository)."""
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_IDENTITY},
    )
    return done.stdout.strip()


def timed(run: Callable[[], Plan], runs: int) -> tuple[float, Plan]:
    """Median wall time of runs, and the last plan."""
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(times), result


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise SystemExit(f"bench: {path} does not contain {old!r}; fleetgen changed?")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lamina plan benchmark")
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--prompt-bytes", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)

    fleet = args.out / f"plan-fleet-{args.environments}e-{args.clusters}c-{args.keys}k"
    fleetgen.generate(fleet, args.environments, args.clusters, args.keys, args.prompt_bytes, args.seed)
    git(fleet, "init", "-q", "-b", "main")
    git(fleet, "add", "-A")
    git(fleet, "commit", "-q", "-m", "generated fleet")
    one_cluster = sorted((fleet / "clusters").glob("*.toml"))[
        len(list((fleet / "clusters").glob("*.toml"))) // 2
    ]
    cluster_rel = one_cluster.relative_to(fleet).as_posix()
    print(f"generated and committed {fleet}", flush=True)

    rows: list[tuple[str, str, str, str]] = []
    missed = False

    def measure(label: str, run: Callable[[], Plan], expect_resolved: int | None) -> None:
        nonlocal missed
        elapsed, result = timed(run, args.runs)
        if expect_resolved is not None and result.resolved != expect_resolved:
            raise SystemExit(f"bench: {label}: resolved {result.resolved}, expected {expect_resolved}")
        missed |= elapsed >= GOAL_SECONDS
        rows.append(
            (
                f"{label}: {len(result.touched)} of {result.total} touched, {result.resolved} resolved",
                seconds(elapsed),
                f"< {GOAL_SECONDS:g} s",
                verdict(elapsed, GOAL_SECONDS),
            )
        )
        print(f"  {label}: {seconds(elapsed)}", flush=True)

    # (a) base change, HEAD -> working tree
    # a locked key (only base/ sets it) and the prompt: every target changes, with flags
    edit(fleet / "base" / "guardrails.toml", "pii_redaction = true", "pii_redaction = false")
    with (fleet / "base" / "prompts" / "system_prompt.txt").open("a", encoding="utf-8") as handle:
        handle.write("Always cite the article an answer comes from.\n")
    measure("(a) base change, HEAD -> working tree", lambda: plan_revisions(fleet), args.clusters)
    git(fleet, "commit", "-q", "-am", "base: prompt and PII redaction")
    base_commit = git(fleet, "rev-parse", "HEAD")

    # (b) one cluster file, HEAD -> working tree
    edit(one_cluster, "redis://agent-memory-", "redis://agent-memory-v2-")
    measure(f"(b) one cluster file ({cluster_rel}), HEAD -> working tree", lambda: plan_revisions(fleet), 1)
    git(fleet, "commit", "-q", "-am", "one cluster")
    cluster_commit = git(fleet, "rev-parse", "HEAD")

    # (c), (d): the same changes between commits
    measure(
        "(c) base change, commit -> commit",
        lambda: plan_revisions(fleet, f"{base_commit}~1", base_commit),
        None,
    )
    measure(
        "(d) one cluster file, commit -> commit",
        lambda: plan_revisions(fleet, base_commit, cluster_commit),
        1,
    )

    print()
    print(
        f"lamina plan: {args.environments} environments, {args.clusters} targets, ~{args.keys} keys, "
        f"{args.prompt_bytes}-byte prompt; median of {args.runs} runs, one process, via the library"
    )
    print()
    print(table(rows))
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
