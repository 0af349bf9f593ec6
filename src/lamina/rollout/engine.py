"""Driving a rollout: each step applies its clusters, waits for their workloads to roll out,
bakes, measures, and decides.

The rollout is a state machine in the state database (:mod:`lamina.store.rollouts`); the
driver reads where it stands, does the next piece of work and records the move, so a driver
killed at any point and started again (``rollout resume``, the server's scheduler) continues
where it was. Before a cluster is applied, what it ran before is recorded (``applying``); once
applied it is ``applied``; a resumed step ships only clusters not yet ``applied`` (a cluster
caught between the two is shipped again, which finds it already running the config and writes
nothing). Every write goes through :func:`lamina.ship.shipping.ship` (vetting, the rules,
records). One driver at a time holds the rollout's lease.

Decisions: a measurement outside its metric's bounds is ``failed``; more failed measurements
of one metric on one cluster than ``failure_limit`` fail the step, and every cluster the
rollout moved is shipped the revision it ran before (so its workload points back at the kept
ConfigMap). An inconclusive measurement (no data, NaN, Prometheus unreachable) pauses the
rollout until a person resumes (the step is measured again) or aborts (everything moved goes
back).
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lamina.clusters import connection, destinations, faults, secrets
from lamina.clusters.outcomes import ApplyOutcome
from lamina.core.states import MeasurementOutcome, RolloutClusterState, RolloutPhase, RolloutStatus
from lamina.core.targets import TargetRef
from lamina.errors import InputError, Refused, RuleRefused
from lamina.fleet import rollout_settings
from lamina.fleet.model import Cluster, Fleet
from lamina.guard import rules
from lamina.guard.actors import Actor
from lamina.render import configmaps
from lamina.resolve.repository import Repository
from lamina.rollout import clocks, prometheus, queries
from lamina.ship import shipping
from lamina.store import audit, rollouts
from lamina.store.database import Database
from lamina.store.rollouts import MeasurementRecord, RolloutRecord

POLL = 0.2
"""Seconds between looks at a workload's status."""
LEASE = timedelta(seconds=15)
"""How long a driver's lease lasts; it is renewed well before."""


class LeaseHeld(Refused):
    """Another driver holds the rollout (or took it over): this one lets it be."""


