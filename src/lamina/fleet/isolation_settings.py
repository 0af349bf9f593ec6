"""``[environments.<env>.isolation]``: what fences an environment's namespace on every cluster.

::

    [environments.production.isolation]
    pod_security = "restricted"              # Pod Security Standard enforced (default restricted)
    quota  = {"requests.cpu" = "8", "limits.memory" = "16Gi", pods = 40}    # ResourceQuota hard
    limits = {cpu = "500m", memory = "512Mi"}                                # LimitRange defaults
    # or: limits = {default = {...}, default_request = {...}, max = {...}, min = {...}}
    network = "deny-all"                     # or "same-namespace"
    egress = [{cidr = "10.0.0.0/8", ports = [443]}, {namespace = "observability", ports = [4317]}]
    ingress_from = [{namespace = "gateway", labels = {app = "envoy"}, ports = [8080]}]

Rendered by :mod:`lamina.render.isolation`. An environment without the table inherits the one
of the environment it ``extends``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from typing import Any

import msgspec

from lamina.core.names import is_dns_label
from lamina.fleet.tables import TableReader
from lamina.source.documents import Document

POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")
NETWORK_MODES = ("deny-all", "same-namespace")
LIMIT_KINDS = {"default": "default", "default_request": "defaultRequest", "max": "max", "min": "min"}
KEYS = ("pod_security", "quota", "limits", "network", "egress", "ingress_from")
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[KMGTPE]i|[mkMGTPE])?\Z")
_RESOURCE_NAME = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_LABEL_KEY = _RESOURCE_NAME
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")


class Peer(msgspec.Struct, frozen=True):
    """One allowed peer of a NetworkPolicy rule: a CIDR, or a namespace and/or pod labels."""

    cidr: str | None = None
    namespace: str | None = None
    labels: Mapping[str, str] = msgspec.field(default_factory=dict)
    ports: tuple[int, ...] = ()
    protocol: str = "TCP"

    def plain(self) -> dict[str, Any]:
        """A plain dict (for parity and messages)."""
        out: dict[str, Any] = {}
        if self.cidr:
            out["cidr"] = self.cidr
        if self.namespace:
            out["namespace"] = self.namespace
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.ports:
            out["ports"] = list(self.ports)
        if self.protocol != "TCP":
            out["protocol"] = self.protocol
        return out


class Isolation(msgspec.Struct, frozen=True):
    """The isolation of one environment's namespace."""

    pod_security: str = "restricted"
    quota: Mapping[str, str] = msgspec.field(default_factory=dict)
    limits: Mapping[str, Mapping[str, str]] = msgspec.field(default_factory=dict)
    """LimitRange container limits by kind (``default``, ``defaultRequest``, ``max``, ``min``)."""
    network: str | None = None
    egress: tuple[Peer, ...] = ()
    ingress_from: tuple[Peer, ...] = ()

    def plain(self) -> dict[str, Any]:
        """Every setting as plain values, keyed as in lamina.toml (parity compares these)."""
        return {
            "pod_security": self.pod_security,
            "quota": dict(self.quota),
            "limits": {kind: dict(values) for kind, values in self.limits.items()},
            "network": self.network,
            "egress": [peer.plain() for peer in self.egress],
            "ingress_from": [peer.plain() for peer in self.ingress_from],
        }


def load(doc: Document, environments: Collection[str]) -> Mapping[str, Isolation]:
    """The isolation of every environment that has one (its own or its ``extends`` parent's).

    Args:
        environments: the names, or name -> Environment (then ``extends`` is followed).

    Raises:
        FleetError: an unknown key, a bad quantity, mode, CIDR, port or name, at its file:line.
    """
    own: dict[str, Isolation] = {}
    envs = doc.data.get("environments", {})
    for env in environments:
        table = envs.get(env) if isinstance(envs, dict) else None
        if isinstance(table, dict) and "isolation" in table:
            own[env] = _read(TableReader(doc, ("environments", env, "isolation"), KEYS), env)
    found: dict[str, Isolation] = {}
    parents: dict[str, str | None] = {}
    if isinstance(environments, Mapping):
        parents = {name: getattr(env, "extends", None) for name, env in environments.items()}
    for env in environments:
        current: str | None = env
        while current is not None:
            if current in own:
                found[env] = own[current]
                break
            current = parents.get(current)
    return found


