"""External Secrets Operator objects: one ``ExternalSecret`` per Secret a target references.

With ``[secrets.<env>] store``, every ``vault:`` and ``name/key`` reference of the environment's
targets is fetched by ESO from that store into a Kubernetes Secret:

- ``name/key``: the Secret ``name`` (remote key ``name``, property ``key``), as the config names it;
- ``vault:kv/agents#openai``: the Secret ``<fleet>-kv-agents`` (remote key ``kv/agents``,
  property ``openai``).

Target names depend only on the references, so they stay put across config changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lamina.fleet.secret_settings import SecretStore

API_VERSION = "external-secrets.io/v1"
_NOT_NAME = re.compile(r"[^a-z0-9-]+")
_NOT_KEY = re.compile(r"[^-._a-zA-Z0-9]+")


def target(fleet: str, ref: str) -> tuple[str, str, str, str]:
    """(Secret name, Secret key, remote key, remote property) of one reference."""
    if ref.startswith("vault:"):
        path, _, prop = ref[len("vault:") :].partition("#")
        slug = _NOT_NAME.sub("-", path.lower()).strip("-")
        return f"{fleet}-{slug}"[:253].rstrip("-"), _NOT_KEY.sub("_", prop), path, prop
    name, _, key = ref.partition("/")
    return name, key, name, key


def targets(fleet: str, refs: list[str]) -> dict[str, tuple[str, str]]:
    """reference -> (Secret name, key) for every ``vault:`` and ``name/key`` reference."""
    return {ref: target(fleet, ref)[:2] for ref in refs if not ref.startswith("sops:")}


def external_secrets(
    fleet: str, namespace: str, refs: list[str], store: SecretStore, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The ExternalSecrets of a target, one per Secret, sorted by name."""
    by_secret: dict[str, dict[str, dict[str, str]]] = {}
    for ref in sorted(set(refs)):
        if ref.startswith("sops:"):
            continue
        name, key, remote, prop = target(fleet, ref)
        by_secret.setdefault(name, {})[key] = {"key": remote, "property": prop}
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "refreshInterval": store.refresh,
                "secretStoreRef": {"name": store.store, "kind": store.kind},
                "target": {"name": name, "creationPolicy": "Owner"},
                "data": [{"secretKey": key, "remoteRef": remote} for key, remote in sorted(data.items())],
            },
        }
        for name, data in sorted(by_secret.items())
    ]
