"""Heal drift: re-apply what git says to drifted and out-of-sync clusters, re-check them, record.

The use case behind ``lamina drift --heal`` and the server's heal. Clusters whose differences
are all ignored are in sync and left alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lamina.clusters import apply, connection
from lamina.clusters.outcomes import ApplyOutcome
from lamina.core.targets import TargetRef
from lamina.drift import checking
from lamina.drift.status import DriftReport
from lamina.resolve.resolver import Repository
from lamina.ship import records
from lamina.store.database import Database


@dataclass(frozen=True)
class Healed:
    """The drift reports after healing (stored, with ``since``) and what each heal did."""

    reports: tuple[DriftReport, ...]
    outcomes: tuple[ApplyOutcome, ...]


def heal(
    repo: Repository,
    db: Database,
    refs: Sequence[TargetRef],
    *,
    actor: str,
    kube: connection.KubeSettings,
    now: datetime.datetime,
    done: Callable[[DriftReport], None] = lambda report: None,
) -> Healed:
    """Check refs, re-apply git's config where a cluster drifted or is out of sync, and record it all."""
    options = checking.DriftOptions.from_fleet(repo.fleet.settings)
    result = checking.check(repo, refs, kube, options, done=done)
    outcomes = []
    for index, report in enumerate(result.reports):
        if not report.status.healable:
            continue
        rendered = result.rendered[report.cluster]
        outcome = apply.apply_config(rendered, kube, options.apply_options(), now)
        outcomes.append(outcome)
        after, requests = checking.check_one(rendered, kube, options)
        result.requests += outcome.requests + requests
        result.reports[index] = after
    records.record(db, outcomes, actor, now, dirty=False)
    reports = checking.remember(db, result.reports, now)
    return Healed(tuple(reports), tuple(outcomes))
