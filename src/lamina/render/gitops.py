"""The GitOps hand-off objects: an Argo CD ApplicationSet per environment, or a Flux
Kustomization per cluster, each pointing at the cluster folders ``render --out`` writes.

They are written to ``<out>/_argocd/`` or ``<out>/_flux/`` (a leading underscore cannot be a
cluster name, which is a DNS label) with a ``kustomization.yaml`` listing them, so the
management cluster can sync that folder too.

Settings, all optional, from lamina.toml (:class:`lamina.fleet.settings.RenderSettings`)::

    [render.argocd]
    repo_url        = "https://git.example.com/agent-configs.git"   # default: git remote origin
    target_revision = "main"          # default HEAD
    project         = "default"
    namespace       = "argocd"        # where the ApplicationSets live

    [render.flux]
    source          = "agent-configs" # the GitRepository name (default: the fleet name)
    namespace       = "flux-system"
    interval        = "5m"
    remote_clusters = false           # true: each Kustomization deploys through <cluster>-kubeconfig

An environment that ``[rollout]`` applies to keeps its waves (the ``wave`` label) in the hand-off:
its ApplicationSet gets ``strategy: RollingSync`` with one step per wave, matching the
``lamina.dev/wave`` label every generated Application carries, and ``maxUpdate`` when the
``[rollout]`` steps move a wave's clusters in smaller groups; its Flux Kustomizations of wave N
``dependsOn`` those of wave N-1 and health-check ``[render] workload`` within ``[rollout] timeout``.
Without ``[rollout]`` the objects are as before.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.errors import InputError
from lamina.fleet import rollout_settings
from lamina.fleet.model import Cluster, Fleet
from lamina.fleet.settings import WORKLOAD_KINDS, ArgoCDSettings, FluxSettings
from lamina.render import yamltext
from lamina.render.configmaps import LABEL_ENVIRONMENT, MANAGED_BY

LABEL_FLEET = "lamina.dev/fleet"
LABEL_WAVE = "lamina.dev/wave"
WAVE = "wave"  # the cluster label lamina orders applies by
ARGOCD_FOLDER = "_argocd"
FLUX_FOLDER = "_flux"
GITOPS_MARKER = "# Rendered by lamina: GitOps objects"


@dataclass(frozen=True)
class GitOpsSettings:
    """Where the rendered folders live in git, and the knobs of each tool."""

    path_prefix: str  # the --out folder relative to the git repository root
    repo_url: str | None  # the config repository's origin, if any
    argocd: ArgoCDSettings
    flux: FluxSettings


def argocd_objects(fleet: Fleet, settings: GitOpsSettings) -> list[dict[str, Any]]:
    """One ApplicationSet per environment whose cluster generator selects Argo CD's registered
    clusters by ``lamina.dev/environment`` and ``lamina.dev/fleet``."""
    repo_url = settings.argocd.repo_url or settings.repo_url
    if not repo_url:
        raise InputError(
            "--gitops argocd needs the repository URL: set [render.argocd] repo_url "
            "(or a git remote named origin)",
            fleet.document.place(("render",)),
        )
    objects: list[dict[str, Any]] = []
    for env in fleet.ordered_environments():
        clusters = fleet.clusters_of(env)
        if not clusters:
            continue
        labels = {MANAGED_BY: "lamina", LABEL_FLEET: fleet.name, LABEL_ENVIRONMENT: env}
        strategy = rolling_sync(fleet, env)
        app_labels = labels if strategy is None else {**labels, LABEL_WAVE: APPLICATION_WAVE}
        objects.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "ApplicationSet",
                "metadata": {
                    "name": f"{fleet.name}-{env}",
                    "namespace": settings.argocd.namespace,
                    "labels": labels,
                },
                "spec": {
                    "goTemplate": True,
                    "goTemplateOptions": ["missingkey=error"],
                    "generators": [
                        {
                            "clusters": {
                                "selector": {"matchLabels": {LABEL_FLEET: fleet.name, LABEL_ENVIRONMENT: env}}
                            }
                        }
                    ],
                    "template": {
                        "metadata": {"name": f"{fleet.name}-{{{{.name}}}}", "labels": app_labels},
                        "spec": {
                            "project": settings.argocd.project,
                            "source": {
                                "repoURL": repo_url,
                                "targetRevision": settings.argocd.target_revision,
                                "path": posixpath.join(settings.path_prefix, "{{.name}}"),
                            },
                            "destination": {
                                "server": "{{.server}}",
                                "namespace": _namespace(clusters),
                            },
                            "syncPolicy": {
                                "automated": {"prune": True, "selfHeal": True},
                                "syncOptions": ["CreateNamespace=true"],
                            },
                        },
                    },
                },
            }
        )
        if strategy is not None:
            objects[-1]["spec"]["strategy"] = strategy
    return objects


# Each generated Application's wave: the ``wave`` label of the cluster registered in Argo CD
# (clusters without one go first, as lamina's own applies do).
APPLICATION_WAVE = f'{{{{index .metadata.labels "{WAVE}" | default "0"}}}}'


def _waves(clusters: Sequence[Cluster]) -> list[tuple[int, list[Cluster]]]:
    """The clusters of an environment grouped by wave, first wave first."""
    ordered = sorted(clusters, key=lambda c: (c.wave, c.name))
    return [(wave, list(members)) for wave, members in itertools.groupby(ordered, key=lambda c: c.wave)]


def rolling_sync(fleet: Fleet, env: str) -> dict[str, Any] | None:
    """The ApplicationSet ``strategy`` keeping env's waves (None: no ``[rollout]`` applies to env).

    One step per wave, selecting the Applications whose ``lamina.dev/wave`` is one of that wave's
    label values. ``maxUpdate`` is the most clusters of the wave one ``[rollout]`` step moves, set
    only when that is fewer than the whole wave (``"50%"`` steps split a wave into groups).
    """
    plan = fleet.settings.rollout.plan(env)
    clusters = fleet.clusters_of(env)
    if plan is None or not clusters:
        return None
    moved_in = {
        cluster.name: index
        for index, step in enumerate(rollout_settings.pick(plan.steps, clusters))
        for cluster in step
    }
    steps = []
    for _, members in _waves(clusters):
        step: dict[str, Any] = {
            "matchExpressions": [
                {
                    "key": LABEL_WAVE,
                    "operator": "In",
                    "values": sorted({c.labels.get(WAVE, "0") for c in members}),
                }
            ]
        }
        groups = [list(group) for _, group in itertools.groupby(members, key=lambda c: moved_in[c.name])]
        largest = max(len(group) for group in groups)
        if largest < len(members):
            step["maxUpdate"] = largest
        steps.append(step)
    return {"type": "RollingSync", "rollingSync": {"steps": steps}}


def _namespace(clusters: Sequence[Cluster]) -> str:
    namespaces = {cluster.namespace for cluster in clusters}
    if len(namespaces) == 1:
        return namespaces.pop()
    # clusters of one environment differ: each registered cluster carries its own namespace label
    return '{{index .metadata.labels "lamina.dev/namespace"}}'


def flux_objects(fleet: Fleet, settings: GitOpsSettings, sops: bool = False) -> list[dict[str, Any]]:
    """One Flux Kustomization per cluster, syncing that cluster's folder.

    Args:
        sops: the folders hold SOPS-encrypted Secret manifests, so each Kustomization gets a
            ``decryption`` block naming ``[render.flux] decryption_secret``.
    """
    source = settings.flux.source or fleet.name
    remote = settings.flux.remote_clusters
    objects = []
    for env in fleet.ordered_environments():
        plan = fleet.settings.rollout.plan(env)
        before: list[str] = []  # with [rollout]: the Kustomizations of the wave before this one
        current: list[str] = []
        wave: int | None = None
        for cluster in fleet.clusters_of(env):  # by wave
            if cluster.wave != wave:
                before, current, wave = current, [], cluster.wave
            current.append(f"{fleet.name}-{cluster.name}")
            spec: dict[str, Any] = {
                "interval": settings.flux.interval,
                "path": "./" + posixpath.join(settings.path_prefix, cluster.name),
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": source},
                "targetNamespace": cluster.namespace,
                "wait": True,
            }
            if plan is not None:
                spec.update(_ordered(fleet, cluster, before, plan.timeout.total_seconds()))
            if remote:
                spec["kubeConfig"] = {"secretRef": {"name": f"{cluster.name}-kubeconfig"}}
            if sops:
                spec["decryption"] = {
                    "provider": "sops",
                    "secretRef": {"name": settings.flux.decryption_secret},
                }
            objects.append(
                {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {
                        "name": f"{fleet.name}-{cluster.name}",
                        "namespace": settings.flux.namespace,
                        "labels": {
                            MANAGED_BY: "lamina",
                            LABEL_FLEET: fleet.name,
                            LABEL_ENVIRONMENT: env,
                        },
                    },
                    "spec": spec,
                }
            )
    return objects


def _ordered(fleet: Fleet, cluster: Cluster, previous: Sequence[str], timeout: float) -> dict[str, Any]:
    """What keeps a ``[rollout]`` environment's waves in Flux: wait for the wave before, and
    count a cluster ready once ``[render] workload`` has rolled out there (Flux ignores
    ``healthChecks`` while ``wait`` is on, so the workload check replaces it)."""
    spec: dict[str, Any] = {"timeout": f"{timeout:g}s"}
    if previous:
        spec["dependsOn"] = [{"name": name} for name in previous]
    workload = fleet.settings.render.workload
    if workload is not None:
        kind, _, name = workload.partition("/")
        spec["wait"] = False
        spec["healthChecks"] = [
            {
                "apiVersion": "apps/v1",
                "kind": WORKLOAD_KINDS[kind.lower()],
                "name": name,
                "namespace": cluster.namespace,
            }
        ]
    return spec


def gitops_files(objects: list[dict[str, Any]]) -> dict[str, bytes]:
    """One YAML file per object plus a kustomization.yaml listing them."""
    files: dict[str, bytes] = {}
    for obj in objects:
        name = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        files[name] = yamltext.dump_simple(obj).encode()
    listing = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    files["kustomization.yaml"] = (
        f"{GITOPS_MARKER}; do not edit, render again.\n" + yamltext.dump_simple(listing)
    ).encode()
    return files
