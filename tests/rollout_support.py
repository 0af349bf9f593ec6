"""What rollout tests need besides emulated clusters: a Deployment controller that reports
rollouts the way Kubernetes' does, a small exporter of per-cluster agent metrics whose values
the test controls, and one real Prometheus (Debian's) scraping it for the whole session."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import port_support
from k8s_support import DEPLOYMENTS, EmulatedFleet

# -- the Deployment controller -----------------------------------------------------------------


class DeploymentController:
    """Watches every emulated cluster's Deployments and, ``delay`` seconds after a new
    generation appears, reports it rolled out (observedGeneration, updated/available replicas),
    as kube-controller-manager would. ``stuck`` clusters never finish rolling out."""

    def __init__(self, fleet: EmulatedFleet, delay: float = 0.1, namespace: str = "ai-agents") -> None:
        self.fleet = fleet
        self.delay = delay
        self.namespace = namespace
        self.stuck: set[str] = set()
        self._seen: dict[tuple[str, str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DeploymentController:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for cluster in list(self.fleet.emulators):
                if cluster in self.stuck:
                    continue
                for name, body in self.fleet.objects(cluster, DEPLOYMENTS, self.namespace).items():
                    generation = int(body.get("metadata", {}).get("generation") or 1)
                    status = body.get("status") or {}
                    if int(status.get("observedGeneration") or 0) >= generation:
                        continue
                    first = self._seen.setdefault((cluster, name, generation), time.monotonic())
                    if time.monotonic() - first < self.delay:
                        continue
                    replicas = int(body.get("spec", {}).get("replicas") or 1)
                    body["status"] = {
                        "observedGeneration": generation,
                        "replicas": replicas,
                        "updatedReplicas": replicas,
                        "readyReplicas": replicas,
                        "availableReplicas": replicas,
                    }
                    self.fleet.put(cluster, DEPLOYMENTS, body, self.namespace)


def deployment(
    name: str = "agent", configmap: str = "agent-config-initial", replicas: int = 2
) -> dict[str, Any]:
    """A rolled-out Deployment mounting configmap as its ``agent-config`` volume."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ai-agents", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": name, "image": "agent:1"}],
                    "volumes": [{"name": "agent-config", "configMap": {"name": configmap}}],
                },
            },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        },
    }


# -- the exporter ------------------------------------------------------------------------------

Samples = Callable[[], dict[str, dict[str, float]]]
"""cluster -> metric (a name, optionally with more labels: ``calls_total{status="ok"}``) -> value,
asked at every scrape."""


class Exporter:
    """Serves ``/metrics`` in Prometheus' text format on loopback; what it serves is
    ``self.samples()`` at the moment of each scrape (a test sets it)."""

    def __init__(self) -> None:
        self.samples: Samples = dict
        self.scrapes = 0
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                exporter.scrapes += 1
                lines = []
                for cluster, metrics in sorted(exporter.samples().items()):
                    for metric, value in sorted(metrics.items()):
                        name, _, more = metric.partition("{")  # 'calls_total{status="ok"}': more labels
                        labels = f'cluster="{cluster}"' + ("," + more.rstrip("}") if more else "")
                        lines.append(f"{name}{{{labels}}} {value!r}")
                body = ("\n".join(lines) + "\n").encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except BrokenPipeError:  # Prometheus gave up on a slow scrape; it asks again
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        sock = port_support.bound_socket()
        self.port = port_support.port_of(sock)
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", self.port), Handler, bind_and_activate=False
        )
        self.server.socket.close()
        self.server.socket = sock
        self.server.server_activate()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PrometheusServer:
    """Debian's prometheus on 127.0.0.1 with a throwaway config and TSDB, scraping exporter
    every 250 ms."""

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter
        self.folder = Path(tempfile.mkdtemp(prefix="lamina-prometheus-"))
        config = {
            "global": {"scrape_interval": "250ms", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "agents",
                    "honor_labels": True,
                    "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
                }
            ],
        }
        (self.folder / "prometheus.yml").write_text(json.dumps(config))
        self._log = (self.folder / "prometheus.log").open("wb")
        for _ in range(5):
            self.port = port_support.free_port()
            self.process = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self.folder / 'prometheus.yml'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    f"--storage.tsdb.path={self.folder / 'data'}",
                    "--query.lookback-delta=1s",
                ],
                stdout=subprocess.DEVNULL,
                stderr=self._log,
            )
            self.url = f"http://127.0.0.1:{self.port}"
            if self._ready():
                return
            self.process.kill()
            self.process.wait()
        self._log.close()
        raise RuntimeError(
            f"prometheus did not start: {(self.folder / 'prometheus.log').read_text()[-2000:]}"
        )

    def _ready(self) -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return port_support.listens(self.process.pid, self.port)
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def value(self, query: str) -> list[Any]:
        """What Prometheus answers to query now (its result list)."""
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=5).json()
        result: list[Any] = body["data"]["result"]
        return result

    def wait_for(self, query: str, check: Callable[[list[Any]], bool], timeout: float = 15) -> None:
        """Poll until check(answer) holds (data has been scraped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.value(query)):
                return
            time.sleep(0.1)
        raise AssertionError(f"prometheus never answered {query!r} as expected: {self.value(query)}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[PrometheusServer]:
    """One real Prometheus for the session, scraping one exporter (tests set its samples)."""
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed (make setup installs it)")
    exporter = Exporter()
    server = PrometheusServer(exporter)
    try:
        yield server
    finally:
        server.close()
        exporter.close()