def _read(table: TableReader, env: str) -> Isolation:
    where = f"[environments.{env}.isolation]"
    level = table.text("pod_security", "restricted")
    if level not in POD_SECURITY_LEVELS:
        raise table.fail(
            f"{where} pod_security must be one of {', '.join(POD_SECURITY_LEVELS)}", ("pod_security",)
        )
    quota = _quantities(table, "quota", table.table.get("quota", {}), where)
    limits: dict[str, Mapping[str, str]] = {}
    raw_limits = table.table.get("limits", {})
    if not isinstance(raw_limits, dict):
        raise table.fail(f"{where} limits must be a table", ("limits",))
    if raw_limits and all(isinstance(v, dict) for v in raw_limits.values()):
        for kind, values in raw_limits.items():
            if kind not in LIMIT_KINDS:
                raise table.fail(
                    f"{where} limits: unknown kind {kind!r} (known: {', '.join(LIMIT_KINDS)})",
                    ("limits", kind),
                )
            limits[LIMIT_KINDS[kind]] = _quantities(table, f"limits.{kind}", values, where)
    elif raw_limits:
        limits["default"] = _quantities(table, "limits", raw_limits, where)
    network = table.string("network")
    if network is not None and network not in NETWORK_MODES:
        raise table.fail(f"{where} network must be one of {', '.join(NETWORK_MODES)}", ("network",))
    egress = _peers(table, "egress", where, cidr_allowed=True)
    ingress = _peers(table, "ingress_from", where, cidr_allowed=True)
    if network is None and (egress or ingress):
        network = "deny-all"  # declared traffic only makes sense on top of a default deny
    return Isolation(level, quota, limits, network, egress, ingress)


def _quantities(table: TableReader, key: str, raw: Any, where: str) -> dict[str, str]:
    at = tuple(key.split("."))
    if not isinstance(raw, dict):
        raise table.fail(f"{where} {key} must be a table of resource = quantity", at)
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not _RESOURCE_NAME.match(str(name)):
            raise table.fail(f"{where} {key}: {name!r} is not a resource name", (*at, name))
        text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not _QUANTITY.match(text):
            raise table.fail(
                f'{where} {key}.{name}: {value!r} is not a Kubernetes quantity (like "500m", "2Gi", 4)',
                (*at, name),
            )
        out[str(name)] = text
    return dict(sorted(out.items()))


def _peers(table: TableReader, key: str, where: str, cidr_allowed: bool) -> tuple[Peer, ...]:
    raw = table.table.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise table.fail(
            f"{where} {key} must be a list of tables like {{namespace = ..., ports = [...]}}", (key,)
        )
    peers = []
    for index, item in enumerate(raw):
        at = (key, index)
        unknown = sorted(set(item) - {"cidr", "namespace", "labels", "ports", "protocol"})
        if unknown:
            raise table.fail(
                f"{where} {key}[{index}]: unknown key {unknown[0]!r} "
                "(known: cidr, labels, namespace, ports, protocol)",
                (*at, unknown[0]),
            )
        cidr = item.get("cidr")
        if cidr is not None:
            try:
                if not isinstance(cidr, str) or not cidr_allowed:
                    raise ValueError
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise table.fail(
                    f"{where} {key}[{index}] cidr {cidr!r} is not a network like 10.0.0.0/8", (*at, "cidr")
                ) from None
        namespace = item.get("namespace")
        if namespace is not None and (not isinstance(namespace, str) or not is_dns_label(namespace)):
            raise table.fail(
                f"{where} {key}[{index}] namespace {namespace!r} is not a namespace name", (*at, "namespace")
            )
        labels = item.get("labels", {})
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and _LABEL_KEY.match(k) and isinstance(v, str) and _LABEL_VALUE.match(v)
            for k, v in labels.items()
        ):
            raise table.fail(
                f"{where} {key}[{index}] labels must be a table of label = value", (*at, "labels")
            )
        if cidr is not None and (namespace is not None or labels):
            raise table.fail(
                f"{where} {key}[{index}]: a cidr cannot be combined with namespace or labels", (*at, "cidr")
            )
        if cidr is None and namespace is None and not labels:
            raise table.fail(f"{where} {key}[{index}] needs cidr, namespace or labels", at)
        ports = item.get("ports", [])
        if not isinstance(ports, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535 for p in ports
        ):
            raise table.fail(
                f"{where} {key}[{index}] ports must be a list of port numbers (1-65535)", (*at, "ports")
            )
        protocol = item.get("protocol", "TCP")
        if protocol not in ("TCP", "UDP", "SCTP"):
            raise table.fail(f"{where} {key}[{index}] protocol must be TCP, UDP or SCTP", (*at, "protocol"))
        peers.append(Peer(cidr, namespace, dict(sorted(labels.items())), tuple(ports), protocol))
    return tuple(peers)
