"""The states lamina keeps, as types: one enum per state machine, with its behaviour on the type.

The store takes and returns these, the CLI and the server print their values; nobody writes
``"testing"`` by hand. Each member says what it means where it is declared. A gate or an apply
that *could not run* (a cluster unreachable, a check that cannot start) is kept apart from one
that *said no*: the first is an outside failure to retry, the second a finding to act on.
"""

from __future__ import annotations

import enum


class RequestKind(enum.StrEnum):
    """What a request moves."""

    PROMOTION = "promotion"
    """An environment's pin to what its upstream runs."""
    ROLLBACK = "rollback"
    """An environment's pin back to an older revision."""
    CHANGE = "change"
    """No pin moves: edits outside ``base/`` (overlays, cluster layers, lamina.toml) into a
    protected environment."""


class PromotionStatus(enum.StrEnum):
    """Where a request stands (promotions, rollbacks and change requests alike)."""

    PENDING = "pending"
    """Recorded; its gates have not run yet."""
    TESTING = "testing"
    """Gates passed (a soak may still be running); approvals are collected."""
    APPROVED = "approved"
    """Enough people approved; ``apply`` may go ahead."""
    PROMOTED = "promoted"
    """Applied: the pin is committed (a change request: its hashes may ship)."""
    REJECTED = "rejected"
    """Someone with the right to decide said no."""
    FAILED = "failed"
    """A gate failed or could not run."""
    STALE = "stale"
    """The target's resolved configs changed after the request; open a new one."""
    VERIFIED = "verified"
    """Promoted, and ``[promotion] verify``'s analysis passed on the target environment."""
    VERIFICATION_FAILED = "verification-failed"
    """Promoted, but ``[promotion] verify``'s analysis failed there: a rollback request is open."""

    @classmethod
    def landed_statuses(cls) -> tuple[PromotionStatus, ...]:
        """The statuses of requests that were applied (their pin is committed)."""
        return (cls.PROMOTED, cls.VERIFIED, cls.VERIFICATION_FAILED)

    @property
    def landed(self) -> bool:
        """True when the request was applied (verified or not)."""
        return self in PromotionStatus.landed_statuses()

    @property
    def is_open(self) -> bool:
        """True while the request may still be decided or applied."""
        return self in (PromotionStatus.PENDING, PromotionStatus.TESTING, PromotionStatus.APPROVED)

    @property
    def is_terminal(self) -> bool:
        """True when nothing can happen to the request any more."""
        return not self.is_open


class GateOutcome(enum.StrEnum):
    """The outcome of one gate of a request."""

    PASSED = "passed"
    """The gate's check ran and found nothing wrong."""
    FAILED = "failed"
    """The check ran and said no: a finding about the change."""
    ERRORED = "errored"
    """The check could not run (a cluster unreachable, a command that cannot start): retry later."""
    WAITING = "waiting"
    """A soak not yet over: the request collects approvals meanwhile; ``apply`` asks again."""

    @property
    def blocks(self) -> bool:
        """True when the request cannot go on (failed or errored)."""
        return self in (GateOutcome.FAILED, GateOutcome.ERRORED)


class Decision(enum.StrEnum):
    """One person's decision on a request."""

    APPROVE = "approve"
    REJECT = "reject"


class ApplyResult(enum.StrEnum):
    """What shipping one target to one cluster did."""

    APPLIED = "applied"
    """Something was written: the cluster now runs the config."""
    UNCHANGED = "unchanged"
    """The cluster already ran the config; nothing was written."""
    DRY_RUN = "dry-run"
    """Nothing was written; the outcome lists what would be."""
    FAILED = "failed"
    """The cluster answered but refused or broke (403, 409, 5xx after retries)."""
    UNREACHABLE = "unreachable"
    """The cluster could not be reached."""
    SKIPPED = "skipped"
    """Not attempted: an earlier wave failed (``[apply] halt_on_failure``)."""
    SUSPENDED = "suspended"
    """The cluster is suspended in lamina.toml."""

    @property
    def failed(self) -> bool:
        """True when the cluster does not run what was asked."""
        return self in (ApplyResult.FAILED, ApplyResult.UNREACHABLE)

    @property
    def recorded(self) -> bool:
        """True when the attempt is recorded in the state database (and audited)."""
        return self not in (ApplyResult.SKIPPED, ApplyResult.SUSPENDED, ApplyResult.DRY_RUN)


