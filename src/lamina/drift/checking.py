"""Drift over a fleet: ask every cluster at once (bounded), heal what should be healed, remember.

Resolving and rendering happen first, in this thread (the repository is not shared across
threads); then each cluster is asked in a pool of threads, since the work is waiting on the
network. A directory cluster is read from its folder.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from lamina.clusters import connection, destinations, faults
from lamina.clusters.outcomes import ApplyOptions
from lamina.core.states import DriftStatus
from lamina.core.targets import TargetRef
from lamina.drift import status
from lamina.drift.status import DriftReport
from lamina.errors import LaminaError
from lamina.fleet import lockfile
from lamina.fleet.model import Cluster
from lamina.fleet.settings import DEFAULT_KEEP, FleetSettings
from lamina.render import configmaps, flagger
from lamina.render.configmaps import RenderedConfig
from lamina.resolve.repository import Repository
from lamina.store import drift as drift_store
from lamina.store.database import Database


@dataclass(frozen=True)
class DriftOptions:
    """``[drift]`` and ``[render]`` settings that matter to a check."""

    ignore: tuple[str, ...] = ()
    workload: str | None = None
    resources: tuple[str, ...] = ()
    keep: int = DEFAULT_KEEP
    container: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    folder_extra: Callable[[Cluster], Mapping[str, bytes]] | None = None  # [rollout.flagger]

    @classmethod
    def from_fleet(cls, settings: FleetSettings) -> DriftOptions:
        """From the fleet's ``[drift]`` and ``[render]`` tables."""
        return cls(
            ignore=settings.drift.ignore,
            workload=settings.render.workload,
            resources=settings.render.resources,
            keep=settings.render.keep,
            container=settings.render.container,
            env=tuple(settings.render.env.items()),
            folder_extra=flagger.folder_extra(settings),
        )

    def apply_options(self, dry_run: bool = False) -> ApplyOptions:
        """How a heal ships what git says."""
        return ApplyOptions(
            workload=self.workload,
            keep=self.keep,
            resources=self.resources,
            dry_run=dry_run,
            container=self.container,
            env=dict(self.env),
            folder_extra=self.folder_extra,
        )


@dataclass
class Check:
    """The outcome of one fleet check, and what it cost."""

    reports: list[DriftReport] = field(default_factory=list)
    rendered: dict[str, RenderedConfig] = field(default_factory=dict)
    requests: int = 0


def render_targets(repo: Repository, refs: Sequence[TargetRef]) -> list[RenderedConfig]:
    """The desired ConfigMap of each target."""
    out = []
    for ref in refs:
        config = repo.resolve(ref)
        out.append(configmaps.render_target(repo.fleet.settings, config, repo.source_revision(config)))
    return out


def check_one(
    rendered: RenderedConfig, settings: connection.KubeSettings, options: DriftOptions
) -> tuple[DriftReport, int]:
    """The drift report of one cluster and the API requests it took; never raises for a cluster fault."""
    cluster = rendered.config.cluster
    assert cluster is not None
    if cluster.suspended:
        return status.suspended(rendered), 0
    destination = destinations.open_destination(cluster, settings)
    try:
        found = destination.read(rendered, options.workload)
        layout = destination.desired_layout(rendered, options.apply_options())
        return status.compare(rendered, found, options.ignore, layout), destination.requests
    except faults.ClusterFault as exc:
        return status.unreachable(rendered, f"{cluster.name}: {exc.message}"), destination.requests
    finally:
        destination.close()


