"""The fleet as typed, immutable values."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from lamina.errors import UnknownTargetError
from lamina.fleet.settings import FleetSettings
from lamina.source.documents import Document


class Environment(msgspec.Struct, frozen=True):
    """A stage of the lifecycle (development, staging, production, production-eu...).

    Attributes:
        extends: the environment whose overlay sits below this one's, or None.
        upstream: the environment this one is promoted from, or None.
        stage: the explicit ``stage`` or the root of the ``extends`` chain.
    """

    name: str
    extends: str | None
    upstream: str | None
    stage: str


class Cluster(msgspec.Struct, frozen=True):
    """Where an environment runs: a kubeconfig context or a folder (the GitOps hand-off)."""

    name: str
    environment: str
    namespace: str = "default"
    context: str | None = None
    kubeconfig: str | None = None
    directory: str | None = None
    labels: Mapping[str, str] = msgspec.field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    suspended: bool = False
    kubernetes_version: str = "1.35"

    @property
    def wave(self) -> int:
        """The ``wave`` label as a number (clusters without one go first)."""
        try:
            return int(self.labels.get("wave", "0"))
        except ValueError:
            return 0

    @property
    def kind(self) -> str:
        """``directory`` or ``kubernetes``."""
        return "directory" if self.directory is not None else "kubernetes"


class Fleet(msgspec.Struct, frozen=True):
    """Everything ``lamina.toml`` says, checked.

    Attributes:
        settings: every other table of lamina.toml (``[render]``, ``[drift]``, ``[promotion]``...),
            typed and checked.
        document: the parsed lamina.toml, to name file:line in later errors.
    """

    name: str
    environments: Mapping[str, Environment]
    clusters: Mapping[str, Cluster]
    promotion: tuple[str, ...]
    settings: FleetSettings
    document: Document

    def environment(self, name: str) -> Environment:
        """The named environment.

        Raises:
            UnknownTargetError: no such environment.
        """
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "none"
            raise UnknownTargetError(
                f"unknown environment {name!r} (known: {known})", self.document.path
            ) from None

    def cluster(self, name: str) -> Cluster:
        """The named cluster.

        Raises:
            UnknownTargetError: no such cluster.
        """
        try:
            return self.clusters[name]
        except KeyError:
            known = ", ".join(sorted(self.clusters)) or "none"
            raise UnknownTargetError(
                f"unknown cluster {name!r} (known: {known})", self.document.path
            ) from None

    def chain(self, name: str) -> tuple[str, ...]:
        """The overlay chain of an environment, root first, the environment itself last."""
        chain: list[str] = []
        current: str | None = name
        while current is not None:
            chain.append(current)
            current = self.environments[current].extends
        return tuple(reversed(chain))

    def clusters_of(self, environment: str) -> tuple[Cluster, ...]:
        """The clusters of an environment, by wave then name."""
        return tuple(
            sorted(
                (c for c in self.clusters.values() if c.environment == environment),
                key=lambda c: (c.wave, c.name),
            )
        )

    def downstream(self, name: str) -> tuple[str, ...]:
        """Environments whose upstream is name."""
        return tuple(sorted(e.name for e in self.environments.values() if e.upstream == name))

    def ordered_environments(self) -> tuple[str, ...]:
        """Environments in promotion order (upstream before downstream), then by name."""
        depth: dict[str, int] = {}

        def level(env: str) -> int:
            if env not in depth:
                upstream = self.environments[env].upstream
                depth[env] = 0 if upstream is None else level(upstream) + 1
            return depth[env]

        return tuple(sorted(self.environments, key=lambda e: (level(e), e)))
