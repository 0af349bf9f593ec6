"""``lamina secrets check ENV``: every secret a target references exists where it runs.

Names only, never values: a directory cluster declares the Secrets it has with
``[clusters.X] secrets = ["openai/api-key", ...]``; a Kubernetes cluster is asked for the
Secret's metadata and key names; ``vault:`` references are checked when a Vault address is
configured and reported as skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lamina.fleet.model import Cluster
from lamina.resolve.repository import Repository

PRESENT = "present"
MISSING = "missing"
SKIPPED = "skipped"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class SecretCheck:
    """One reference on one cluster."""

    cluster: str
    reference: str
    status: str  # present, missing, skipped, unreachable
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        """JSON form (names only)."""
        return {
            "cluster": self.cluster,
            "reference": self.reference,
            "status": self.status,
            "detail": self.detail,
        }


KubernetesLookup = Callable[[Cluster, str, str], str]
"""(cluster, secret name, key) -> status, for clusters reached through the Kubernetes API."""

VaultLookup = Callable[[str], str]
"""(vault reference) -> status."""


@dataclass(frozen=True)
class Lookups:
    """How to reach API clusters' and Vault's secrets; built by the caller (CLI, server)."""

    kubernetes: KubernetesLookup | None = None
    vault: VaultLookup | None = None


def check_environment(
    repo: Repository,
    environment: str,
    kubernetes: KubernetesLookup | None = None,
    vault: VaultLookup | None = None,
) -> list[SecretCheck]:
    """Check every secret reference of every cluster target of environment.

    Args:
        kubernetes: how to look a Secret up in an API cluster; without it such clusters are
            reported as skipped.
        vault: how to look a vault: reference up; without it they are skipped.
    """
    checks: list[SecretCheck] = []
    env = repo.fleet.environment(environment).name
    for cluster in repo.fleet.clusters_of(env):
        config = repo.resolve(f"{env}/{cluster.name}")
        references = sorted({ref for _, ref in config.secret_refs()})
        for ref in references:
            checks.append(_check(cluster, ref, kubernetes, vault))
    return checks


def _check(
    cluster: Cluster, ref: str, kubernetes: KubernetesLookup | None, vault: VaultLookup | None
) -> SecretCheck:
    if ref.startswith("vault:"):
        if vault is None:
            return SecretCheck(cluster.name, ref, SKIPPED, "VAULT_ADDR is not set")
        return SecretCheck(cluster.name, ref, vault(ref))
    name, _, key = ref.partition("/")
    if cluster.directory is not None:
        status = PRESENT if ref in cluster.secrets else MISSING
        detail = "" if status == PRESENT else f"not in [clusters.{cluster.name}] secrets"
        return SecretCheck(cluster.name, ref, status, detail)
    if kubernetes is None:
        return SecretCheck(cluster.name, ref, SKIPPED, "no Kubernetes access configured")
    status = kubernetes(cluster, name, key)
    return SecretCheck(cluster.name, ref, status)


def failures(checks: Sequence[SecretCheck]) -> list[SecretCheck]:
    """The checks that block a promotion: missing or unreachable."""
    return [c for c in checks if c.status in (MISSING, UNREACHABLE)]
