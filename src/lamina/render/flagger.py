"""Flagger objects for the GitOps hand-off: with ``[rollout.flagger]``, every cluster folder lamina
writes (``render --out DIR``, and ``apply`` to a ``directory`` cluster) holds a Flagger ``Canary``
for ``[render] workload`` and one ``MetricTemplate`` per metric of the environment's
``[rollout] analysis``, listed in the folder's kustomization::

    [rollout.flagger]
    interval    = "1m"        # Flagger's analysis schedule
    threshold   = 5           # failed checks before Flagger rolls the canary back
    max_weight  = 50          # traffic share the canary reaches before promotion
    step_weight = 10
    # iterations = 5          # instead of the weights: blue/green, this many analysis runs
    address     = "http://prometheus.monitoring:9090"   # Prometheus as the cluster reaches it
    port        = 8080        # the workload's service port

Each MetricTemplate carries the ``[[analysis.metrics]]`` query with ``${cluster.name}``,
``${env.name}`` and ``${cluster.labels.KEY}`` filled for that cluster, as ``apply --rollout``
fills them; the Canary bounds it by the metric's min/max (``thresholdRange``) over the
analysis ``interval``, and gives the workload ``[rollout] timeout`` to make progress.
Clusters of environments no ``[rollout]`` applies to get no Flagger objects.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from lamina.fleet import rollout_settings
from lamina.fleet.model import Cluster
from lamina.fleet.settings import WORKLOAD_KINDS, FleetSettings
from lamina.render import yamltext
from lamina.render.configmaps import LABEL_CLUSTER, LABEL_ENVIRONMENT, MANAGED_BY

API_VERSION = "flagger.app/v1beta1"
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def cluster_files(settings: FleetSettings, cluster: Cluster) -> dict[str, bytes]:
    """The Flagger files of a cluster's folder, by file name (none without ``[rollout.flagger]``
    or without a ``[rollout]`` for the cluster's environment)."""
    return {file_name(obj): yamltext.dump_simple(obj).encode() for obj in cluster_objects(settings, cluster)}


def folder_extra(settings: FleetSettings) -> Callable[[Cluster], dict[str, bytes]] | None:
    """:func:`cluster_files` for the fleet's settings (None without ``[rollout.flagger]``): what a
    directory cluster's folder holds besides the config."""
    if settings.rollout.flagger is None:
        return None
    return functools.partial(cluster_files, settings)


def file_name(obj: Mapping[str, Any]) -> str:
    """``canary-NAME.yaml`` or ``metrictemplate-NAME.yaml``."""
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def is_flagger_file(name: str) -> bool:
    """True for the file names :func:`cluster_files` writes."""
    return name.startswith(("canary-", "metrictemplate-")) and name.endswith(".yaml")


def cluster_objects(settings: FleetSettings, cluster: Cluster) -> list[dict[str, Any]]:
    """The Canary and MetricTemplates of one cluster (see :func:`cluster_files`).

    Loading the fleet checked that every query fills in for every cluster it applies to.
    """
    flagger = settings.rollout.flagger
    plan = settings.rollout.plan(cluster.environment)
    workload = settings.render.workload
    if flagger is None or plan is None or workload is None:
        return []
    kind, _, name = workload.partition("/")
    labels = {MANAGED_BY: "lamina", LABEL_ENVIRONMENT: cluster.environment, LABEL_CLUSTER: cluster.name}
    templates: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    if plan.analysis is not None:
        analysis = settings.analysis(plan.analysis)
        values = rollout_settings.cluster_values(cluster, cluster.environment)
        for number, metric in enumerate(analysis.metrics, 1):
            template = _dns(f"{analysis.name}-{metric.name}")
            if any(seen["metadata"]["name"] == template for seen in templates):
                template = f"{template[:240]}-{number}"  # "a_b" and "a-b" make one name: keep both
            templates.append(
                {
                    "apiVersion": API_VERSION,
                    "kind": "MetricTemplate",
                    "metadata": {"name": template, "namespace": cluster.namespace, "labels": labels},
                    "spec": {
                        "provider": {"type": analysis.provider.type, "address": flagger.address},
                        "query": rollout_settings.fill(metric.query, values),
                    },
                }
            )
            bounds = {k: v for k, v in (("min", metric.min), ("max", metric.max)) if v is not None}
            checks.append(
                {
                    "name": metric.name,
                    "templateRef": {"name": template},
                    "thresholdRange": bounds,
                    "interval": go_duration(analysis.interval),
                }
            )
    canary_analysis: dict[str, Any] = {"interval": flagger.interval, "threshold": flagger.threshold}
    if flagger.iterations is not None:
        canary_analysis["iterations"] = flagger.iterations
    else:
        canary_analysis.update(maxWeight=flagger.max_weight, stepWeight=flagger.step_weight)
    if checks:
        canary_analysis["metrics"] = checks
    canary = {
        "apiVersion": API_VERSION,
        "kind": "Canary",
        "metadata": {"name": name, "namespace": cluster.namespace, "labels": labels},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": WORKLOAD_KINDS[kind.lower()], "name": name},
            "progressDeadlineSeconds": max(1, round(plan.timeout.total_seconds())),
            "service": {"port": flagger.port},
            "analysis": canary_analysis,
        },
    }
    return [canary, *templates]


def go_duration(value: timedelta) -> str:
    """A duration as Go writes it, in whole seconds where it can (``60s``, ``1.5s``)."""
    return f"{value.total_seconds():g}s"


def _dns(text: str) -> str:
    """text as a Kubernetes object name (lowercase letters, digits and '-')."""
    return _NOT_DNS.sub("-", text.lower()).strip("-")[:253] or "metric"
