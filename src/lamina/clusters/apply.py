"""Ship one target's ConfigMap to one cluster (or into a directory cluster's folder).

The ConfigMap is immutable and named by its content, so applying is "create it unless it
exists": an unchanged name means nothing to do, and applying twice changes nothing the
second time. With ``[render] workload`` the workload's ``agent-config`` volume is pointed at
the new name, so its pods roll. The newest ``[render] keep`` lamina ConfigMaps of the target
stay for rollback; older ones are deleted. ``dry_run`` reads what runs and reports what it
would do, and writes nothing.

Nothing here raises for a cluster fault: the outcome says what happened, so one broken
cluster never stops the others.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.clusters import connection, faults, live
from lamina.fleet.model import Cluster
from lamina.render import configmaps, folders
from lamina.render.configmaps import RenderedConfig

APPLIED = "applied"
UNCHANGED = "unchanged"
DRY_RUN = "dry-run"
FAILED = "failed"
UNREACHABLE = "unreachable"
SKIPPED = "skipped"
SUSPENDED = "suspended"

FIELD_MANAGER = "lamina"
DEFAULT_KEEP = 5


@dataclass(frozen=True)
class ApplyOptions:
    """What ``[render]`` and the command line say about applying."""

    workload: str | None = None
    keep: int = DEFAULT_KEEP
    resources: Sequence[str] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class ApplyOutcome:
    """What applying one target to one cluster did.

    Attributes:
        result: applied, unchanged, dry-run, failed, unreachable, skipped or suspended.
        actions: what was done (or, in a dry run, would be done), one line each.
        detail: why it failed, naming the cluster.
    """

    environment: str
    cluster: str
    result: str
    config_hash: str
    revision: str | None
    base_revision: str | None
    configmap: str
    actions: tuple[str, ...] = ()
    detail: str = ""
    requests: int = 0
    fault: faults.FaultKind | None = None

    @property
    def failed(self) -> bool:
        """True when the cluster does not run what was asked."""
        return self.result in (FAILED, UNREACHABLE)

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``lamina apply --json``."""
        return {
            "environment": self.environment,
            "cluster": self.cluster,
            "result": self.result,
            "config_hash": self.config_hash,
            "revision": self.revision,
            "configmap": self.configmap,
            "actions": list(self.actions),
            "detail": self.detail,
        }


@dataclass
class _Plan:
    actions: list[str] = field(default_factory=list)
    wrote: bool = False


def apply_config(
    rendered: RenderedConfig,
    settings: connection.KubeSettings,
    options: ApplyOptions,
    now: datetime.datetime,
) -> ApplyOutcome:
    """Apply rendered to its cluster; never raises for a cluster fault."""
    cluster = rendered.config.cluster
    assert cluster is not None
    base: dict[str, Any] = {
        "environment": rendered.config.environment.name,
        "cluster": cluster.name,
        "config_hash": rendered.config.config_hash,
        "revision": rendered.annotations.get(configmaps.ANNOTATION_REVISION),
        "base_revision": rendered.annotations.get(configmaps.ANNOTATION_BASE),
        "configmap": rendered.name,
    }
    if cluster.suspended:
        return ApplyOutcome(**base, result=SUSPENDED, detail="suspended in lamina.toml")
    if cluster.directory is not None:
        return _apply_directory(rendered, settings.repo_root / cluster.directory, options, base)
    plan = _Plan()
    conn: connection.Connection | None = None
    try:
        conn = connection.connect(cluster, settings)
        _apply_kubernetes(conn, rendered, options, now, plan)
    except faults.ClusterFault as exc:
        result = UNREACHABLE if exc.kind is faults.FaultKind.UNREACHABLE else FAILED
        return ApplyOutcome(
            **base,
            result=result,
            actions=tuple(plan.actions),
            detail=f"{cluster.name}: {exc.message}",
            requests=conn.requests if conn else 0,
            fault=exc.kind,
        )
    finally:
        if conn is not None:
            conn.close()
    result = DRY_RUN if options.dry_run else APPLIED if plan.wrote else UNCHANGED
    return ApplyOutcome(**base, result=result, actions=tuple(plan.actions), requests=conn.requests)


def _apply_directory(
    rendered: RenderedConfig, folder: Path, options: ApplyOptions, base: dict[str, Any]
) -> ApplyOutcome:
    files = folders.folder_files(rendered, options.resources)
    changed = [
        name
        for name, content in sorted(files.items())
        if not (folder / name).is_file() or (folder / name).read_bytes() != content
    ]
    stale = (
        sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in files)
        if folder.is_dir()
        else []
    )
    verb = "would write" if options.dry_run else "wrote"
    actions = [f"{verb} {folder / name}" for name in changed]
    actions += [f"{'would remove' if options.dry_run else 'removed'} {folder / name}" for name in stale]
    if options.dry_run:
        return ApplyOutcome(**base, result=DRY_RUN, actions=tuple(actions))
    if not changed and not stale:
        return ApplyOutcome(**base, result=UNCHANGED)
    try:
        folders.write_folder(folder, files, folders.WriteReport())
    except OSError as exc:
        return ApplyOutcome(**base, result=FAILED, detail=f"{folder}: {exc.strerror}")
    return ApplyOutcome(**base, result=APPLIED, actions=tuple(actions))


