"""Desired against live for one cluster: the status, and the differences field by field.

``in-sync``: what runs is what git says. ``out-of-sync``: what runs is a config lamina
rendered earlier (its content matches its own hash label and name) and git moved on.
``drifted``: what runs was changed outside lamina (its content no longer matches what any
lamina render would have produced).

Each differing field is classified too: ``out-of-sync`` when the live value is what the
earlier lamina render the object came from had (its ``lamina.dev/revision``: git moved on and
that change is not applied yet), ``drifted`` when it is not (someone changed it by hand). A
cluster is ``drifted`` when any field is; heal restores every field that is not ignored, adopt
takes only the drifted ones. ``missing``: nothing runs. ``unreachable``: the cluster
could not be asked. ``suspended``: the cluster is taken out of drift checks in lamina.toml.
Paths matching ``[drift] ignore`` globs may differ without making a cluster drift.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lamina.clusters.live import LiveConfig
from lamina.core import diffs, hashing
from lamina.core.paths import KeyPath, format_path, get_path, parse_path
from lamina.core.states import DriftStatus
from lamina.render import configmaps, names
from lamina.render.configmaps import RenderedConfig
from lamina.reports import presenting

FILE_PREFIX = "file:"
"""Field paths of referenced files (prompts) in the ConfigMap, e.g. ``file:system_prompt.txt``."""


@dataclass(frozen=True)
class FieldDrift:
    """One differing field: its path, what git says, what runs (a missing side is ABSENT)."""

    path: str
    expected: Any
    actual: Any
    ignored: bool = False
    status: DriftStatus = DriftStatus.DRIFTED
    """``out-of-sync`` (an earlier lamina render had this live value) or ``drifted``."""

    def to_json(self) -> dict[str, Any]:
        """``{"path", "expected", "actual", "status"}``, a missing side left out; texts add ``diff``."""
        out: dict[str, Any] = {"path": self.path, "status": self.status.value}
        if self.expected is not diffs.ABSENT:
            out["expected"] = self.expected
        if self.actual is not diffs.ABSENT:
            out["actual"] = self.actual
        if diffs.is_multiline(self.expected) or diffs.is_multiline(self.actual):
            out["diff"] = self.text_diff()
        return out

    def text_diff(self) -> list[str]:
        """A unified diff of the two sides (for prompts)."""
        return diffs.text_diff(
            self.expected if isinstance(self.expected, str) else "",
            self.actual if isinstance(self.actual, str) else "",
            f"git:{self.path}",
            f"live:{self.path}",
        )


@dataclass(frozen=True)
class DriftReport:
    """The drift status of one cluster.

    Attributes:
        fields: the differences that count (ignored paths are in ``ignored``), their values as
            :mod:`lamina.reports.presenting` shows them (credential-like literals masked).
        changed_by, changed_at: the newest writer of the live object where the server says.
        since: when this status was first seen (from the store), None when not stored.
        live_config: the parsed live agent config, unmasked (for ``--adopt`` only: it is never
            printed, stored or served).
    """

    environment: str
    cluster: str
    status: DriftStatus
    expected_hash: str | None
    actual_hash: str | None
    fields: tuple[FieldDrift, ...] = ()
    ignored: tuple[FieldDrift, ...] = ()
    detail: str = ""
    where: str = ""
    changed_by: str | None = None
    changed_at: str | None = None
    since: datetime | None = None
    live_config: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    live_files: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """The live referenced files (prompts), unmasked: for classifying fields, never shown."""
    live_revision: str | None = field(default=None, compare=False)
    """The git revision the live object says lamina rendered it from (``lamina.dev/revision``)."""
    live_base_revision: str | None = field(default=None, compare=False)
    """The base/ revision it says it was rendered with (``lamina.dev/base-revision``)."""

    @property
    def target(self) -> str:
        """``ENV/CLUSTER``."""
        return f"{self.environment}/{self.cluster}"

    @property
    def in_sync(self) -> bool:
        """True for in-sync (and suspended, which is out of scope)."""
        return self.status in (DriftStatus.IN_SYNC, DriftStatus.SUSPENDED)

    def with_since(self, since: datetime | None) -> DriftReport:
        """A copy carrying since."""
        return replace(self, since=since)

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """The SPEC ``drift`` item, plus detail, provenance of the change and duration."""
        out: dict[str, Any] = {
            "environment": self.environment,
            "cluster": self.cluster,
            "status": self.status.value,
            "expected_hash": self.expected_hash,
            "actual_hash": self.actual_hash,
            "fields": [item.to_json() for item in self.fields],
            "ignored": [item.path for item in self.ignored],
            "detail": self.detail,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
            "since": self.since.isoformat() if self.since else None,
        }
        if self.since is not None and now is not None:
            out["duration_seconds"] = max(0, int((now - self.since).total_seconds()))
        return out


def ignored(path: str, globs: Sequence[str]) -> bool:
    """True when path matches one of the ``[drift] ignore`` globs (``feature_flags.*``)."""
    return any(fnmatch.fnmatchcase(path, glob) for glob in globs)


def compare(
    rendered: RenderedConfig,
    live: LiveConfig | None,
    ignore: Sequence[str],
    desired_layout: str | None = None,
) -> DriftReport:
    """The status of one cluster from what git renders and what runs.

    Args:
        desired_layout: for a directory cluster, the desired ``kustomization.yaml`` text (its
            labels and name are part of what must match).
    """
    cluster = rendered.config.cluster
    assert cluster is not None
    base: dict[str, Any] = {
        "environment": rendered.config.environment.name,
        "cluster": cluster.name,
        "expected_hash": rendered.config.config_hash,
    }
    if live is None:
        return DriftReport(
            **base,
            status=DriftStatus.MISSING,
            actual_hash=None,
            detail="no lamina ConfigMap of this target runs here",
        )
    try:
        live_config = json.loads(live.data.get(configmaps.CONFIG_KEY, ""))
    except ValueError:
        live_config = None
    actual_hash = hashing.config_hash(live_config) if isinstance(live_config, dict) else None
    expected_config = rendered.config.plain()
    changes: list[FieldDrift] = []
    if live_config is None:
        changes.append(FieldDrift(configmaps.CONFIG_KEY, "valid JSON", "not JSON"))
    else:
        for change in diffs.diff(expected_config, live_config, identities=rendered.config.identities):
            # what a report shows, stores and serves is masked; adopt reads live_config itself
            changes.append(
                FieldDrift(
                    format_path(change.path),
                    presenting.shown_at(change.path, change.a),
                    presenting.shown_at(change.path, change.b),
                )
            )
    for key in sorted(set(rendered.data) | set(live.data)):
        if key == configmaps.CONFIG_KEY:
            continue
        want = rendered.data.get(key, diffs.ABSENT)
        have = live.data.get(key, diffs.ABSENT)
        if want != have:
            changes.append(FieldDrift(FILE_PREFIX + key, presenting.shown(want), presenting.shown(have)))
    counted = tuple(c for c in changes if not ignored(c.path, ignore))
    skipped = tuple(replace(c, ignored=True) for c in changes if ignored(c.path, ignore))
    consistent = _self_consistent(rendered, live, actual_hash)
    same_data = dict(live.data) == dict(rendered.data)
    same_meta = _same_metadata(rendered, live, desired_layout)
    if not counted:
        if skipped or (same_data and same_meta):
            status = DriftStatus.IN_SYNC
            detail = f"{len(skipped)} ignored difference(s)" if skipped else ""
        else:
            status = DriftStatus.OUT_OF_SYNC
            detail = "content matches git; its name, labels or layout need an apply"
    elif consistent:
        status, detail = DriftStatus.OUT_OF_SYNC, "runs a config lamina rendered earlier; git moved on"
        counted = tuple(replace(c, status=DriftStatus.OUT_OF_SYNC) for c in counted)
    else:
        status, detail = DriftStatus.DRIFTED, "changed outside lamina"
    return DriftReport(
        **base,
        status=status,
        actual_hash=actual_hash,
        fields=counted,
        ignored=skipped,
        detail=detail,
        where=live.where,
        changed_by=live.changed_by,
        changed_at=live.changed_at,
        live_config=live_config if isinstance(live_config, dict) else None,
        live_files={k: v for k, v in live.data.items() if k != configmaps.CONFIG_KEY},
        live_revision=live.revision,
        live_base_revision=live.base_revision,
    )


def classify(
    report: DriftReport, earlier: Mapping[str, Any], earlier_files: Mapping[str, str]
) -> DriftReport:
    """report with each field classified against the config lamina rendered at report.live_revision.

    Args:
        earlier: that earlier render's resolved config (plain values).
        earlier_files: its referenced files, by ConfigMap key.
    """
    if report.status is not DriftStatus.DRIFTED or report.live_config is None:
        return report
    fields = tuple(
        replace(f, status=_field_status(report, f.path, earlier, earlier_files)) for f in report.fields
    )
    if any(f.status is DriftStatus.DRIFTED for f in fields):
        return replace(report, fields=fields)
    return replace(
        report,
        fields=fields,
        status=DriftStatus.OUT_OF_SYNC,
        detail="runs what lamina rendered earlier, its labels edited; git moved on",
    )


def _field_status(
    report: DriftReport, path: str, earlier: Mapping[str, Any], files: Mapping[str, str]
) -> DriftStatus:
    if path.startswith(FILE_PREFIX):
        key = path[len(FILE_PREFIX) :]
        same = report.live_files.get(key, diffs.ABSENT) == files.get(key, diffs.ABSENT)
        return DriftStatus.OUT_OF_SYNC if same else DriftStatus.DRIFTED
    assert report.live_config is not None
    try:
        key_path = parse_path(path)
    except ValueError:
        return DriftStatus.DRIFTED
    live_value = _value_at(report.live_config, key_path)
    earlier_value = _value_at(earlier, key_path)
    same = live_value == earlier_value and type(live_value) is type(earlier_value)
    return DriftStatus.OUT_OF_SYNC if same else DriftStatus.DRIFTED


def _value_at(data: Any, path: KeyPath) -> Any:
    try:
        return get_path(data, path)
    except KeyError:
        return diffs.ABSENT


def _self_consistent(rendered: RenderedConfig, live: LiveConfig, actual_hash: str | None) -> bool:
    """True when live is exactly what some lamina render produced: hash label and name fit its content."""
    if actual_hash is None:
        return False
    if live.labels.get(configmaps.LABEL_HASH) != hashing.short_hash(actual_hash):
        return False
    if live.labels.get(configmaps.MANAGED_BY) != "lamina":
        return False
    if live.where.startswith("configmap "):
        return live.name == f"{rendered.base_name}-{names.configmap_suffix(live.data)}"
    return True


def _same_metadata(rendered: RenderedConfig, live: LiveConfig, desired_layout: str | None) -> bool:
    if live.where.startswith("configmap "):
        return live.name == rendered.name and all(live.labels.get(k) == v for k, v in rendered.labels.items())
    if desired_layout is None:
        return True
    from lamina.render import folders

    return live.extra.get(folders.KUSTOMIZATION) == desired_layout


def unreachable(rendered: RenderedConfig, message: str) -> DriftReport:
    """The report of a cluster that could not be asked."""
    cluster = rendered.config.cluster
    assert cluster is not None
    return DriftReport(
        environment=rendered.config.environment.name,
        cluster=cluster.name,
        status=DriftStatus.UNREACHABLE,
        expected_hash=rendered.config.config_hash,
        actual_hash=None,
        detail=message,
    )


def suspended(rendered: RenderedConfig) -> DriftReport:
    """The report of a suspended cluster."""
    cluster = rendered.config.cluster
    assert cluster is not None
    return DriftReport(
        environment=rendered.config.environment.name,
        cluster=cluster.name,
        status=DriftStatus.SUSPENDED,
        expected_hash=rendered.config.config_hash,
        actual_hash=None,
        detail="suspended in lamina.toml",
    )
