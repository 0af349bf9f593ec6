"""Heal drift: re-apply what git says to drifted and out-of-sync clusters, re-check them, record.

The use case behind ``lamina drift --heal`` and the server's heal. Clusters whose differences
are all ignored are in sync and left alone. Fields that ``[drift] ignore`` names keep their
live values (as Argo CD's RespectIgnoreDifferences does): heal restores only what counts. What
heals ships like any apply: vetted and authorized first (freezes, protected environments), so
a heal cannot ship what ``lamina apply`` would refuse.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lamina.clusters import apply, connection, secrets
from lamina.clusters.outcomes import ApplyOutcome
from lamina.core.paths import Item, KeyPath, get_path, item_index, parse_path
from lamina.core.targets import TargetRef
from lamina.drift import checking
from lamina.drift.status import DriftReport
from lamina.guard.actors import Actor
from lamina.render import configmaps
from lamina.render.configmaps import RenderedConfig
from lamina.resolve.repository import Repository
from lamina.ship import records, shipping
from lamina.store.database import Database


@dataclass(frozen=True)
class Healed:
    """The drift reports after healing (stored, with ``since``) and what each heal did."""

    reports: tuple[DriftReport, ...]
    outcomes: tuple[ApplyOutcome, ...]
    overridden: tuple[str, ...] = ()
    """With ``force``: what the force overrode."""


def heal(
    repo: Repository,
    db: Database,
    refs: Sequence[TargetRef],
    *,
    actor: Actor,
    kube: connection.KubeSettings,
    lookups: secrets.Lookups,
    now: datetime.datetime,
    force: str | None = None,
    done: Callable[[DriftReport], None] = lambda report: None,
) -> Healed:
    """Check refs, then re-apply git's config where a cluster drifted or is out of sync, and record it.

    Raises:
        Refused: vetting of the clusters to heal found problems (and no force).
        RuleRefused: a freeze or a protected environment refused (and no force).
    """
    options = checking.DriftOptions.from_fleet(repo.fleet.settings)
    result = checking.check(repo, refs, kube, options, done=done)
    to_heal = [index for index, report in enumerate(result.reports) if report.status.healable]
    rendered = {result.reports[i].cluster: result.rendered[result.reports[i].cluster] for i in to_heal}
    overridden: tuple[str, ...] = ()
    if to_heal:  # the actor may come back proven by a signature
        db.ensure_schema()  # fail closed: no heal happens that could not be recorded
        permit = shipping.authorize(repo, db, rendered, actor=actor, lookups=lookups, now=now, force=force)
        overridden, actor = permit.overridden, permit.actor
    outcomes = []
    for index in to_heal:
        report = result.reports[index]
        shipped = keep_ignored(rendered[report.cluster], report)
        outcome = apply.apply_config(shipped, kube, options.apply_options(), now)
        outcomes.append(outcome)
        after, requests = checking.check_one(result.rendered[report.cluster], kube, options)
        result.requests += outcome.requests + requests
        result.reports[index] = after
    records.record(db, outcomes, actor, now, dirty=False, force=force, overridden=overridden)
    reports = checking.remember(db, result.reports, now)
    return Healed(tuple(reports), tuple(outcomes), overridden)


def keep_ignored(rendered: RenderedConfig, report: DriftReport) -> RenderedConfig:
    """rendered, with the live values of the fields ``[drift] ignore`` names put back."""
    live = report.live_config
    if not report.ignored or live is None:
        return rendered
    data: dict[str, Any] = copy.deepcopy(rendered.config.data)
    for item in report.ignored:
        try:
            path = parse_path(item.path)
        except ValueError:
            continue  # a prompt file (``file:...``) is not a config path
        try:
            value = get_path(live, path)
        except KeyError:
            _remove(data, path)
            continue
        with contextlib.suppress(KeyError, IndexError, TypeError):  # its parent is not rendered
            _put(data, path, copy.deepcopy(value))
    config = dataclasses.replace(rendered.config, data=data)
    revision = rendered.annotations.get(configmaps.ANNOTATION_REVISION)
    return configmaps.render_config(
        config,
        None if revision == "working-tree" else revision,
        store=rendered.store,
        isolation=rendered.isolation,
        workload=rendered.workload,
        container=rendered.container,
    )


def _put(data: Any, path: KeyPath, value: Any) -> None:
    node = data
    for part in path[:-1]:
        if isinstance(part, Item):
            node = node[item_index(node, part)]
        else:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    last = path[-1]
    if isinstance(last, Item):
        try:
            node[item_index(node, last)] = value
        except KeyError:
            node.append(value)  # an item only the live config has
        return
    node[last] = value


def _remove(data: Any, path: KeyPath) -> None:
    try:
        parent = get_path(data, path[:-1])
        last = path[-1]
        del parent[item_index(parent, last) if isinstance(last, Item) else last]
    except (KeyError, IndexError, TypeError):
        pass