def _apply_kubernetes(
    conn: connection.Connection,
    rendered: RenderedConfig,
    options: ApplyOptions,
    now: datetime.datetime,
    plan: _Plan,
) -> None:
    name = rendered.name
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    desired = rendered.configmap()
    desired["metadata"]["annotations"][live.ANNOTATION_APPLIED_AT] = stamp
    existing = live.read_configmap(conn, name)
    ours = live.list_target_configmaps(conn, rendered)
    if existing is not None and not _same_content(existing, rendered):
        # an immutable ConfigMap whose content changed can only have been replaced by hand
        _write(
            conn,
            plan,
            options,
            f"replace ConfigMap {name} (its content was changed outside lamina)",
            conn.core.delete_namespaced_config_map,
            name,
            conn.namespace,
        )
        existing = None
    if existing is None:
        _create(conn, plan, options, desired)
    elif ours and ours[0].get("metadata", {}).get("name") != name:
        # going back to a ConfigMap kept for rollback: mark it as the newest applied
        patch = {"metadata": {"annotations": {live.ANNOTATION_APPLIED_AT: stamp}}}
        _write(
            conn,
            plan,
            options,
            f"mark ConfigMap {name} as current",
            conn.core.patch_namespaced_config_map,
            name,
            conn.namespace,
            patch,
            field_manager=FIELD_MANAGER,
        )
    mounted: str | None = None
    if options.workload:
        body = live.read_workload(conn, options.workload)
        if body is None:
            raise faults.ClusterFault(
                faults.FaultKind.PERMANENT,
                f"workload {options.workload} not found in namespace {conn.namespace}",
                conn.cluster.name,
            )
        mounted = live.workload_configmap(body)
        if mounted != name:
            patch = configmaps.workload_patch(options.workload, rendered)
            kind, _, workload_name = options.workload.partition("/")
            patchers = {
                "deployment": conn.apps.patch_namespaced_deployment,
                "statefulset": conn.apps.patch_namespaced_stateful_set,
                "daemonset": conn.apps.patch_namespaced_daemon_set,
            }
            _write(
                conn,
                plan,
                options,
                f"point {options.workload} at {name} (rolls its pods)",
                patchers[kind.lower()],
                workload_name,
                conn.namespace,
                patch,
                field_manager=FIELD_MANAGER,
            )
    _prune(conn, rendered, options, plan, ours, keep_names={name} | ({mounted} if mounted else set()))


def _same_content(existing: dict[str, Any], rendered: RenderedConfig) -> bool:
    labels = existing.get("metadata", {}).get("labels") or {}
    same_labels = all(labels.get(k) == v for k, v in rendered.labels.items())
    return same_labels and dict(existing.get("data") or {}) == dict(rendered.data)


def _create(conn: connection.Connection, plan: _Plan, options: ApplyOptions, body: dict[str, Any]) -> None:
    name = body["metadata"]["name"]
    try:
        _write(
            conn,
            plan,
            options,
            f"create ConfigMap {name}",
            conn.core.create_namespaced_config_map,
            conn.namespace,
            body,
            field_manager=FIELD_MANAGER,
        )
    except faults.ClusterFault as exc:
        if exc.kind is not faults.FaultKind.CONFLICT:
            raise
        # created meanwhile (another apply, a retried request): the same name is the same content
        if live.read_configmap(conn, name) is None:
            raise faults.ClusterFault(
                faults.FaultKind.CONFLICT,
                f"creating ConfigMap {name} answered 409 Conflict, yet it does not exist",
                conn.cluster.name,
            ) from None
        plan.actions[-1] = f"ConfigMap {name} already exists"


def _prune(
    conn: connection.Connection,
    rendered: RenderedConfig,
    options: ApplyOptions,
    plan: _Plan,
    ours: list[dict[str, Any]],
    keep_names: set[str],
) -> None:
    names = [str(item.get("metadata", {}).get("name")) for item in ours]
    ordered = [n for n in names if n in keep_names] + [n for n in names if n not in keep_names]
    if rendered.name not in ordered:
        ordered.insert(0, rendered.name)
    keep = max(options.keep, len(keep_names))
    for old in ordered[keep:]:
        if old in keep_names:
            continue
        try:
            _write(
                conn,
                plan,
                options,
                f"delete old ConfigMap {old}",
                conn.core.delete_namespaced_config_map,
                old,
                conn.namespace,
            )
        except faults.ClusterFault as exc:
            if exc.kind is not faults.FaultKind.NOT_FOUND:
                raise


def _write(
    conn: connection.Connection,
    plan: _Plan,
    options: ApplyOptions,
    action: str,
    method: Any,
    *args: Any,
    **kwargs: Any,
) -> None:
    if options.dry_run:
        plan.actions.append(f"would {action}")
        return
    plan.actions.append(action)
    kwargs.setdefault("_preload_content", False)  # lamina needs no typed copy of what it wrote
    conn.call(method, *args, **kwargs)
    plan.wrote = True


def cluster_label(cluster: Cluster) -> str:
    """How a cluster is named in messages."""
    return f"{cluster.environment}/{cluster.name}"
