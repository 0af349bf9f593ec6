"""The JSON shapes of listings, configs and diffs: `lamina ... --json` and the API return these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.fleet.selectors import Selector
from lamina.resolve.repository import Repository

if TYPE_CHECKING:
    from lamina.resolve.resolved import ResolvedConfig


def environments(repo: Repository) -> list[dict[str, Any]]:
    """``lamina envs --json``."""
    rows = []
    for name in repo.fleet.ordered_environments():
        env = repo.fleet.environments[name]
        pin = repo.pins.get(name)
        rows.append(
            {
                "name": name,
                "stage": env.stage,
                "extends": env.extends,
                "upstream": env.upstream,
                "pin": pin.revision if pin else None,
                "clusters": [c.name for c in repo.fleet.clusters_of(name)],
            }
        )
    return rows


def clusters(repo: Repository, selector: Selector) -> list[dict[str, Any]]:
    """``lamina clusters --json`` (without live health)."""
    rows = []
    for env in repo.fleet.ordered_environments():
        for cluster in repo.fleet.clusters_of(env):
            if not selector.matches(cluster.labels):
                continue
            rows.append(
                {
                    "name": cluster.name,
                    "environment": cluster.environment,
                    "namespace": cluster.namespace,
                    "kind": cluster.kind,
                    "context": cluster.context,
                    "directory": cluster.directory,
                    "labels": dict(cluster.labels),
                    "suspended": cluster.suspended,
                }
            )
    return rows


def config(resolved: ResolvedConfig) -> dict[str, Any]:
    """A target's resolved config: secret references only, credential-like literals masked."""
    from lamina.reports import presenting  # here: the listing views (envs) never mask values

    return {
        "target": str(resolved.target),
        "config_hash": resolved.config_hash,
        "short_hash": resolved.short_hash,
        "base_revision": resolved.base_revision,
        "config": presenting.config(resolved),
    }


def diff(a: ResolvedConfig, b: ResolvedConfig, label_a: str, label_b: str) -> dict[str, Any]:
    """``lamina diff --json``."""
    from lamina.core import diffs
    from lamina.reports import presenting

    changes = presenting.changes_between(a, b)
    items = []
    for change in changes:
        item = change.to_json()
        if diffs.is_multiline(change.a) or diffs.is_multiline(change.b):
            item["diff"] = diffs.text_diff(
                change.a if isinstance(change.a, str) else "",
                change.b if isinstance(change.b, str) else "",
                label_a,
                label_b,
            )
        items.append(item)
    return {"a": label_a, "b": label_b, "changes": items}
