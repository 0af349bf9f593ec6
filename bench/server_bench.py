"""A loopback load test of ``lamina serve``: GET /api/v1/drift and the dashboard's fleet page
(its first page of 50 clusters, and a filtered one) next to each other. Bounded in count and
time; talks only to 127.0.0.1.

    .venv/bin/python bench/server_bench.py [--clusters 1000] [--requests 3000] [--concurrency 16]

Goals on a 2-core machine: the API at least 300 requests/s with p99 under 100 ms; the fleet
page of 1,000 clusters at least 100 pages/s with p99 under 150 ms.

The server checks drift on its own soon after it starts (``[drift] interval``, 5 min by
default): the load starts once that first scheduled check is done, so every path is measured
in the same steady state between two checks (the check's duration is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if importlib.util.find_spec("lamina") is None:
    sys.path.insert(0, str(REPO_ROOT / "src"))

import httpx  # noqa: E402

from bench import fleetgen  # noqa: E402

LAMINA = str(Path(sys.executable).parent / "lamina")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def load(url: str, token: str, total: int, concurrency: int, deadline: float) -> list[float]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    cookies = {"lamina_token": token}
    remaining = total

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            start = time.perf_counter()
            response = await client.get(url, headers=headers, cookies=cookies)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def run_wrk(wrk: str, url: str, token: str, connections: int, seconds: float) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 in ms from a bounded wrk run (after a short warm-up)."""
    auth = ["-H", f"Authorization: Bearer {token}", "-H", f"Cookie: lamina_token={token}"]
    subprocess.run([wrk, "-t1", "-c2", "-d1s", *auth, url], capture_output=True, check=True)
    done = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", *auth, url],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = p50 = p99 = 0.0
    for line in done.stdout.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rate = float(parts[1])
        elif parts[:1] == ["50%"]:
            p50 = _ms(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = _ms(parts[1])
        elif "Non-2xx" in line:
            raise RuntimeError(f"{url}: {line.strip()}")
    return rate, p50, p99


def first_check_seconds(base: str, deadline: float) -> float | None:
    """Waits for the server's first scheduled drift check; its duration (None if none came)."""
    while time.monotonic() < deadline:
        figures = dict(
            line.split(maxsplit=1)
            for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines()
            if line.startswith("lamina_drift_check_duration_seconds_")
        )
        if float(figures.get("lamina_drift_check_duration_seconds_count", "0")) >= 1:
            return float(figures["lamina_drift_check_duration_seconds_sum"])
        time.sleep(0.5)
    return None


def verdict(rate: float, p99: float, least_rate: float, most_p99: float) -> str:
    """``ok`` when both goals are met, else what is missed."""
    missed = []
    if rate < least_rate:
        missed.append(f"rate {rate / least_rate:.2f} of goal")
    if p99 >= most_p99:
        missed.append(f"p99 {p99 / most_p99:.2f}x goal")
    return "ok" if not missed else "missed: " + ", ".join(missed)


def _ms(text: str) -> float:
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0, help="stop each run after this long")
    args = parser.parse_args(argv)
    root = REPO_ROOT / "bench" / "out" / f"server-fleet-{args.clusters}"
    fleetgen.generate(root, 4, args.clusters, 200, 2048, 1)
    shutil.rmtree(root / ".lamina", ignore_errors=True)
    env = {**os.environ, "LAMINA_TOKENS_FILE": str(root / ".lamina" / "tokens.toml")}
    token = subprocess.run(
        [LAMINA, "--repo", str(root), "token", "create", "bench@example.com", "--role", "admin"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    # one drift check so /api/v1/drift has a row per cluster to return
    subprocess.run(
        [LAMINA, "--repo", str(root), "drift", "--json"], capture_output=True, env=env, check=False
    )
    port = free_port()
    server = subprocess.Popen(
        [LAMINA, "--repo", str(root), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        wrk = shutil.which("wrk")
        tool = (
            "wrk (Debian's package)"
            if wrk
            else "the Python client (install wrk for a lighter load generator)"
        )
        print(f"fleet: {args.clusters} targets; concurrency {args.concurrency}; load from {tool}")
        checked = first_check_seconds(base, time.monotonic() + 180)
        print(
            "the server's first scheduled drift check: "
            + (f"{checked:.1f} s; measuring after it" if checked else "none within 180 s; measuring anyway")
        )
        print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        print(f"{'path':<28} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8}  {'goal':<24} verdict")
        httpx.get(f"{base}/", headers={"Authorization": f"Bearer {token}"}, timeout=120)  # first build
        for path, least, most in (
            ("/api/v1/drift", 300.0, 100.0),
            ("/", 100.0, 150.0),
            ("/?status=drifted&page=2", 100.0, 150.0),
        ):
            goal = f">= {least:.0f}/s, p99 < {most:.0f} ms"
            if wrk:
                rate, p50, p99 = run_wrk(wrk, base + path, token, args.concurrency, min(args.seconds, 10.0))
                print(f"{path:<28} {rate:>11.0f} {p50:>8.1f} {p99:>8.1f}  {goal:<24} ", end="")
                print(verdict(rate, p99, least, most))
                continue
            asyncio.run(load(base + path, token, 50, 4, time.monotonic() + 10))  # warm up
            start = time.perf_counter()
            latencies = asyncio.run(
                load(base + path, token, args.requests, args.concurrency, time.monotonic() + args.seconds)
            )
            wall = time.perf_counter() - start
            latencies.sort()
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
            rate = len(latencies) / wall
            print(f"{path:<28} {rate:>11.0f} {p50:>8.1f} {p99:>8.1f}  {goal:<24} ", end="")
            print(verdict(rate, p99, least, most))
        print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
