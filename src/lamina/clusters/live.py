"""What runs: the ConfigMap lamina applied to a cluster (a directory cluster's folder is read by
:mod:`lamina.clusters.directory`).

Label selectors are sent to the server *and* checked on what comes back, so a server (or a
proxy, or an emulator) that ignores the selector can never make lamina touch someone
else's ConfigMap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lamina.clusters import faults
from lamina.clusters.connection import Connection
from lamina.render import configmaps
from lamina.render.configmaps import RenderedConfig

ANNOTATION_APPLIED_AT = "lamina.dev/applied-at"
VOLUME = "agent-config"


@dataclass(frozen=True)
class LiveConfig:
    """The config that runs on one cluster.

    Attributes:
        name: the ConfigMap's name (for a directory cluster: the name its kustomization generates).
        data: the ConfigMap's data (for a directory cluster: the files of the folder, without
            kustomization.yaml).
        labels: its labels (for a directory cluster: those of its configMapGenerator).
        changed_by: the field manager of the newest write, where the server records it.
        changed_at: when that write happened.
        where: ``configmap NS/NAME`` or the folder.
    """

    name: str | None
    data: Mapping[str, str]
    labels: Mapping[str, str]
    where: str
    changed_by: str | None = None
    changed_at: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    revision: str | None = None
    """The git revision lamina rendered it from (its ``lamina.dev/revision`` annotation)."""
    base_revision: str | None = None
    """The revision of base/ it was rendered with (``lamina.dev/base-revision``)."""
    objects: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    """``Kind/name`` -> the live copy (None: absent) of each other object lamina renders for the
    target (isolation, HorizontalPodAutoscaler)."""


def target_selector(rendered: RenderedConfig) -> dict[str, str]:
    """The labels every lamina ConfigMap of rendered's target carries."""
    return {
        key: rendered.labels[key]
        for key in (configmaps.MANAGED_BY, configmaps.LABEL_ENVIRONMENT, configmaps.LABEL_CLUSTER)
    }


def list_target_configmaps(conn: Connection, rendered: RenderedConfig) -> list[dict[str, Any]]:
    """Every lamina ConfigMap of the target, newest apply first."""
    wanted = target_selector(rendered)
    selector = ",".join(f"{k}={v}" for k, v in wanted.items())
    response = conn.call(
        conn.core.list_namespaced_config_map, conn.namespace, label_selector=selector, _preload_content=False
    )
    items = _json(response).get("items", [])
    mine = [
        item
        for item in items
        if all((item.get("metadata", {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
    ]
    return sorted(mine, key=applied_at, reverse=True)


def applied_at(item: Mapping[str, Any]) -> str:
    """When lamina last applied the ConfigMap (else when it was created), for ordering."""
    meta = item.get("metadata", {})
    return str(
        (meta.get("annotations") or {}).get(ANNOTATION_APPLIED_AT) or meta.get("creationTimestamp") or ""
    )


def read_configmap(conn: Connection, name: str) -> dict[str, Any] | None:
    """One ConfigMap as plain JSON, or None when it does not exist."""
    try:
        return _json(
            conn.call(conn.core.read_namespaced_config_map, name, conn.namespace, _preload_content=False)
        )
    except faults.ClusterFault as exc:
        if exc.kind is faults.FaultKind.NOT_FOUND:
            return None
        raise


def read_workload(conn: Connection, workload: str) -> dict[str, Any] | None:
    """The ``kind/name`` workload as plain JSON, or None when it does not exist."""
    kind, _, name = workload.partition("/")
    readers = {
        "deployment": conn.apps.read_namespaced_deployment,
        "statefulset": conn.apps.read_namespaced_stateful_set,
        "daemonset": conn.apps.read_namespaced_daemon_set,
    }
    try:
        return _json(conn.call(readers[kind.lower()], name, conn.namespace, _preload_content=False))
    except faults.ClusterFault as exc:
        if exc.kind is faults.FaultKind.NOT_FOUND:
            return None
        raise


@dataclass(frozen=True)
class Rollout:
    """How far a workload has rolled out, read from its status as its controller reports it.

    Attributes:
        done: the controller saw the newest spec and every desired replica is updated and
            available (none of the old ones left).
        summary: ``2/3 updated, 1/3 available`` for people.
    """

    done: bool
    summary: str


def workload_rollout(workload: Mapping[str, Any]) -> Rollout:
    """Whether a Deployment (StatefulSet, DaemonSet) has rolled out its newest spec."""
    meta, spec, status = workload.get("metadata", {}), workload.get("spec", {}), workload.get("status") or {}
    kind = str(workload.get("kind", "Deployment"))
    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
        available = int(status.get("numberAvailable") or 0)
        total = int(status.get("currentNumberScheduled") or 0)
    else:
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        updated = int(status.get("updatedReplicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        total = int(status.get("replicas") or 0)
    seen = observed >= generation
    done = seen and updated == desired and available == desired and total == desired
    summary = f"{updated}/{desired} updated, {available}/{desired} available"
    if total > desired:
        summary += f", {total - desired} old"
    if not seen:
        summary += f" (generation {generation} not observed yet)"
    return Rollout(done, summary)


def workload_configmap(workload: Mapping[str, Any]) -> str | None:
    """The ConfigMap name the workload's ``agent-config`` volume points at."""
    volumes = workload.get("spec", {}).get("template", {}).get("spec", {}).get("volumes") or []
    for volume in volumes:
        if volume.get("name") == VOLUME:
            name = (volume.get("configMap") or {}).get("name")
            return str(name) if name else None
    return None


def read_kubernetes(conn: Connection, rendered: RenderedConfig, workload: str | None) -> LiveConfig | None:
    """The ConfigMap that runs: the one the workload mounts, else the newest lamina applied."""
    chosen: dict[str, Any] | None = None
    if workload:
        body = read_workload(conn, workload)
        name = workload_configmap(body) if body else None
        if name:
            chosen = read_configmap(conn, name)
    if chosen is None:
        items = list_target_configmaps(conn, rendered)
        chosen = items[0] if items else None
    if chosen is None:
        return None
    meta = chosen.get("metadata", {})
    manager, when = _last_writer(meta.get("managedFields") or [])
    return LiveConfig(
        name=meta.get("name"),
        data=dict(chosen.get("data") or {}),
        labels=dict(meta.get("labels") or {}),
        where=f"configmap {conn.namespace}/{meta.get('name')}",
        changed_by=manager,
        changed_at=when,
        revision=(meta.get("annotations") or {}).get(configmaps.ANNOTATION_REVISION),
        base_revision=(meta.get("annotations") or {}).get(configmaps.ANNOTATION_BASE),
    )


def _last_writer(entries: list[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    timed = [e for e in entries if e.get("time")]
    if not timed:
        return None, None
    newest = max(timed, key=lambda e: str(e["time"]))
    return (str(newest["manager"]) if newest.get("manager") else None), str(newest["time"])


def as_json(response: Any) -> dict[str, Any]:
    """An API answer read with ``_preload_content=False`` as plain JSON."""
    return _json(response)


def _json(response: Any) -> dict[str, Any]:
    import json

    raw = response.data if hasattr(response, "data") else response
    result: dict[str, Any] = json.loads(raw)
    return result
