"""A cluster reached through its Kubernetes API (a kubeconfig context).

The ConfigMap is immutable and named by its content, so applying is "create it unless it
exists": an unchanged name means nothing to do, and applying twice changes nothing the
second time. With ``[render] workload`` the workload's ``agent-config`` volume is pointed at
the new name, so its pods roll. The newest ``[render] keep`` lamina ConfigMaps of the target
stay for rollback; older ones are deleted. ``dry_run`` reads what runs and reports what it
would do, and writes nothing.

The connection opens on first use and every call goes through it (counted, retried, faults
classified); :meth:`KubernetesDestination.write` never raises for a cluster fault: the outcome
says what happened, so one broken cluster never stops the others.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.clusters import connection, faults, live, objects, secret_keys
from lamina.clusters.health import Health
from lamina.clusters.live import LiveConfig
from lamina.clusters.outcomes import FIELD_MANAGER, ApplyOptions, ApplyOutcome
from lamina.core.states import ApplyResult
from lamina.fleet.model import Cluster
from lamina.render import configmaps, sops_secrets, workloads
from lamina.render.configmaps import RenderedConfig


@dataclass
class _Plan:
    actions: list[str] = field(default_factory=list)
    wrote: bool = False


class KubernetesDestination:
    """A cluster behind a kubeconfig context; close it when done."""

    def __init__(self, cluster: Cluster, settings: connection.KubeSettings) -> None:
        self.cluster = cluster
        self.settings = settings
        self._conn: connection.Connection | None = None

    @property
    def requests(self) -> int:
        """API requests made so far."""
        return self._conn.requests if self._conn is not None else 0

    def connection(self) -> connection.Connection:
        """The open connection (opened on first use).

        Raises:
            ClusterFault: the kubeconfig or its context is missing (permanent).
        """
        if self._conn is None:
            self._conn = connection.connect(self.cluster, self.settings)
        return self._conn

    def read(self, rendered: RenderedConfig, workload: str | None) -> LiveConfig | None:
        """The ConfigMap that runs: the one the workload mounts, else the newest lamina applied.

        Raises:
            ClusterFault: the cluster could not be asked.
        """
        found = live.read_kubernetes(self.connection(), rendered, workload)
        desired = rendered.kept_objects()
        sized = workload is not None and bool(workloads.wanted(rendered.sizing))
        if found is None or (not desired and not sized):
            return found
        kept = objects.read_all(self.connection(), desired)
        if sized and workload is not None:
            body = live.read_workload(self.connection(), workload)
            kept[workloads.object_key(workload)] = body
        return dataclasses.replace(found, objects=kept)

    def desired_layout(self, rendered: RenderedConfig, options: ApplyOptions) -> str | None:
        """None: a ConfigMap's name and labels are compared on the object itself."""
        del rendered, options
        return None

    def write(self, rendered: RenderedConfig, options: ApplyOptions, now: datetime.datetime) -> ApplyOutcome:
        """Apply rendered to the cluster; never raises for a cluster fault."""
        plan = _Plan()
        try:
            desired = rendered.kept_objects()
            if desired:  # the namespace and its fences first: the Secret and ConfigMap live in it
                plan.wrote |= objects.ship(self.connection(), desired, options.dry_run, plan.actions)
            if rendered.sops:
                _ship_secret(self.connection(), rendered, options, plan, self.settings.repo_root)
            _apply(self.connection(), rendered, options, now, plan)
        except faults.ClusterFault as exc:
            result = (
                ApplyResult.UNREACHABLE if exc.kind is faults.FaultKind.UNREACHABLE else ApplyResult.FAILED
            )
            return ApplyOutcome.of(
                rendered,
                result,
                actions=tuple(plan.actions),
                detail=f"{self.cluster.name}: {exc.message}",
                requests=self.requests,
                fault=exc.kind,
            )
        result = (
            ApplyResult.DRY_RUN
            if options.dry_run
            else ApplyResult.APPLIED
            if plan.wrote
            else ApplyResult.UNCHANGED
        )
        return ApplyOutcome.of(rendered, result, actions=tuple(plan.actions), requests=self.requests)

    def workload_rollout(self, workload: str) -> live.Rollout | None:
        """How far workload has rolled out (a missing workload never has).

        Raises:
            ClusterFault: the cluster could not be asked.
        """
        body = live.read_workload(self.connection(), workload)
        if body is None:
            return live.Rollout(False, f"{workload} not found in namespace {self.cluster.namespace}")
        return live.workload_rollout(body)

    def health(self, clock: Callable[[], float] = time.perf_counter) -> Health:
        """Reachable, the server's version, whether the namespace exists, how long it took."""
        started = clock()
        present: bool | None = None
        problem: str | None = None
        try:
            conn = self.connection()
            version = conn.call(conn.version_api.get_code).git_version
            try:
                conn.call(conn.core.read_namespace, self.cluster.namespace)
                present = True
            except faults.ClusterFault as exc:
                if exc.kind is faults.FaultKind.NOT_FOUND:
                    present = False
                elif exc.kind is faults.FaultKind.PERMANENT:
                    problem = "may not read the namespace"
                else:
                    raise
        except faults.ClusterFault as exc:
            return Health(self.cluster.name, False, None, None, clock() - started, exc.message)
        return Health(self.cluster.name, True, str(version), present, clock() - started, problem)

    def secret_keys(self, name: str) -> set[str] | None:
        """The key names of Secret name (never its values), or None when it does not exist.

        Raises:
            ClusterFault: the cluster could not be asked.
        """
        return secret_keys.secret_key_names(self.connection(), name)

    def close(self) -> None:
        """Release the connection pool."""
        if self._conn is not None:
            self._conn.close()