class DriftStatus(enum.StrEnum):
    """How what runs relates to what git says."""

    IN_SYNC = "in-sync"
    """What runs is what git says (ignored paths aside)."""
    OUT_OF_SYNC = "out-of-sync"
    """What runs is a config lamina rendered earlier; git moved on and it was not applied yet."""
    DRIFTED = "drifted"
    """What runs was changed outside lamina."""
    MISSING = "missing"
    """Nothing of this target runs on the cluster."""
    UNREACHABLE = "unreachable"
    """The cluster could not be asked."""
    SUSPENDED = "suspended"
    """The cluster is suspended in lamina.toml: not applied, not checked."""

    @property
    def healable(self) -> bool:
        """True when re-applying git's config is what fixes it."""
        return self in (DriftStatus.DRIFTED, DriftStatus.OUT_OF_SYNC)


class RolloutStatus(enum.StrEnum):
    """Where a rollout (``apply --rollout``) stands."""

    RUNNING = "running"
    """Moving step by step: applying, waiting for workloads, baking or measuring."""
    PAUSED = "paused"
    """Stopped until a person resumes or aborts it: a measurement was inconclusive (no data,
    provider unreachable), or someone paused it."""
    SUCCEEDED = "succeeded"
    """Every step passed; every cluster runs the new config."""
    FAILED = "failed"
    """A step failed (metrics out of bounds, a workload that did not roll out): every cluster
    it moved was sent back to the config it ran before."""
    ABORTED = "aborted"
    """Someone aborted it: every cluster it moved was sent back to the config it ran before."""

    @property
    def is_terminal(self) -> bool:
        """True when nothing can happen to the rollout any more."""
        return self in (RolloutStatus.SUCCEEDED, RolloutStatus.FAILED, RolloutStatus.ABORTED)


class RolloutPhase(enum.StrEnum):
    """What a running rollout does within its current step."""

    APPLY = "apply"
    """Shipping the step's clusters (each recorded once applied, so none is applied twice)."""
    WAIT = "wait"
    """Waiting for each cluster's workload to roll out (within ``[rollout] timeout``)."""
    BAKE = "bake"
    """Waiting ``[rollout] bake`` before measuring."""
    MEASURE = "measure"
    """Taking the analysis' measurements."""
    ROLLBACK = "rollback"
    """Sending every moved cluster back to the config it ran before."""
    DONE = "done"
    """Nothing left to do."""


class RolloutClusterState(enum.StrEnum):
    """Where one cluster of a rollout stands."""

    PENDING = "pending"
    """Not moved yet."""
    APPLYING = "applying"
    """The config it ran before is recorded; the apply may have started."""
    APPLIED = "applied"
    """It runs the rollout's config."""
    ROLLED_BACK = "rolled-back"
    """Sent back to the config it ran before."""

    @property
    def moved(self) -> bool:
        """True when the rollout may have changed what the cluster runs."""
        return self in (RolloutClusterState.APPLYING, RolloutClusterState.APPLIED)


class MeasurementOutcome(enum.StrEnum):
    """What one measurement of one metric on one cluster said."""

    PASSED = "passed"
    """Within the metric's bounds."""
    FAILED = "failed"
    """Outside min/max."""
    INCONCLUSIVE = "inconclusive"
    """No data, NaN, or the provider could not be reached."""


class NoticeStatus(enum.StrEnum):
    """Where one notice of the outbox stands (``store/outbox.py``)."""

    PENDING = "pending"
    """Written with its event; not yet delivered to every sink of its environment."""
    SENT = "sent"
    """Every sink of its environment accepted it (or the environment has none)."""
    FAILED = "failed"
    """A sink kept refusing it until the sender gave up (``[alerts] attempts``); kept for people
    to read, never sent again."""

    @property
    def is_terminal(self) -> bool:
        """True when the sender will not touch the notice again."""
        return self is not NoticeStatus.PENDING
