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
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.errors import InputError
from lamina.fleet.model import Cluster, Fleet
from lamina.fleet.settings import ArgoCDSettings, FluxSettings
from lamina.render import yamltext
from lamina.render.configmaps import LABEL_ENVIRONMENT, MANAGED_BY

LABEL_FLEET = "lamina.dev/fleet"
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
    objects = []
    for env in fleet.ordered_environments():
        clusters = fleet.clusters_of(env)
        if not clusters:
            continue
        labels = {MANAGED_BY: "lamina", LABEL_FLEET: fleet.name, LABEL_ENVIRONMENT: env}
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
                        "metadata": {"name": f"{fleet.name}-{{{{.name}}}}", "labels": labels},
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
    return objects


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
        for cluster in fleet.clusters_of(env):
            spec: dict[str, Any] = {
                "interval": settings.flux.interval,
                "path": "./" + posixpath.join(settings.path_prefix, cluster.name),
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": source},
                "targetNamespace": cluster.namespace,
                "wait": True,
            }
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
