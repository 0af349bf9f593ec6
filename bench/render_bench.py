"""``lamina render --out`` for a 1,000-target fleet, against `kubectl kustomize` of each folder.

Argo CD's repo server builds every Application's folder with Kustomize; lamina renders the
whole fleet in one process. This prints both times and their ratio (goal: lamina at least
30x faster), and the time of a second render of the unchanged fleet (goal: under 1 s). The
fleet: 1,000 clusters, about 500 keys and five 6 KB prompt files per target (issue 16).

    .venv/bin/python bench/render_bench.py [--clusters 1000] [--prompts 5] [--sample N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
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

KUBECTL = REPO_ROOT / ".cache" / "bin" / "kubectl"


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        check=True,
        capture_output=True,
    )


def add_prompts(fleet: Path, count: int, size: int) -> None:
    """count more prompt files of size bytes in base/, each referenced by every target."""
    lines = ["# more prompts every agent reads (bench/render_bench.py)", "[prompts]"]
    for number in range(1, count + 1):
        text = "".join(
            f"Step {n}: answer the customer's question about order {n * number}.\n" for n in range(size)
        )
        (fleet / "base" / "prompts" / f"extra_{number}.txt").write_text(text[:size])
        lines.append(f'extra_{number} = {{ file = "prompts/extra_{number}.txt" }}')
    (fleet / "base" / "prompts.toml").write_text("\n".join(lines) + "\n")


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def render(root: Path, out: Path) -> tuple[float, float, folders.WriteReport]:
    """Wall and CPU seconds (worker processes included) of one render, and what it wrote."""
    start, start_cpu = time.perf_counter(), cpu_seconds()
    with lamina.Repository(root) as repo:
        report, _ = folders.render_fleet(repo, out)
    return time.perf_counter() - start, cpu_seconds() - start_cpu, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--prompts", type=int, default=5, help="prompt files per target")
    parser.add_argument("--prompt-bytes", type=int, default=6144, help="bytes per prompt file")
    parser.add_argument("--sample", type=int, default=0, help="kustomize only N folders (0: all)")
    args = parser.parse_args(argv)
    if not KUBECTL.exists():
        print("kubectl missing: run scripts/install-kubectl.sh", file=sys.stderr)
        return 2
    work = REPO_ROOT / "bench" / "out" / f"render-{args.environments}e-{args.clusters}c"
    fleet = work / "fleet"
    out = work / "rendered"
    shutil.rmtree(out, ignore_errors=True)
    fleetgen.generate(fleet, args.environments, args.clusters, args.keys, args.prompt_bytes, 1)
    add_prompts(fleet, args.prompts - 1, args.prompt_bytes)
    if not (fleet / ".git").exists():
        git(fleet, "init", "-q", "-b", "main")
    git(fleet, "add", "-A")
    git(fleet, "commit", "-q", "--allow-empty", "-m", "bench fleet")

    load_before = os.getloadavg()[0]
    os.sync()  # the fleet just written and the folders just removed: not flushed on lamina's time
    first, first_cpu, report = render(fleet, out)
    second, _, again = render(fleet, out)
    assert not again.written, "a second render of an unchanged fleet rewrote files"
    folders_all = sorted(p for p in out.iterdir() if p.is_dir())
    chosen = folders_all[: args.sample] if args.sample else folders_all
    os.sync()  # nor lamina's folders on Kustomize's time
    start, start_cpu = time.perf_counter(), cpu_seconds()
    for folder in chosen:
        subprocess.run([str(KUBECTL), "kustomize", str(folder)], check=True, capture_output=True)
    scale = len(folders_all) / len(chosen)
    kustomize = (time.perf_counter() - start) * scale
    kustomize_cpu = (cpu_seconds() - start_cpu) * scale
    ratio = kustomize / first
    cpu_ratio = kustomize_cpu / first_cpu
    load_after = os.getloadavg()[0]
    rows = [
        ("targets", f"{len(folders_all)}", ""),
        ("prompt files per target", f"{args.prompts} x {args.prompt_bytes // 1024} KiB", ""),
        ("lamina render --out, whole fleet (first render)", f"{first:.2f} s", ""),
        ("lamina render --out, unchanged fleet (second render)", f"{second:.2f} s", "< 1 s"),
        (
            "kubectl kustomize, one run per folder"
            + (f" (sampled {len(chosen)}, scaled)" if args.sample else ""),
            f"{kustomize:.1f} s",
            "",
        ),
        ("ratio kustomize / lamina (wall)", f"{ratio:.0f}x", ">= 30x"),
        ("CPU seconds: lamina (with its workers) / kustomize", f"{first_cpu:.2f} / {kustomize_cpu:.1f}", ""),
        ("ratio kustomize / lamina (CPU time; lamina uses 2 cores)", f"{cpu_ratio:.0f}x", ""),
        (
            "files written / unchanged on the second render",
            f"{len(again.written)} / {len(again.unchanged)}",
            "0 written",
        ),
    ]
    print(f"load average {load_before:.1f} before, {load_after:.1f} after (2 cores: above 2, both wait)")
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"{name.ljust(width)}  {value.rjust(10)}  {goal}")
    results = {
        "targets": len(folders_all),
        "render_first_s": first,
        "render_second_s": second,
        "kustomize_s": kustomize,
        "ratio": ratio,
        "render_first_cpu_s": first_cpu,
        "kustomize_cpu_s": kustomize_cpu,
        "cpu_ratio": cpu_ratio,
        "load": [load_before, load_after],
        "files_written_first": len(report.written),
    }
    (REPO_ROOT / "bench" / "out" / "render.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
