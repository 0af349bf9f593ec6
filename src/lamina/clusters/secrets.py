"""``lamina secrets check ENV``: every secret a target references exists where it runs.

Names only, never values: a directory cluster declares the Secrets it has with
``[clusters.X] secrets = ["openai/api-key", ...]``; a Kubernetes cluster is asked for the
Secret's metadata and key names (through its :mod:`destination <lamina.clusters.destinations>`);
``vault:`` references are checked when a Vault address is configured and reported as
skipped otherwise. :class:`Lookups` is the one place that decides how each kind is looked
up; the CLI, the server, the promotion gates and the shipping vetting all build it the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lamina.clusters import connection, destinations, faults
from lamina.fleet.model import Cluster
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig

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


VaultLookup = Callable[[str], bool | None]
"""(vault reference) -> True present, False missing, None could not ask."""


class Lookups:
    """How references are looked up, with the connections it opened; close it after use.

    Args:
        kube: how to reach API clusters; None reports their references as skipped.
        vault: how to look a ``vault:`` reference up; None reports them as skipped.
    """

    def __init__(self, kube: connection.KubeSettings | None = None, vault: VaultLookup | None = None) -> None:
        self.kube = kube
        self.vault = vault
        self._open: dict[str, destinations.Destination] = {}
        self._unreachable: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], kube: connection.KubeSettings) -> Lookups:
        """Clusters through kube, and Vault when ``VAULT_ADDR`` is set (token from ``VAULT_TOKEN``)."""
        vault = None
        address = environ.get("VAULT_ADDR")
        if address:
            from lamina.clusters import vault as vault_api  # hvac loads only when Vault is in use

            vault = vault_api.vault_lookup(address, environ.get("VAULT_TOKEN"))
        return cls(kube, vault)

    def check(self, cluster: Cluster, reference: str) -> SecretCheck:
        """Whether reference exists for cluster (names only)."""
        if reference.startswith("vault:"):
            if self.vault is None:
                return SecretCheck(cluster.name, reference, SKIPPED, "VAULT_ADDR is not set")
            found = self.vault(reference)
            status = UNREACHABLE if found is None else PRESENT if found else MISSING
            return SecretCheck(cluster.name, reference, status)
        name, _, key = reference.partition("/")
        if cluster.directory is None and self.kube is None:
            return SecretCheck(cluster.name, reference, SKIPPED, "no Kubernetes access configured")
        with self._lock:
            if cluster.name in self._unreachable:
                return SecretCheck(cluster.name, reference, UNREACHABLE)
            destination = self._open.get(cluster.name)
            if destination is None:
                destination = destinations.open_destination(cluster, self.kube or connection.KubeSettings())
                self._open[cluster.name] = destination
        try:
            keys = destination.secret_keys(name)
        except faults.ClusterFault as exc:
            if exc.kind is faults.FaultKind.UNREACHABLE:
                with self._lock:
                    self._unreachable[cluster.name] = exc.message
            return SecretCheck(cluster.name, reference, UNREACHABLE)
        if keys is not None and key in keys:
            return SecretCheck(cluster.name, reference, PRESENT)
        detail = f"not in [clusters.{cluster.name}] secrets" if cluster.directory is not None else ""
        return SecretCheck(cluster.name, reference, MISSING, detail)

    def close(self) -> None:
        """Close every connection opened."""
        with self._lock:
            for destination in self._open.values():
                destination.close()
            self._open.clear()

    def __enter__(self) -> Lookups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_environment(repo: Repository, environment: str, lookups: Lookups) -> list[SecretCheck]:
    """Check every secret reference of every cluster target of environment."""
    env = repo.fleet.environment(environment).name
    return check_targets(repo, [(env, cluster.name) for cluster in repo.fleet.clusters_of(env)], lookups)


def check_targets(
    repo: Repository, targets: Sequence[tuple[str, str]], lookups: Lookups
) -> list[SecretCheck]:
    """Check every secret reference of each ``(environment, cluster)`` target."""
    return check_configs(repo, [repo.resolve(f"{env}/{name}") for env, name in targets], lookups)


def check_configs(repo: Repository, configs: Sequence[ResolvedConfig], lookups: Lookups) -> list[SecretCheck]:
    """Check every secret reference of each resolved cluster target."""
    checks: list[SecretCheck] = []
    for config in configs:
        assert config.cluster is not None, "secrets live in clusters"
        cluster = repo.fleet.cluster(config.cluster.name)
        for ref in sorted({ref for _, ref in config.secret_refs()}):
            checks.append(lookups.check(cluster, ref))
    return checks


def failures(checks: Sequence[SecretCheck]) -> list[SecretCheck]:
    """The checks that block a promotion or a shipment: missing or unreachable."""
    return [c for c in checks if c.status in (MISSING, UNREACHABLE)]