def check(
    repo: Repository,
    refs: Sequence[TargetRef],
    settings: connection.KubeSettings,
    options: DriftOptions,
    done: Callable[[DriftReport], None] = lambda report: None,
) -> Check:
    """Check every target; reports in the order of refs.

    Targets are rendered and checked a batch at a time, and only what heal or adopt may need
    (the rendered config and live values of drifted or out-of-sync clusters) outlives its
    batch, so memory stays flat as the fleet grows.
    """
    result = Check()

    def one(item: RenderedConfig) -> tuple[DriftReport, int]:
        outcome = check_one(item, settings, options)
        done(outcome[0])
        return outcome

    workers = max(1, settings.parallelism)
    batch = workers * 4
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lamina-drift") as pool:
        for start in range(0, len(refs), batch):
            rendered = render_targets(repo, refs[start : start + batch])
            for item, (report, requests) in zip(rendered, pool.map(one, rendered), strict=True):
                if report.status is DriftStatus.DRIFTED:
                    report = _classified(repo, report, item)
                if report.status.healable:
                    assert item.config.cluster is not None
                    result.rendered[item.config.cluster.name] = item
                elif report.live_config is not None:
                    report = replace(report, live_config=None)
                result.reports.append(report)
                result.requests += requests
    return result


def _classified(repo: Repository, report: DriftReport, rendered: RenderedConfig) -> DriftReport:
    """Each field of a hand-edited cluster classified against the render it came from, when that
    render can be rebuilt from git (its revision and base revision); else left as drifted."""
    revision, base = report.live_revision, report.live_base_revision
    if repo.git is None or not revision or revision == "working-tree" or not report.live_config:
        return report
    earlier_repo: Repository | None = None
    try:
        earlier_repo = Repository(repo.root, revision)
        if base and base != "working-tree":
            env = report.environment
            earlier_repo.pins = {**earlier_repo.pins, env: lockfile.Pin(env, base)}
        earlier = earlier_repo.resolve(TargetRef(report.environment, report.cluster))
        files = configmaps.configmap_data(earlier)
    except LaminaError:
        return report  # that render cannot be rebuilt (history rewritten, target renamed...)
    finally:
        if earlier_repo is not None:
            earlier_repo.close()
    del rendered
    return status.classify(report, earlier.plain(), files)


def remember(db: Database, reports: Sequence[DriftReport], now: datetime.datetime) -> list[DriftReport]:
    """Store the reports; return them carrying ``since`` (when each status was first seen)."""
    items = [
        drift_store.DriftRecord(
            cluster=r.cluster,
            environment=r.environment,
            status=r.status.value,
            expected_hash=r.expected_hash,
            actual_hash=r.actual_hash,
            fields=[f.to_json() for f in r.fields],
            detail=r.detail or None,
        )
        for r in reports
    ]
    saved = db.run(lambda session: drift_store.save(session, items, now))
    return [r.with_since(saved[r.cluster].since) for r in reports]


@dataclass(frozen=True)
class DriftGroup:
    """The same drift (same fields, same live values) seen on several clusters."""

    key: str
    clusters: tuple[str, ...]
    fields: tuple[status.FieldDrift, ...]


def group(reports: Sequence[DriftReport]) -> list[DriftGroup]:
    """Fleet-wide: drifted clusters grouped by identical differences, biggest group first."""
    import json

    groups: dict[str, list[DriftReport]] = {}
    for report in reports:
        if report.status is not DriftStatus.DRIFTED:
            continue
        key = json.dumps([f.to_json() for f in report.fields], sort_keys=True, default=str)
        groups.setdefault(key, []).append(report)
    out = []
    for key, members in groups.items():
        import hashlib

        out.append(
            DriftGroup(
                key=hashlib.sha256(key.encode()).hexdigest()[:8],
                clusters=tuple(m.target for m in members),
                fields=members[0].fields,
            )
        )
    return sorted(out, key=lambda g: (-len(g.clusters), g.clusters))


def run(
    repo: Repository,
    db: Database,
    refs: Sequence[TargetRef],
    kube: connection.KubeSettings,
    now: datetime.datetime,
    done: Callable[[DriftReport], None] = lambda report: None,
) -> list[DriftReport]:
    """Check drift now: every target of refs, stored, each report carrying since when it holds.

    The use case behind ``lamina drift``, the API's drift run and the server's scheduled checks.
    """
    result = check(repo, refs, kube, DriftOptions.from_fleet(repo.fleet.settings), done=done)
    return remember(db, result.reports, now)
