"""An analysis metric's query for a step's clusters: filled in per cluster, and batched.

A query that picks its cluster with a matcher (``cluster="${cluster.name}"``) is asked once for
every cluster of a step: the matcher becomes ``cluster=~"a|b|c"`` and every aggregation keeps
that label (``sum(...)`` becomes ``sum by (cluster) (...)``), so one answer holds one series per
cluster. The rewrite works on the syntax tree ``promql-parser`` gives; a query it cannot
rewrite safely (the variable outside a matcher, ``on()`` matching without the label) is asked
once per cluster instead. Clusters whose other variables (``${cluster.labels.KEY}``) differ get
a query each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lamina.fleet import rollout_settings
from lamina.fleet.model import Cluster

_SENTINEL = "lamina_cluster_sentinel_7f3a"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


@dataclass(frozen=True)
class Query:
    """One query to send, and how its answer maps to clusters.

    Attributes:
        label: the series label naming the cluster; None: the query is for ``clusters[0]``
            alone, or (no cluster variable) its one value holds for every cluster listed.
    """

    text: str
    clusters: tuple[str, ...]
    label: str | None = None


def values(cluster: Cluster, environment: str) -> dict[str, str]:
    """The variables of a query for one cluster."""
    return rollout_settings.cluster_values(cluster, environment)


def plan(query: str, environment: str, clusters: Sequence[Cluster]) -> list[Query]:
    """The queries that measure query on every cluster (as few as the query allows).

    Raises:
        KeyError: the query names a label a cluster does not have.
    """
    names = rollout_settings.variables(query)
    if "cluster.name" not in names:
        groups: dict[str, list[str]] = {}
        for cluster in clusters:
            groups.setdefault(rollout_settings.fill(query, values(cluster, environment)), []).append(
                cluster.name
            )
        return [Query(text, tuple(members)) for text, members in groups.items()]
    shared: dict[str, list[Cluster]] = {}
    for cluster in clusters:
        filled = rollout_settings.fill(query, {**values(cluster, environment), "cluster.name": _SENTINEL})
        shared.setdefault(filled, []).append(cluster)
    out: list[Query] = []
    for template, members in shared.items():
        batched = _batch(template, [c.name for c in members]) if len(members) > 1 else None
        if batched is not None:
            out.append(batched)
            continue
        out.extend(
            Query(rollout_settings.fill(query, values(cluster, environment)), (cluster.name,))
            for cluster in members
        )
    return out


def _batch(template: str, names: Sequence[str]) -> Query | None:
    import promql_parser

    if not all(_SAFE_NAME.match(name) for name in names):
        return None
    try:
        tree = promql_parser.parse(template)
    except ValueError:
        return None
    labels: set[str] = set()
    problems: list[str] = []

    def look(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            for matcher in node.matchers.matchers:
                if matcher.value == _SENTINEL:
                    if str(matcher.op) not in ("MatchOp.Equal", "="):
                        problems.append("operator")
                    labels.add(matcher.name)
        if isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            matchings.append(node.modifier.matching)

    matchings: list[Any] = []
    promql_parser.walk(tree, pre_visit=look)
    if problems or len(labels) != 1:
        return None
    (label,) = labels
    for matching in matchings:
        if matching is None:
            continue
        included = str(matching.type).endswith("Include")  # on (...)
        if included != (label in matching.labels):
            return None  # on() without the label, or ignoring(label): series of clusters would mix
    if template.count(_SENTINEL) != str(tree).count(f'{label}="{_SENTINEL}"'):
        return None  # the variable appears outside a matcher

    def keep_label(node: Any) -> Any:
        if not isinstance(node, promql_parser.AggregateExpr):
            return None
        modifier = node.modifier
        kept: list[str]
        if modifier is None:
            kept = [label]
        elif str(modifier.type).endswith("By"):
            kept = [*modifier.labels, label] if label not in modifier.labels else list(modifier.labels)
        else:  # without (...): the label stays unless listed
            if label not in modifier.labels:
                return None
            problems.append("without")
            return None
        param = f"{node.param}, " if node.param is not None else ""
        return promql_parser.parse(f"{node.op} by ({', '.join(kept)}) ({param}{node.expr})")

    try:
        rewritten = promql_parser.transform(tree, post_visit=keep_label)
    except ValueError:
        return None
    if problems:
        return None
    pattern = "|".join(name.replace(".", "\\\\.") for name in names)
    text = str(rewritten).replace(f'{label}="{_SENTINEL}"', f'{label}=~"{pattern}"')
    if _SENTINEL in text:
        return None
    return Query(text, tuple(names), label)


def spread(query: Query, answer: Sequence[tuple[Mapping[str, str], float]]) -> dict[str, float]:
    """The value each cluster of query got (clusters without a series are left out)."""
    if query.label is None:
        if len(answer) != 1:
            return {}
        return {name: answer[0][1] for name in query.clusters}
    wanted = set(query.clusters)
    found: dict[str, float] = {}
    for labels, value in answer:
        name = labels.get(query.label)
        if name in wanted:
            found[name] = value
    return found
