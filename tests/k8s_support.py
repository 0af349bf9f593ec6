"""Emulated Kubernetes clusters for tests and the bench: kmock's KubernetesEmulator over real HTTP.

kmock's emulator is asyncio; lamina's client is synchronous. :class:`EmulatedFleet` runs one
event loop in a background thread that serves any number of emulators, each on its own
127.0.0.1 port, and writes a kubeconfig with one context per cluster. Tests talk to lamina
as a user would and look at the emulators' objects afterwards.

:class:`FaultyEmulator` adds what a real API server does and the emulator lacks (label
selectors on list, ``creationTimestamp`` and ``managedFields`` on writes, immutable
ConfigMaps) and the faults tests inject (a status code with ``Retry-After`` for the next N
requests, added latency).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.test_utils
import aiohttp.web
import attrs
import kmock
from kmock._internal import enums, rendering

import port_support

RESOURCES: dict[str, dict[str, Any]] = {
    "v1/configmaps": {"namespaced": True, "kind": "ConfigMap", "singular": "configmap"},
    "v1/secrets": {"namespaced": True, "kind": "Secret", "singular": "secret"},
    "v1/namespaces": {"namespaced": False, "kind": "Namespace", "singular": "namespace"},
    "apps/v1/deployments": {"namespaced": True, "kind": "Deployment", "singular": "deployment"},
    "v1/resourcequotas": {"namespaced": True, "kind": "ResourceQuota", "singular": "resourcequota"},
    "v1/limitranges": {"namespaced": True, "kind": "LimitRange", "singular": "limitrange"},
    "networking.k8s.io/v1/networkpolicies": {
        "namespaced": True,
        "kind": "NetworkPolicy",
        "singular": "networkpolicy",
    },
    "autoscaling/v2/horizontalpodautoscalers": {
        "namespaced": True,
        "kind": "HorizontalPodAutoscaler",
        "singular": "horizontalpodautoscaler",
    },
}
VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-kmock",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

CONFIGMAPS = kmock.resource("", "v1", "configmaps")
SECRETS = kmock.resource("", "v1", "secrets")
NAMESPACES = kmock.resource("", "v1", "namespaces")
DEPLOYMENTS = kmock.resource("apps", "v1", "deployments")
RESOURCEQUOTAS = kmock.resource("", "v1", "resourcequotas")
LIMITRANGES = kmock.resource("", "v1", "limitranges")
NETWORKPOLICIES = kmock.resource("networking.k8s.io", "v1", "networkpolicies")
HPAS = kmock.resource("autoscaling", "v2", "horizontalpodautoscalers")


@dataclass
class Fault:
    """Answer the next ``times`` matching requests with ``status`` (and Retry-After)."""

    status: int
    times: int = 1_000_000
    retry_after: float | None = None
    methods: tuple[str, ...] = ()  # empty: every method


def _matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@attrs.define(kw_only=True)
class FaultyEmulator(kmock.KubernetesEmulator):
    """The emulator plus real API-server behaviour tests rely on, and injectable faults."""

    latency: float = 0.0
    faults: list[Fault] = attrs.field(factory=list)
    served: int = 0
    namespaces: set[str] = attrs.field(factory=set)
    authorization: str | None = None
    """The ``Authorization`` header of the last request."""

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        self.authorization = raw_request.headers.get("Authorization")
        if raw_request.method == "POST" and raw_request.path.rstrip("/") == "/api/v1/namespaces":
            # kmock cannot parse this path (it expects a namespace after "namespaces/")
            body = json.loads(await raw_request.read())
            name = str(body.get("metadata", {}).get("name"))
            if name in self.namespaces:
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 409}
                return aiohttp.web.json_response(
                    {**status, "message": f"namespaces {name!r} already exists"}, status=409
                )
            self.namespaces.add(name)
            self.objects[(NAMESPACES, None, name)] = body
            return aiohttp.web.json_response(body, status=201)
        return await super().__call__(raw_request)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        self.served += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        for fault in self.faults:
            method = str(request.method.value if request.method else "").upper()
            if fault.times > 0 and (not fault.methods or method in fault.methods):
                fault.times -= 1
                headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                body = {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "code": fault.status,
                    "message": f"injected {fault.status}",
                }
                return aiohttp.web.json_response(body, status=fault.status, headers=headers)
        path = request.url.path
        if path.startswith("/api/v1/namespaces/") and path.count("/") == 4 and request.method == "PATCH":
            return self._patch_namespace(path.rsplit("/", 1)[1], request.data or {})
        if path.startswith("/api/v1/namespaces/") and path.count("/") == 4 and request.method == "GET":
            # kmock reads this cluster-scoped path as a namespace, not a Namespace object
            name = path.rsplit("/", 1)[1]
            key = (NAMESPACES, None, name)
            if key in self.objects and not self.objects[key].deleted:
                return aiohttp.web.json_response(json.loads(json.dumps(self.objects[key].raw)))
            if name in self.namespaces:
                return aiohttp.web.json_response(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                )
            body = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": 404,
                "message": f"namespaces {name!r} not found",
            }
            return aiohttp.web.json_response(body, status=404)
        if path == "/version/":  # the client asks with a trailing slash
            return aiohttp.web.json_response(VERSION)
        if request.resource is not None and request.action == enums.action.CREATE:
            meta = request.data.setdefault("metadata", {})
            now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            meta.setdefault("creationTimestamp", now)
            manager = request.params.get("fieldManager", "unknown")
            meta["managedFields"] = [{"manager": manager, "operation": "Update", "time": now}]
        if (
            request.resource == CONFIGMAPS
            and request.action == enums.action.UPDATE
            and request.name is not None
        ):
            key = (CONFIGMAPS, request.namespace, request.name)
            immutable = (
                key in self.objects and not self.objects[key].deleted and self.objects[key].get("immutable")
            )
            if immutable and ({"data", "binaryData"} & set(request.data or {})):
                body = {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "code": 422,
                    "message": "field is immutable",
                }
                return aiohttp.web.json_response(body, status=422)
        if request.resource == DEPLOYMENTS and request.action == enums.action.UPDATE and request.name:
            return await self._patch_deployment(request)
        return await super()._handle(request)

    def _patch_namespace(self, name: str, patch: dict[str, Any]) -> aiohttp.web.StreamResponse:
        """PATCH of a Namespace (a cluster-scoped path kmock reads as a namespace), merged as a
        JSON merge patch; a namespace the cluster started with becomes an object on first write."""
        key = (NAMESPACES, None, name)
        if key not in self.objects or self.objects[key].deleted:
            if name not in self.namespaces:
                body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}
                return aiohttp.web.json_response(
                    {**body, "message": f"namespaces {name!r} not found"}, status=404
                )
            self.objects[key] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        stored = self.objects[key]
        stored.patch(patch)
        return aiohttp.web.json_response(json.loads(json.dumps(stored.raw)))

    async def _patch_deployment(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        """As an API server does: containers merged by name, and a change to a Deployment's spec
        bumps metadata.generation."""
        key = (DEPLOYMENTS, request.namespace, request.name)
        before = json.loads(json.dumps(self.objects[key].raw)) if key in self.objects else None
        pod = (((request.data or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        if before is not None and isinstance(pod.get("containers"), list):
            # a strategic merge: containers are merged by name, as the API server merges them
            live = before.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
            patched = {c.get("name"): c for c in pod["containers"]}
            merged = [{**c, **patched.pop(c.get("name"), {})} for c in live]
            pod["containers"] = merged + list(patched.values())
        response = await super()._handle(request)
        if before is None or key not in self.objects or self.objects[key].deleted:
            return response
        after = json.loads(json.dumps(self.objects[key].raw))
        if after.get("spec") != before.get("spec"):
            meta = after.setdefault("metadata", {})
            meta["generation"] = int(before.get("metadata", {}).get("generation") or 1) + 1
            self.objects[key].delete()
            self.objects[key].create(after)
        return response

    async def _serve_list(self, request: rendering.Request) -> Any:
        result = await super()._serve_list(request)
        selector = request.params.get("labelSelector")
        if selector:
            result["items"] = [
                item
                for item in result["items"]
                if _matches(selector, item.get("metadata", {}).get("labels") or {})
            ]
        return result


class TLSServer(aiohttp.test_utils.RawTestServer):
    """aiohttp's raw server listening with TLS (kmock's ``Server`` takes the class it starts);
    a subclass per server carries its context (:func:`tls_server`)."""

    context: ssl.SSLContext | None = None

    async def start_server(self, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any) -> None:
        await super().start_server(loop, ssl=self.context, **kwargs)


def tls_server(context: ssl.SSLContext) -> type[TLSServer]:
    """A :class:`TLSServer` class that serves with context."""
    return type("TLSServerWithContext", (TLSServer,), {"context": context})


class EmulatedFleet:
    """Emulated clusters served from one background event loop, and their kubeconfig."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.kubeconfig = folder / "kubeconfig.yaml"
        self.emulators: dict[str, FaultyEmulator] = {}
        self.urls: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stack: list[Any] = []

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=30)

    def add(
        self, name: str, namespace: str = "ai-agents", latency: float = 0.0, tls: ssl.SSLContext | None = None
    ) -> FaultyEmulator:
        """Start an emulated cluster with namespace; returns its emulator.

        Args:
            tls: serve HTTPS with this server context (its certificate must name 127.0.0.1).
        """

        async def start() -> tuple[FaultyEmulator, str]:
            emu = FaultyEmulator(latency=latency)
            await emu.__aenter__()
            for key, info in RESOURCES.items():
                emu.resources[key] = {**info, "verbs": VERBS}
            server = kmock.Server(
                emu, server_cls=tls_server(tls) if tls else aiohttp.test_utils.RawTestServer
            )
            await server.__aenter__()
            self._stack.append((emu, server))
            emu.namespaces.add(namespace)
            return emu, f"{'https' if tls else 'http'}://127.0.0.1:{server.port}"

        emu, url = self._run(start())
        self.emulators[name] = emu
        self.urls[name] = url
        self.write_kubeconfig()
        return emu

    def add_unreachable(self, name: str, how: str = "refused") -> None:
        """A context whose server cannot be reached: refused, dns, tls or timeout."""
        if how == "refused":
            url = f"http://127.0.0.1:{port_support.refusing_port()}"
        elif how == "dns":
            url = "https://no-such-cluster.invalid:6443"
        elif how == "tls":
            emu = self.add(f"{name}-plain")  # a plain-HTTP server spoken to over TLS
            del self.emulators[f"{name}-plain"]
            url = self.urls.pop(f"{name}-plain").replace("http://", "https://")
            self._tls_dummy = emu
        else:
            raise ValueError(how)
        self.urls[name] = url
        self.write_kubeconfig()

    def write_kubeconfig(self) -> None:
        """One context per cluster, named like the cluster; no credentials needed."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": next(iter(self.urls), ""),
            "clusters": [
                {"name": n, "cluster": {"server": u, "insecure-skip-tls-verify": True}}
                for n, u in self.urls.items()
            ],
            "users": [{"name": "tester", "user": {"token": "test-token"}}],
            "contexts": [{"name": n, "context": {"cluster": n, "user": "tester"}} for n in self.urls],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.write_text(json.dumps(config))

    # -- looking at and changing what runs -----------------------------------------------

    def objects(self, cluster: str, resource: Any, namespace: str = "ai-agents") -> dict[str, dict[str, Any]]:
        """Live objects of a resource by name (deleted ones left out)."""

        async def read() -> dict[str, dict[str, Any]]:
            emu = self.emulators[cluster]
            out = {}
            for (res, ns, name), obj in emu.objects.items():
                if res == resource and ns == namespace and not obj.deleted:
                    out[name] = json.loads(json.dumps(obj.raw))
            return out

        result: dict[str, dict[str, Any]] = self._run(read())
        return result

    def put(self, cluster: str, resource: Any, body: dict[str, Any], namespace: str = "ai-agents") -> None:
        """Create or replace an object directly in the emulator (a hand edit, a fixture)."""

        async def write() -> None:
            emu = self.emulators[cluster]
            key = (resource, namespace if resource != NAMESPACES else None, body["metadata"]["name"])
            if key in emu.objects and not emu.objects[key].deleted:
                emu.objects[key].delete()
                emu.objects[key].create(body)
            else:
                emu.objects[key] = body

        self._run(write())

    def hand_edit(self, cluster: str, name: str, data: dict[str, str], manager: str = "kubectl-edit") -> None:
        """Change a ConfigMap's data as ``kubectl edit`` would (recorded in managedFields)."""
        live = self.objects(cluster, CONFIGMAPS)[name]
        live["data"] = {**live.get("data", {}), **data}
        now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        live["metadata"]["managedFields"] = [
            *live["metadata"].get("managedFields", []),
            {"manager": manager, "operation": "Update", "time": now},
        ]
        self.put(cluster, CONFIGMAPS, live)

    def close(self) -> None:
        """Stop every server and the loop."""

        async def stop() -> None:
            for emu, server in reversed(self._stack):
                await server.__aexit__(None, None, None)
                await emu.__aexit__(None, None, None)

        try:
            self._run(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> EmulatedFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_names(prefix: str, count: int) -> Iterator[str]:
    """prefix-000, prefix-001, ..."""
    for index in range(count):
        yield f"{prefix}-{index:03d}"
