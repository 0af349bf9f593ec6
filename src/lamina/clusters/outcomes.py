"""What shipping a config to one cluster was asked to do and what it did, as values.

Every destination (a cluster's API, a directory) takes :class:`ApplyOptions` and answers an
:class:`ApplyOutcome`; nothing here talks to a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.clusters import faults
from lamina.core.states import ApplyResult
from lamina.fleet.model import Cluster
from lamina.fleet.settings import DEFAULT_KEEP
from lamina.render import configmaps
from lamina.render.configmaps import RenderedConfig

FIELD_MANAGER = "lamina"


@dataclass(frozen=True)
class ApplyOptions:
    """What ``[render]`` and the command line say about applying."""

    workload: str | None = None
    keep: int = DEFAULT_KEEP
    resources: Sequence[str] = ()
    dry_run: bool = False
    container: str | None = None  # [render] container: the one that gets secrets as env
    env: Mapping[str, str] = field(default_factory=dict)  # [render.env]
    folder_extra: Callable[[Cluster], Mapping[str, bytes]] | None = None
    """More files of a directory cluster's folder: the Flagger objects of ``[rollout.flagger]``."""


@dataclass(frozen=True)
class ApplyOutcome:
    """What applying one target to one cluster did.

    Attributes:
        actions: what was done (or, in a dry run, would be done), one line each.
        detail: why it failed, naming the cluster.
        requests: API requests made.
    """

    environment: str
    cluster: str
    result: ApplyResult
    config_hash: str
    revision: str | None
    base_revision: str | None
    configmap: str
    actions: tuple[str, ...] = ()
    detail: str = ""
    requests: int = 0
    fault: faults.FaultKind | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        """True when the cluster does not run what was asked."""
        return self.result.failed

    @classmethod
    def of(cls, rendered: RenderedConfig, result: ApplyResult, **more: Any) -> ApplyOutcome:
        """An outcome for rendered's target, with the result and whatever else is known."""
        cluster = rendered.config.cluster
        assert cluster is not None
        return cls(
            environment=rendered.config.environment.name,
            cluster=cluster.name,
            result=result,
            config_hash=rendered.config.config_hash,
            revision=rendered.annotations.get(configmaps.ANNOTATION_REVISION),
            base_revision=rendered.annotations.get(configmaps.ANNOTATION_BASE),
            configmap=rendered.name,
            **more,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``lamina apply --json``."""
        return {
            "environment": self.environment,
            "cluster": self.cluster,
            "result": self.result.value,
            "config_hash": self.config_hash,
            "revision": self.revision,
            "configmap": self.configmap,
            "actions": list(self.actions),
            "detail": self.detail,
        }
