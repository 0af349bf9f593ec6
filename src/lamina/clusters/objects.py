"""The objects lamina keeps on an API cluster beside the ConfigMap: the isolation of the
namespace (Namespace, ResourceQuota, LimitRange, NetworkPolicy) and the workload's
HorizontalPodAutoscaler.

Each is read, compared on what lamina manages in it (:func:`lamina.render.isolation.managed`:
its lamina labels and its spec; other labels and server-set fields are left alone), and
created or patched back to what git says. Applying twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lamina.clusters import faults, live
from lamina.clusters.connection import Connection
from lamina.clusters.outcomes import FIELD_MANAGER
from lamina.render import isolation


@dataclass(frozen=True)
class _Api:
    read: str
    create: str
    patch: str
    group: str  # the Connection attribute holding the typed client
    namespaced: bool = True


_APIS = {
    "Namespace": _Api("read_namespace", "create_namespace", "patch_namespace", "core", namespaced=False),
    "ResourceQuota": _Api(
        "read_namespaced_resource_quota",
        "create_namespaced_resource_quota",
        "patch_namespaced_resource_quota",
        "core",
    ),
    "LimitRange": _Api(
        "read_namespaced_limit_range", "create_namespaced_limit_range", "patch_namespaced_limit_range", "core"
    ),
    "NetworkPolicy": _Api(
        "read_namespaced_network_policy",
        "create_namespaced_network_policy",
        "patch_namespaced_network_policy",
        "networking",
    ),
    "HorizontalPodAutoscaler": _Api(
        "read_namespaced_horizontal_pod_autoscaler",
        "create_namespaced_horizontal_pod_autoscaler",
        "patch_namespaced_horizontal_pod_autoscaler",
        "autoscaling",
    ),
}
KINDS = tuple(_APIS)


def _method(conn: Connection, kind: str, verb: str) -> Any:
    api = _APIS[kind]
    return getattr(getattr(conn, api.group), getattr(api, verb))


def read(conn: Connection, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The live copy of a desired object, or None when it does not exist.

    Raises:
        ClusterFault: the cluster could not be asked.
    """
    kind, name = obj["kind"], obj["metadata"]["name"]
    args = (name,) if not _APIS[kind].namespaced else (name, conn.namespace)
    try:
        return live.as_json(conn.call(_method(conn, kind, "read"), *args, _preload_content=False))
    except faults.ClusterFault as exc:
        if exc.kind is faults.FaultKind.NOT_FOUND:
            return None
        raise


def read_all(conn: Connection, desired: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """``Kind/name`` -> live copy (None: absent) of each desired object."""
    return {isolation.key(obj): read(conn, obj) for obj in desired}


def same(live_obj: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """True when what lamina manages in the live object is what git says."""
    return live_obj is not None and isolation.managed(live_obj, desired) == isolation.managed(
        desired, desired
    )


def merge_patch(live_value: Any, desired: Any) -> Any:
    """A merge patch turning live_value into desired (keys only live has are set to null)."""
    if not isinstance(live_value, dict) or not isinstance(desired, dict):
        return desired
    patch: dict[str, Any] = {key: None for key in live_value if key not in desired}
    for key, value in desired.items():
        if key not in live_value or live_value[key] != value:
            patch[key] = merge_patch(live_value.get(key), value)
    return patch


def ship(conn: Connection, desired: Sequence[Mapping[str, Any]], dry_run: bool, actions: list[str]) -> bool:
    """Create or patch each desired object that differs; True when something was written.

    Raises:
        ClusterFault: the cluster refused or could not be asked.
    """
    wrote = False
    for obj in desired:
        kind, name = obj["kind"], obj["metadata"]["name"]
        found = read(conn, obj)
        if same(found, obj):
            continue
        what = f"{kind} {name}"
        if found is None:
            action, method = f"create {what}", _method(conn, kind, "create")
            args: tuple[Any, ...] = (
                (dict(obj),) if not _APIS[kind].namespaced else (conn.namespace, dict(obj))
            )
        else:
            body: dict[str, Any] = {"metadata": {"labels": obj["metadata"]["labels"]}}
            body["metadata"]["annotations"] = dict(obj["metadata"].get("annotations") or {})
            if "spec" in obj:
                body["spec"] = merge_patch(found.get("spec"), obj["spec"])
            action, method = f"update {what}", _method(conn, kind, "patch")
            args = (name, body) if not _APIS[kind].namespaced else (name, conn.namespace, body)
        if dry_run:
            actions.append(f"would {action}")
            continue
        actions.append(action)
        conn.call(method, *args, field_manager=FIELD_MANAGER, _preload_content=False)
        wrote = True
    return wrote
