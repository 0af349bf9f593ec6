"""Workload sizing from the config layers: ``[workload]`` replicas, resources and autoscaling.

::

    [workload]                       # base/, an overlay or a cluster layer, with reasons
    replicas = 3
    resources = {requests = {cpu = "250m", memory = "512Mi"}, limits = {memory = "1Gi"}}
    autoscaling = {min = 3, max = 10, cpu = 70}     # HorizontalPodAutoscaler (autoscaling/v2)

These are config values like any other (``lamina explain workload.replicas`` shows which layer
set them and why). They reach the ``[render] workload`` as part of its strategic-merge patch
(``spec.replicas``, the container's ``resources``) and, with ``autoscaling``, as a
HorizontalPodAutoscaler that owns the replica count (the patch then leaves replicas alone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lamina.core import hashing
from lamina.core.paths import KeyPath, format_path
from lamina.errors import InputError
from lamina.resolve.resolved import ResolvedConfig

KEY = "workload"
KINDS = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[KMGTPE]i|[mkMGTPE])?\Z")
_RESOURCE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")


@dataclass(frozen=True)
class Autoscaling:
    """``autoscaling = {min, max, cpu}``: replicas between min and max at cpu % average use."""

    min: int
    max: int
    cpu: int


@dataclass(frozen=True)
class Sizing:
    """A target's ``[workload]`` table, checked."""

    replicas: int | None = None
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    autoscaling: Autoscaling | None = None

    @property
    def empty(self) -> bool:
        """True when the layers size nothing."""
        return self.replicas is None and not self.resources and self.autoscaling is None


def sizing(config: ResolvedConfig) -> Sizing:
    """The target's sizing (empty without a ``[workload]`` table).

    Raises:
        InputError: a value of the wrong shape, naming the layer file:line that set it.
    """
    table = config.data.get(KEY)
    if table is None:
        return Sizing()

    def fail(path: KeyPath, message: str) -> InputError:
        full = (KEY, *path)
        return InputError(f"{config.target}: {format_path(full)} {message}", config.place_of(full))

    if not isinstance(table, Mapping):
        raise fail((), "must be a table (replicas, resources, autoscaling)")
    unknown = sorted(set(table) - {"replicas", "resources", "autoscaling"})
    if unknown:
        raise fail((unknown[0],), "is not a workload setting (known: autoscaling, replicas, resources)")
    replicas = table.get("replicas")
    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0):
        raise fail(("replicas",), "must be a whole number, 0 or more")
    resources: dict[str, dict[str, str]] = {}
    raw = table.get("resources", {})
    if not isinstance(raw, Mapping):
        raise fail(("resources",), "must be a table with requests and/or limits")
    for kind, values in raw.items():
        if kind not in ("requests", "limits"):
            raise fail(("resources", kind), "is not requests or limits")
        if not isinstance(values, Mapping):
            raise fail(("resources", kind), "must be a table of resource = quantity")
        resources[kind] = {}
        for name, value in values.items():
            text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
            if not _RESOURCE.match(str(name)) or not isinstance(text, str) or not _QUANTITY.match(text):
                raise fail(("resources", kind, name), 'must be a Kubernetes quantity (like "500m", "2Gi", 4)')
            resources[kind][str(name)] = text
    scaling = table.get("autoscaling")
    autoscaling = None
    if scaling is not None:
        if not isinstance(scaling, Mapping) or set(scaling) - {"min", "max", "cpu"} or "max" not in scaling:
            raise fail(("autoscaling",), "must be {min = N, max = N, cpu = PERCENT} (max required)")
        numbers = {key: scaling.get(key, default) for key, default in (("min", 1), ("max", 0), ("cpu", 80))}
        for key, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise fail(("autoscaling", key), "must be a positive whole number")
        if numbers["min"] > numbers["max"]:
            raise fail(("autoscaling", "min"), f"({numbers['min']}) is above max ({numbers['max']})")
        autoscaling = Autoscaling(numbers["min"], numbers["max"], numbers["cpu"])
    return Sizing(replicas, resources, autoscaling)


def pod_fields(size: Sizing, container: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(workload spec fields, the container entry) the patch sets for size."""
    spec: dict[str, Any] = {}
    if size.replicas is not None and size.autoscaling is None:  # an autoscaler owns replicas
        spec["replicas"] = size.replicas
    entry: dict[str, Any] = {}
    if size.resources:
        entry = {"name": container, "resources": {k: dict(v) for k, v in size.resources.items()}}
    return spec, entry


def autoscaler(
    fleet: str, workload: str, namespace: str, size: Sizing, labels: Mapping[str, str]
) -> dict[str, Any] | None:
    """The HorizontalPodAutoscaler (autoscaling/v2) of the workload, or None without autoscaling."""
    if size.autoscaling is None:
        return None
    kind, _, name = workload.partition("/")
    scaling = size.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"{fleet}-{name}", "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": KINDS[kind.lower()], "name": name},
            "minReplicas": scaling.min,
            "maxReplicas": scaling.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": scaling.cpu},
                    },
                }
            ],
        },
    }


ANNOTATION_SIZING = "lamina.dev/sizing-hash"
"""On the workload: the hash of the sizing lamina last patched in (drift tells a ``kubectl scale``
from a change of git not applied yet)."""


def wanted(size: Sizing) -> dict[str, Any]:
    """The fields sizing sets, as drift compares them: ``replicas`` (unless an autoscaler owns
    them) and the container's ``resources``."""
    spec, entry = pod_fields(size, "")
    out: dict[str, Any] = {}
    if "replicas" in spec:
        out["replicas"] = spec["replicas"]
    if entry:
        out["resources"] = entry["resources"]
    return out


def running(size: Sizing, body: Mapping[str, Any], container: str) -> dict[str, Any]:
    """The same fields of a live workload (absent ones as None)."""
    spec = body.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    entry: Mapping[str, Any] = next((c for c in containers if c.get("name") == container), {})
    out: dict[str, Any] = {}
    want = wanted(size)
    if "replicas" in want:
        out["replicas"] = spec.get("replicas")
    if "resources" in want:
        out["resources"] = entry.get("resources") or {}
    return out


def sizing_hash(view: Mapping[str, Any]) -> str:
    """The short hash of a sizing view."""
    return hashing.short_hash(hashing.config_hash(dict(view)))


def object_key(workload: str) -> str:
    """``Deployment/agent`` for ``deployment/agent``: how drift names the workload."""
    kind, _, name = workload.partition("/")
    return f"{KINDS[kind.lower()]}/{name}"


PATCH_FILE = "workload-patch.yaml"


def folder_patch(workload: str, size: Sizing, container: str) -> dict[str, Any] | None:
    """The strategic-merge patch a cluster folder's kustomization applies to the workload its
    ``[render] resources`` build (None when sizing sets nothing on the workload itself)."""
    spec, entry = pod_fields(size, container)
    kind, _, name = workload.partition("/")
    if not spec and not entry:
        return None
    if entry:
        spec["template"] = {"spec": {"containers": [entry]}}
    return {"apiVersion": "apps/v1", "kind": KINDS[kind.lower()], "metadata": {"name": name}, "spec": spec}
