"""What a plan says: its two sides, every touched target's changes and flags, and counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamina.core.diffs import Change, is_multiline, text_diff
from lamina.core.paths import format_path
from lamina.core.targets import TargetRef
from lamina.plan import flags as flag_rules
from lamina.plan.flags import Flag


@dataclass(frozen=True)
class Side:
    """One end of a plan.

    Attributes:
        label: the revision as the user wrote it (``HEAD``, ``main~2``), or ``working tree``.
        commit: the full commit id, or None for the working tree.
    """

    label: str
    commit: str | None

    def describe(self) -> str:
        """``HEAD (1a2b3c4d5e6f)``, or ``working tree``."""
        if self.commit is None or self.label == self.commit:
            return self.label if self.commit is None else self.commit[:12]
        return f"{self.label} ({self.commit[:12]})"

    def target_label(self, target: TargetRef) -> str:
        """The target as lamina would read it on this side: ``ENV/CLUSTER@REV`` or ``ENV/CLUSTER``."""
        return str(target) if self.commit is None else f"{target}@{self.label}"

    def to_json(self) -> dict[str, Any]:
        """``{"label", "commit"}`` (commit null for the working tree)."""
        return {"label": self.label, "commit": self.commit}


@dataclass(frozen=True)
class TargetPlan:
    """What the change does to one target.

    Attributes:
        target: ``ENV/CLUSTER``.
        from_hash: the config hash before, or None when the target does not exist there.
        to_hash: the config hash after, or None when the target no longer exists.
        changes: field-level changes (plain values; a missing side is ``ABSENT``); for a
            new or removed target, its top-level keys appearing or disappearing.
        flags: the flags raised, in :data:`lamina.plan.flags.RULES` order (none for a new
            or removed target: there is nothing to compare it with).
    """

    target: TargetRef
    from_hash: str | None
    to_hash: str | None
    changes: tuple[Change, ...]
    flags: tuple[Flag, ...]

    @property
    def touched(self) -> bool:
        """True when the resolved config differs (or the target appears or disappears)."""
        return self.from_hash != self.to_hash

    @property
    def status(self) -> str:
        """``added``, ``removed``, ``changed`` or ``unchanged``."""
        if self.from_hash is None:
            return "added"
        if self.to_hash is None:
            return "removed"
        return "changed" if self.touched else "unchanged"

    @property
    def flag_names(self) -> tuple[str, ...]:
        """The names of the flags raised."""
        return tuple(flag.name for flag in self.flags)

    def to_json(self, from_side: Side, to_side: Side) -> dict[str, Any]:
        """The SPEC ``plan`` target shape, plus ``status`` and ``flag_paths``."""
        items = []
        for change in self.changes:
            item = change.to_json()
            lines = prompt_diff(
                change, from_side.target_label(self.target), to_side.target_label(self.target)
            )
            if lines:
                item["diff"] = lines
            items.append(item)
        return {
            "target": str(self.target),
            "environment": self.target.environment,
            "cluster": self.target.cluster,
            "status": self.status,
            "from_hash": self.from_hash,
            "to_hash": self.to_hash,
            "changes": items,
            "flags": list(self.flag_names),
            "flag_paths": {flag.name: [format_path(path) for path in flag.paths] for flag in self.flags},
        }


def prompt_diff(change: Change, label_a: str, label_b: str) -> list[str]:
    """A unified diff of a multi-line change (a prompt), or [] for any other change."""
    if not (is_multiline(change.a) or is_multiline(change.b)):
        return []
    return text_diff(
        change.a if isinstance(change.a, str) else "",
        change.b if isinstance(change.b, str) else "",
        label_a,
        label_b,
    )


@dataclass(frozen=True)
class EnvironmentCount:
    """How many targets of an environment the change touches."""

    environment: str
    targets: int
    touched: int


@dataclass(frozen=True)
class Plan:
    """The plan of a change: the touched targets and how many were looked at.

    Attributes:
        changed_files: repository-relative paths that differ between the two sides.
        touched: the targets whose resolved config differs, in promotion order.
        environments: per environment, its targets and how many are touched.
        total: every target on either side.
        resolved: the targets resolved to build the plan (the others could not be touched).
    """

    from_side: Side
    to_side: Side
    changed_files: tuple[str, ...]
    touched: tuple[TargetPlan, ...]
    environments: tuple[EnvironmentCount, ...]
    total: int
    resolved: int

    @property
    def untouched(self) -> int:
        """Targets the change leaves as they are."""
        return self.total - len(self.touched)

    def flag_counts(self) -> dict[str, int]:
        """For each flag raised anywhere, the number of targets raising it (RULES order)."""
        counts = {name: 0 for name in flag_rules.FLAG_NAMES}
        for target in self.touched:
            for name in target.flag_names:
                counts[name] += 1
        return {name: count for name, count in counts.items() if count}

    def summary_json(self) -> dict[str, Any]:
        """Counts: targets, touched, untouched, resolved, per environment, per flag."""
        return {
            "targets": self.total,
            "touched": len(self.touched),
            "untouched": self.untouched,
            "resolved": self.resolved,
            "files_changed": len(self.changed_files),
            "environments": [
                {"environment": env.environment, "targets": env.targets, "touched": env.touched}
                for env in self.environments
            ],
            "flags": self.flag_counts(),
        }

    def to_json(self) -> dict[str, Any]:
        """The SPEC ``plan`` shape: only touched targets are listed; the summary counts the rest."""
        return {
            "from": self.from_side.to_json(),
            "to": self.to_side.to_json(),
            "targets": [target.to_json(self.from_side, self.to_side) for target in self.touched],
            "summary": self.summary_json(),
            "changed_files": list(self.changed_files),
        }