@dataclass(frozen=True)
class Event:
    """Something a rollout did, for the live display: a step, a cluster, a measurement."""

    rollout: int
    kind: str
    """started, phase, applied, rolled-out, measured, paused, failed, succeeded, rolled-back, aborted."""
    step: int
    text: str
    cluster: str | None = None
    metric: str | None = None
    value: float | None = None
    bound: str | None = None
    outcome: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (``--json`` streams, the API)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def holder_name() -> str:
    """Who drives: ``host:pid:random``, so a dead driver on this host can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Driver:
    """What driving a rollout needs; one per process (CLI) or per scheduler tick (server)."""

    repo: Repository
    db: Database
    kube: connection.KubeSettings
    lookups: secrets.Lookups
    actor: Actor
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: clocks.Clock = field(default_factory=clocks.SystemClock)
    holder: str = field(default_factory=holder_name)
    events: Callable[[Event], None] = lambda event: None
    alert: Callable[[RolloutRecord], None] = lambda record: None
    queries: int = 0
    """Prometheus queries sent so far."""

    # -- starting ------------------------------------------------------------------------

    def start(self, refs: Sequence[TargetRef], *, allow_dirty: bool = False) -> RolloutRecord:
        """Record a new rollout of refs (one environment), as ``[rollout]`` says for it.

        Raises:
            InputError: refs span environments, name revisions, or no ``[rollout]`` applies.
            Refused: config files have uncommitted changes (and no allow_dirty).
        """
        envs = sorted({ref.environment for ref in refs})
        if len(envs) != 1:
            raise InputError(f"a rollout moves one environment at a time, not {', '.join(envs) or 'none'}")
        if any(ref.revision for ref in refs):
            raise InputError("a rollout ships what git records now; leave @REVISION out")
        (env,) = envs
        plan = self.repo.fleet.settings.rollout.plan(env)
        if plan is None:
            raise InputError(f"no [rollout] in lamina.toml applies to {env!r}; apply without --rollout")
        dirty = shipping.dirty_config_files(self.repo)
        if dirty and not allow_dirty:
            raise Refused(
                f"config files have uncommitted changes ({', '.join(dirty[:5])}); a rollout ships a commit: "
                "commit them first"
            )
        clusters = sorted(
            (self.repo.fleet.cluster(ref.cluster or "") for ref in refs), key=lambda c: (c.wave, c.name)
        )
        picked = [step for step in rollout_settings.pick(plan.steps, clusters) if step]
        analysis = self.repo.fleet.settings.analysis(plan.analysis) if plan.analysis else None
        snapshot: dict[str, Any] = {
            "bake": plan.bake.total_seconds(),
            "timeout": plan.timeout.total_seconds(),
            "analysis": plan.analysis,
            "step_texts": [step.text for step in plan.steps],
        }
        if analysis is not None:
            snapshot.update(
                interval=analysis.interval.total_seconds(),
                count=analysis.count,
                failure_limit=analysis.failure_limit,
                metrics=[{"name": m.name, "min": m.min, "max": m.max} for m in analysis.metrics],
            )
        record = rollouts.create(
            self.db,
            environment=env,
            revision=self.repo.head() if not dirty else None,
            steps=[[c.name for c in step] for step in picked],
            plan=snapshot,
            actor=self.actor.name,
            at=self.clock.now(),
        )
        self.events(
            Event(
                record.id,
                "started",
                0,
                f"rollout {record.id} of {env}: {len(picked)} steps, revision {str(record.revision)[:12]}",
            )
        )
        return record

    # -- driving -------------------------------------------------------------------------

    def drive(self, rollout_id: int) -> RolloutRecord:
        """Drive the rollout until it ends or pauses; returns where it stands then.

        Raises:
            LeaseHeld: another driver holds the rollout.
        """
        self._take_lease(rollout_id)
        try:
            while True:
                record = rollouts.get(self.db, rollout_id)
                if record.status is not RolloutStatus.RUNNING:
                    return record
                self._renew(rollout_id)
                step = {
                    RolloutPhase.APPLY: self._apply,
                    RolloutPhase.WAIT: self._wait,
                    RolloutPhase.BAKE: self._bake,
                    RolloutPhase.MEASURE: self._measure,
                    RolloutPhase.ROLLBACK: self._rollback,
                }.get(record.phase)
                if step is None:
                    return record
                step(record)
        finally:
            rollouts.release_lease(self.db, rollout_id, self.holder, self.clock.now())

    def _take_lease(self, rollout_id: int) -> None:
        now = self.clock.now()
        if rollouts.take_lease(self.db, rollout_id, self.holder, now, now + LEASE):
            return
        current = rollouts.lease_holder(self.db, rollout_id, now)
        if (
            current is not None
            and _dead_here(current)
            and rollouts.take_over(self.db, rollout_id, current, self.holder, now + LEASE)
        ):
            return
        raise LeaseHeld(f"rollout {rollout_id} is being driven by {current or 'another process'}")

    def _renew(self, rollout_id: int) -> None:
        now = self.clock.now()
        if not rollouts.take_lease(self.db, rollout_id, self.holder, now, now + LEASE):
            raise LeaseHeld(f"rollout {rollout_id}: lost the lease to another driver")

    def _sleep_until(self, rollout_id: int, moment: datetime) -> bool:
        """Wait until moment, renewing the lease; False when the rollout stopped running meanwhile."""
        while True:
            left = (moment - self.clock.now()).total_seconds()
            if left <= 0:
                return True
            self.clock.sleep(min(left, LEASE.total_seconds() / 3))
            self._renew(rollout_id)
            if rollouts.get(self.db, rollout_id).status is not RolloutStatus.RUNNING:
                return False

    def _move(self, record: RolloutRecord, action: str, **changes: Any) -> bool:
        to = changes.pop("to", RolloutStatus.RUNNING)
        return rollouts.transition(
            self.db,
            record.id,
            from_statuses=(RolloutStatus.RUNNING,),
            to=to,
            actor=self.actor.name,
            action=action,
            at=self.clock.now(),
            expect_phase=record.phase,
            expect_step=record.step,
            **changes,
        )

    # -- the phases ----------------------------------------------------------------------

    def _ref(self, record: RolloutRecord, cluster: str, revision: str | None) -> TargetRef:
        return TargetRef(record.environment, cluster, revision)

    def _rendered(self, ref: TargetRef) -> configmaps.RenderedConfig:
        config = self.repo.resolve(ref)
        return configmaps.render_target(self.repo.fleet.settings, config, self.repo.source_revision(config))

    def _apply(self, record: RolloutRecord) -> None:
        members = record.step_clusters(record.step)
        self.events(
            Event(
                record.id,
                "phase",
                record.step,
                f"applying {len(members)} cluster{'s' if len(members) != 1 else ''}",
            )
        )
        pending = [c for c in members if c.state is RolloutClusterState.PENDING]
        workload = self.repo.fleet.settings.render.workload

        # resolving reads git through one helper process: render here, then ask the clusters at once
        rendered = {c.cluster: self._rendered(self._ref(record, c.cluster, record.revision)) for c in pending}

        def read(cluster: str) -> tuple[str, tuple[str | None, str | None]]:
            return cluster, self._previous(cluster, rendered[cluster], workload)

        with ThreadPoolExecutor(max_workers=self.kube.parallelism) as pool:
            found = list(pool.map(read, list(rendered)))
        for cluster, previous in found:
            rollouts.mark_cluster(
                self.db,
                record.id,
                cluster,
                from_states=(RolloutClusterState.PENDING,),
                to=RolloutClusterState.APPLYING,
                actor=self.actor.name,
                at=self.clock.now(),
                previous=previous,
            )
        todo = [c.cluster for c in members if c.state is not RolloutClusterState.APPLIED]
        failed: list[ApplyOutcome] = []

        def done(outcome: ApplyOutcome) -> None:
            if outcome.failed:
                failed.append(outcome)
                return
            rollouts.mark_cluster(
                self.db,
                record.id,
                outcome.cluster,
                from_states=(RolloutClusterState.APPLYING,),
                to=RolloutClusterState.APPLIED,
                actor=self.actor.name,
                at=self.clock.now(),
                configmap=outcome.configmap,
            )
            self.events(
                Event(record.id, "applied", record.step, outcome.result.value, cluster=outcome.cluster)
            )

        if todo:
            shipping.ship(
                self.repo,
                self.db,
                [self._ref(record, name, record.revision) for name in todo],
                actor=self.actor,
                kube=self.kube,
                lookups=self.lookups,
                now=self.clock.now(),
                done=done,
            )
        if failed:
            first = failed[0]
            self._fail(record, f"apply failed on {first.cluster}: {first.detail or first.result.value}")
            return
        self._move(record, "rollout.phase", phase=RolloutPhase.WAIT)

    def _previous(
        self, cluster: str, rendered: configmaps.RenderedConfig, workload: str | None
    ) -> tuple[str | None, str | None]:
        """The ConfigMap and revision the cluster runs now (None, None: nothing yet)."""
        destination = destinations.open_destination(self.repo.fleet.cluster(cluster), self.kube)
        try:
            found = destination.read(rendered, workload)
        except faults.ClusterFault:
            return None, None  # the apply finds out and fails the step
        finally:
            destination.close()
        return (found.name, found.revision) if found is not None else (None, None)

    def _wait(self, record: RolloutRecord) -> None:
        workload = self.repo.fleet.settings.render.workload
        names = [c.cluster for c in record.step_clusters(record.step)]
        deadline = record.phase_at + timedelta(seconds=float(record.plan.get("timeout", 600)))
        waiting = set(names) if workload else set()
        opened: dict[str, destinations.Destination] = {}  # one connection per cluster for the whole wait

        def look(name: str) -> tuple[str, bool, str]:
            if name not in opened:
                opened[name] = destinations.open_destination(self.repo.fleet.cluster(name), self.kube)
            try:
                status = opened[name].workload_rollout(workload or "")
            except faults.ClusterFault as exc:
                return name, False, exc.message
            return name, status is None or status.done, "" if status is None else status.summary

        try:
            self._wait_for(record, workload, deadline, waiting, look)
        finally:
            for destination in opened.values():
                destination.close()

    def _wait_for(
        self,
        record: RolloutRecord,
        workload: str | None,
        deadline: datetime,
        waiting: set[str],
        look: Callable[[str], tuple[str, bool, str]],
    ) -> None:
        last: dict[str, str] = {}
        while waiting:
            with ThreadPoolExecutor(max_workers=self.kube.parallelism) as pool:
                seen = list(pool.map(look, sorted(waiting)))
            for name, done, summary in seen:
                last[name] = summary
                if done:
                    waiting.discard(name)
                    self.events(Event(record.id, "rolled-out", record.step, summary, cluster=name))
            if not waiting:
                break
            if self.clock.now() >= deadline:
                name = sorted(waiting)[0]
                self._fail(
                    record,
                    f"{workload} on {name} did not roll out within {record.plan.get('timeout'):g}s "
                    f"({last.get(name, 'no status')})",
                )
                return
            if not self._sleep_until(record.id, min(deadline, self.clock.now() + timedelta(seconds=POLL))):
                return
        self._move(record, "rollout.phase", phase=RolloutPhase.BAKE)

    def _bake(self, record: RolloutRecord) -> None:
        bake = float(record.plan.get("bake", 0))
        self.events(Event(record.id, "phase", record.step, f"baking {bake:g}s"))
        if not self._sleep_until(record.id, record.phase_at + timedelta(seconds=bake)):
            return
        self._move(record, "rollout.phase", phase=RolloutPhase.MEASURE)

    def _measure(self, record: RolloutRecord) -> None:
        name = record.plan.get("analysis")
        if not name:
            self._passed(record)
            return
        analysis = self.repo.fleet.settings.analysis(str(name))
        interval = float(record.plan.get("interval", analysis.interval.total_seconds()))
        count = int(record.plan.get("count", analysis.count))
        limit = int(record.plan.get("failure_limit", analysis.failure_limit))
        members = [self.repo.fleet.cluster(c.cluster) for c in record.step_clusters(record.step)]
        url = self.environ.get(analysis.provider.url_env, "")
        start = rollouts.rounds_done(self.db, record.id, record.step, record.attempt)
        for round_ in range(start, count):
            if not self._sleep_until(record.id, record.phase_at + timedelta(seconds=interval * round_)):
                return
            taken = self._take(record, analysis, members, url, round_)
            rollouts.add_measurements(self.db, record.id, taken)
            unclear = [m for m in taken if m.outcome is MeasurementOutcome.INCONCLUSIVE]
            if unclear:
                first = unclear[0]
                reason = f"inconclusive: {first.metric} on {first.cluster}: {first.detail}"
                if self._move(record, "rollout.paused", to=RolloutStatus.PAUSED, reason=reason):
                    self.events(Event(record.id, "paused", record.step, reason))
                return
            failures: dict[tuple[str, str], int] = {}
            for item in rollouts.get(self.db, record.id).measurements:
                if (item.step, item.attempt) == (record.step, record.attempt) and (
                    item.outcome is MeasurementOutcome.FAILED
                ):
                    failures[(item.cluster, item.metric)] = failures.get((item.cluster, item.metric), 0) + 1
            over = sorted(key for key, n in failures.items() if n > limit)
            if over:
                cluster, metric = over[0]
                self._fail(
                    record,
                    f"{metric} on {cluster} out of bounds in {failures[over[0]]} measurements "
                    f"(failure_limit {limit})",
                )
                return
        self._passed(record)

    def _take(
        self,
        record: RolloutRecord,
        analysis: rollout_settings.Analysis,
        clusters: Sequence[Cluster],
        url: str,
        round_: int,
    ) -> list[MeasurementRecord]:
        taken, sent = measure(
            analysis, record.environment, clusters, url, self.clock.now(), record.step, record.attempt, round_
        )
        self.queries += sent
        by_name = {m.name: m for m in analysis.metrics}
        for item in taken:
            self.events(
                Event(
                    record.id,
                    "measured",
                    record.step,
                    item.detail or "ok",
                    cluster=item.cluster,
                    metric=item.metric,
                    value=item.value,
                    bound=by_name[item.metric].bound,
                    outcome=item.outcome.value,
                )
            )
        return taken

    def _passed(self, record: RolloutRecord) -> None:
        if record.step + 1 < record.steps:
            if self._move(record, "rollout.step-passed", phase=RolloutPhase.APPLY, step=record.step + 1):
                self.events(Event(record.id, "phase", record.step, "passed"))
            return
        if self._move(record, "rollout.succeeded", to=RolloutStatus.SUCCEEDED, phase=RolloutPhase.DONE):
            self.events(Event(record.id, "succeeded", record.step, "every step passed"))

    def _fail(self, record: RolloutRecord, reason: str) -> None:
        if self._move(record, "rollout.rolling-back", phase=RolloutPhase.ROLLBACK, reason=reason):
            self.events(Event(record.id, "failed", record.step, reason))

    def _rollback(self, record: RolloutRecord) -> None:
        moved = [c for c in record.clusters if c.state.moved]
        back = [c for c in moved if c.previous_revision is not None]
        stuck = [c.cluster for c in moved if c.previous_revision is None]
        failed: list[str] = []

        def done(outcome: ApplyOutcome) -> None:
            if outcome.failed:
                failed.append(f"{outcome.cluster}: {outcome.detail or outcome.result.value}")
                return
            rollouts.mark_cluster(
                self.db,
                record.id,
                outcome.cluster,
                from_states=(RolloutClusterState.APPLYING, RolloutClusterState.APPLIED),
                to=RolloutClusterState.ROLLED_BACK,
                actor=self.actor.name,
                at=self.clock.now(),
                configmap=outcome.configmap,
            )
            self.events(
                Event(record.id, "rolled-back", record.step, outcome.configmap, cluster=outcome.cluster)
            )

        if back:
            shipping.ship(
                self.repo,
                self.db,
                [self._ref(record, c.cluster, c.previous_revision) for c in back],
                actor=self.actor,
                kube=self.kube,
                lookups=self.lookups,
                now=self.clock.now(),
                done=done,
            )
        aborted = (record.reason or "").startswith("aborted")
        notes = []
        if stuck:
            notes.append(f"nothing to go back to on {', '.join(stuck)} (no earlier lamina config)")
        if failed:
            notes.append(f"rollback failed on {'; '.join(failed)}")
        reason = "; ".join([record.reason or "failed", *notes])
        status = RolloutStatus.ABORTED if aborted else RolloutStatus.FAILED
        if self._move(record, f"rollout.{status.value}", to=status, phase=RolloutPhase.DONE, reason=reason):
            final = rollouts.get(self.db, record.id)
            self.events(Event(record.id, status.value, record.step, reason))
            self.alert(final)


def measure(
    analysis: rollout_settings.Analysis,
    environment: str,
    clusters: Sequence[Cluster],
    url: str,
    now: datetime,
    step: int = 0,
    attempt: int = 0,
    round_: int = 0,
) -> tuple[list[MeasurementRecord], int]:
    """One round: every metric of analysis on every cluster (one batched query per metric where
    PromQL allows); returns the measurements and the number of queries sent."""
    out: list[MeasurementRecord] = []
    client = prometheus.Prometheus(url) if url else None
    try:
        for metric in analysis.metrics:
            found: dict[str, float] = {}
            problem: str | None = None
            if client is None:
                problem = f"${analysis.provider.url_env} is not set"
            else:
                try:
                    found = _values(client, metric, environment, clusters)
                except prometheus.ProviderDown as exc:
                    problem = exc.message
            for cluster in clusters:
                value = found.get(cluster.name)
                if problem is not None:
                    outcome, detail = MeasurementOutcome.INCONCLUSIVE, problem
                elif value is None or math.isnan(value):
                    outcome, detail = MeasurementOutcome.INCONCLUSIVE, "no data"
                elif metric.judge(value):
                    outcome, detail = MeasurementOutcome.PASSED, None
                else:
                    outcome, detail = MeasurementOutcome.FAILED, f"{value:g} not {metric.bound}"
                kept = None if value is None or math.isnan(value) else value
                out.append(
                    MeasurementRecord(
                        step, attempt, round_, cluster.name, metric.name, kept, outcome, detail, now
                    )
                )
    finally:
        sent = client.queries if client is not None else 0
        if client is not None:
            client.close()
    return out, sent


def _values(
    client: prometheus.Prometheus,
    metric: rollout_settings.Metric,
    environment: str,
    clusters: Sequence[Cluster],
) -> dict[str, float]:
    found: dict[str, float] = {}
    by_name = {c.name: c for c in clusters}
    for query in queries.plan(metric.query, environment, clusters):
        found.update(queries.spread(query, client.query(query.text)))
        missing = [name for name in query.clusters if name not in found]
        if query.label is not None and missing:
            # no series for some clusters: ask each alone, so "no data" is theirs, not the batch's
            for name in missing:
                (single,) = queries.plan(
                    metric.query.replace("${cluster.name}", name), environment, [by_name[name]]
                )
                found.update(queries.spread(single, client.query(single.text)))
    return found


MOVES = {
    "pause": rules.Action.PAUSE_ROLLOUT,
    "resume": rules.Action.RESUME_ROLLOUT,
    "abort": rules.Action.ABORT_ROLLOUT,
}
"""What a person may do to a rollout (``lamina rollout VERB ID``, the API, the dashboard's buttons)."""


def _authorize(
    fleet: Fleet, db: Database, rollout_id: int, verb: str, actor: Actor, at: datetime
) -> tuple[RolloutRecord, rules.Permit]:
    """The rollout, once :func:`lamina.guard.rules.authorize` lets actor make the move; a refusal
    is audited.

    The roles are asked before the rollout is looked up, so a caller without them learns
    nothing, not even whether the rollout exists.

    Raises:
        RuleRefused: the roles or a freeze said no.
        UnknownTargetError: no such rollout.
    """
    action = MOVES[verb]
    environment: str | None = None
    try:
        rules.authorize(actor, rules.Intent(action), fleet=None, db=None, now=at)
        record = rollouts.get(db, rollout_id)
        environment = record.environment
        intent = rules.Intent(action, (record.environment,))
        return record, rules.authorize(actor, intent, fleet=fleet, db=db, now=at)
    except RuleRefused as exc:
        audit.record(
            db,
            actor=actor.name,
            action=f"rollout.{verb}-refused",
            at=at,
            environment=environment,
            subject=f"rollout {rollout_id}",
            detail={"refusal": exc.message, "identity": actor.audit_detail()},
        )
        raise


def moves(fleet: Fleet, db: Database, record: RolloutRecord, actor: Actor, at: datetime) -> tuple[str, ...]:
    """What actor may do to the rollout as it stands (the dashboard's buttons): pause a running
    one, resume a paused one, abort either; nothing while it rolls back or once it ended."""
    if record.status is RolloutStatus.RUNNING and record.phase is not RolloutPhase.ROLLBACK:
        possible: tuple[str, ...] = ("pause", "abort")
    elif record.status is RolloutStatus.PAUSED:
        possible = ("resume", "abort")
    else:
        return ()
    return tuple(
        verb
        for verb in possible
        if rules.allowed(actor, rules.Intent(MOVES[verb], (record.environment,)), fleet=fleet, db=db, now=at)
    )


def pause(fleet: Fleet, db: Database, rollout_id: int, actor: Actor, at: datetime) -> RolloutRecord:
    """Pause a running rollout (its driver stops at its next look), when the rules let actor.

    Raises:
        RuleRefused: the rules said no (audited).
        Refused: it is not running.
    """
    _record, permit = _authorize(fleet, db, rollout_id, "pause", actor, at)
    name = permit.actor.name
    if not rollouts.transition(
        db,
        rollout_id,
        from_statuses=(RolloutStatus.RUNNING,),
        to=RolloutStatus.PAUSED,
        actor=name,
        action="rollout.paused",
        at=at,
        reason=f"paused by {name}",
        detail={"identity": permit.actor.audit_detail()},
    ):
        raise Refused(f"rollout {rollout_id} is {rollouts.get(db, rollout_id).status.value}, not running")
    return rollouts.get(db, rollout_id)


def resume(fleet: Fleet, db: Database, rollout_id: int, actor: Actor, at: datetime) -> RolloutRecord:
    """Let a paused rollout run again (a step paused while measuring is measured again), when the
    rules let actor; a running one is left running (its driver may have died: drive it).

    Raises:
        RuleRefused: the rules said no, e.g. its environment is frozen (audited).
        Refused: it has ended.
    """
    record, permit = _authorize(fleet, db, rollout_id, "resume", actor, at)
    if record.status is RolloutStatus.RUNNING:
        return record
    remeasure = record.phase is RolloutPhase.MEASURE
    if not rollouts.transition(
        db,
        rollout_id,
        from_statuses=(RolloutStatus.PAUSED,),
        to=RolloutStatus.RUNNING,
        actor=permit.actor.name,
        action="rollout.resumed",
        at=at,
        phase=record.phase if remeasure else None,
        next_attempt=remeasure,
        detail={"identity": permit.actor.audit_detail()},
    ):
        raise Refused(
            f"rollout {rollout_id} is {rollouts.get(db, rollout_id).status.value}; it cannot resume"
        )
    return rollouts.get(db, rollout_id)


def abort(fleet: Fleet, db: Database, rollout_id: int, actor: Actor, at: datetime) -> RolloutRecord:
    """Stop a running or paused rollout, when the rules let actor; its driver then sends every
    moved cluster back.

    Raises:
        RuleRefused: the rules said no (audited).
        Refused: it has ended.
    """
    _record, permit = _authorize(fleet, db, rollout_id, "abort", actor, at)
    name = permit.actor.name
    if not rollouts.transition(
        db,
        rollout_id,
        from_statuses=(RolloutStatus.RUNNING, RolloutStatus.PAUSED),
        to=RolloutStatus.RUNNING,
        actor=name,
        action="rollout.aborting",
        at=at,
        phase=RolloutPhase.ROLLBACK,
        reason=f"aborted by {name}",
        detail={"identity": permit.actor.audit_detail()},
    ):
        raise Refused(f"rollout {rollout_id} is {rollouts.get(db, rollout_id).status.value}; it cannot abort")
    return rollouts.get(db, rollout_id)


def _dead_here(holder: str) -> bool:
    """True when holder names a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