def _apply(
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
        want = workloads.wanted(rendered.sizing)
        resized = want != workloads.running(
            rendered.sizing, body, options.container or rendered.sized_container()
        )
        if mounted != name or resized:
            patch = configmaps.workload_patch(options.workload, rendered, options.container, options.env)
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
                f"point {options.workload} at {name} (rolls its pods)"
                if mounted != name
                else f"size {options.workload} as git says ({_sizing_text(want)})",
                patchers[kind.lower()],
                workload_name,
                conn.namespace,
                patch,
                field_manager=FIELD_MANAGER,
            )
    _prune(conn, rendered, options, plan, ours, keep_names={name} | ({mounted} if mounted else set()))


def _sizing_text(want: dict[str, Any]) -> str:
    parts = [f"replicas {want['replicas']}"] if "replicas" in want else []
    for kind, values in sorted((want.get("resources") or {}).items()):
        parts.append(f"{kind} " + ", ".join(f"{k} {v}" for k, v in sorted(values.items())))
    return "; ".join(parts)


def _ship_secret(
    conn: connection.Connection, rendered: RenderedConfig, options: ApplyOptions, plan: _Plan, root: Path
) -> None:
    """Create or update the Secret of rendered's SOPS keys (values decrypted in memory only)."""
    name = rendered.secret_name
    assert name is not None
    wanted = sops_secrets.digest(rendered, root)
    annotations = secret_keys.secret_annotations(conn, name)
    if annotations is not None and annotations.get(sops_secrets.ANNOTATION_DIGEST) == wanted:
        return
    count = len(rendered.sops)
    if options.dry_run:
        plan.actions.append(
            f"would {'create' if annotations is None else 'update'} Secret {name} ({count} SOPS keys)"
        )
        return
    body = sops_secrets.secret_body(rendered, root)
    try:
        if annotations is None:
            _write(
                conn,
                plan,
                options,
                f"create Secret {name} ({count} SOPS keys)",
                conn.core.create_namespaced_secret,
                conn.namespace,
                body,
                field_manager=FIELD_MANAGER,
            )
        else:
            _write(
                conn,
                plan,
                options,
                f"update Secret {name} ({count} SOPS keys)",
                conn.core.patch_namespaced_secret,
                name,
                conn.namespace,
                body,
                field_manager=FIELD_MANAGER,
            )
    finally:
        del body


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
