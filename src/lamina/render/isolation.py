"""The objects that fence an environment's namespace: ``[environments.<env>.isolation]``.

For every cluster of the environment: the ``Namespace`` (labelled ``lamina.dev/environment``
and with the Pod Security Standard it enforces), a ``ResourceQuota`` (``quota``), a
``LimitRange`` (``limits``), and with ``network`` two ``NetworkPolicy`` objects: one denying
all traffic of the namespace's pods, one allowing what the table declares (``egress``,
``ingress_from``; ``same-namespace`` adds the namespace's own pods) and DNS to kube-system.

Each object carries ``lamina.dev/managed-hash``, the hash of what lamina manages in it (its
labels and spec), so drift can tell an object lamina wrote from git's earlier state (out of
sync) from one edited by hand (drifted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.core import hashing
from lamina.fleet.isolation_settings import Isolation, Peer

ANNOTATION_MANAGED = "lamina.dev/managed-hash"
POD_SECURITY = "pod-security.kubernetes.io"
ISOLATION_FILE = "isolation.yaml"
AUTOSCALER_FILE = "workload-autoscaler.yaml"
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def objects(
    fleet: str, namespace: str, isolation: Isolation, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The isolation objects of one cluster, in the order they are applied (Namespace first).

    Args:
        labels: lamina's labels (managed-by, environment, cluster) every object carries.
    """
    namespace_labels = {
        **labels,
        f"{POD_SECURITY}/enforce": isolation.pod_security,
        f"{POD_SECURITY}/audit": isolation.pod_security,
        f"{POD_SECURITY}/warn": isolation.pod_security,
    }
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": namespace_labels}}
    ]

    def namespaced(api: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        meta = {"name": f"{fleet}-{name}", "namespace": namespace, "labels": dict(labels)}
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}

    if isolation.quota:
        out.append(namespaced("v1", "ResourceQuota", "quota", {"hard": dict(isolation.quota)}))
    if isolation.limits:
        limit = {"type": "Container", **{kind: dict(values) for kind, values in isolation.limits.items()}}
        out.append(namespaced("v1", "LimitRange", "limits", {"limits": [limit]}))
    if isolation.network is not None:
        both = ["Ingress", "Egress"]
        out.append(
            namespaced(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "default-deny",
                {"podSelector": {}, "policyTypes": both},
            )
        )
        out.append(namespaced("networking.k8s.io/v1", "NetworkPolicy", "allow", _allow(isolation)))
    return [stamped(obj) for obj in out]


def _allow(isolation: Isolation) -> dict[str, Any]:
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = [
        {"to": [DNS_PEER], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    ]
    if isolation.network == "same-namespace":
        ingress.append({"from": [{"podSelector": {}}]})
        egress.append({"to": [{"podSelector": {}}]})
    ingress += [_rule("from", peer) for peer in isolation.ingress_from]
    egress += [_rule("to", peer) for peer in isolation.egress]
    spec: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": egress}
    if ingress:
        spec["ingress"] = ingress
    return spec


def _rule(direction: str, peer: Peer) -> dict[str, Any]:
    selector: dict[str, Any] = {}
    if peer.cidr is not None:
        selector["ipBlock"] = {"cidr": peer.cidr}
    if peer.namespace is not None:
        selector["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": peer.namespace}}
    if peer.labels:
        selector["podSelector"] = {"matchLabels": dict(peer.labels)}
    rule: dict[str, Any] = {direction: [selector]}
    if peer.ports:
        rule["ports"] = [{"protocol": peer.protocol, "port": port} for port in peer.ports]
    return rule


def key(obj: Mapping[str, Any]) -> str:
    """``Kind/name``: how drift and messages name an object."""
    return f"{obj['kind']}/{obj['metadata']['name']}"


def managed(obj: Mapping[str, Any], like: Mapping[str, Any]) -> dict[str, Any]:
    """What lamina manages of obj, shaped like the desired object ``like``: the labels ``like``
    sets and the spec fields it sets (other labels, status and fields the server fills in are not
    lamina's)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    wanted = (like.get("metadata") or {}).get("labels") or {}
    view: dict[str, Any] = {"labels": {k: labels[k] for k in sorted(wanted) if k in labels}}
    if "spec" in like:
        view["spec"] = _project(obj.get("spec"), like["spec"])
    return view


def _project(live: Any, desired: Any) -> Any:
    """live cut to the keys desired sets, so fields an API server fills in (a LimitRange's
    ``defaultRequest`` taken from its ``default``) are no difference. Lists are compared item by
    item and whole (a rule added by hand is one), an empty table as it is (``podSelector: {}``
    must stay empty)."""
    if isinstance(live, dict) and isinstance(desired, dict) and desired:
        return {key: _project(live.get(key), value) for key, value in desired.items()}
    if isinstance(live, list) and isinstance(desired, list) and len(live) == len(desired):
        return [_project(item, want) for item, want in zip(live, desired, strict=True)]
    return live


def managed_hash(obj: Mapping[str, Any]) -> str:
    """The short hash of what lamina manages in a desired object."""
    return hashing.short_hash(hashing.config_hash(managed(obj, obj)))


def stamped(obj: dict[str, Any]) -> dict[str, Any]:
    """obj with its ``lamina.dev/managed-hash`` annotation."""
    obj["metadata"]["annotations"] = {ANNOTATION_MANAGED: managed_hash(obj)}
    return obj


def file_name(obj: Mapping[str, Any]) -> str:
    """The file of a cluster folder holding obj: ``isolation.yaml`` for the namespace's fences
    (one YAML stream), ``workload-autoscaler.yaml`` for the HorizontalPodAutoscaler."""
    return AUTOSCALER_FILE if obj["kind"] == "HorizontalPodAutoscaler" else ISOLATION_FILE


def is_object_file(name: str) -> bool:
    """True for a file of a cluster folder that holds these objects (not ConfigMap data)."""
    return name in (ISOLATION_FILE, AUTOSCALER_FILE)
