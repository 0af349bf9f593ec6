"""``lamina apply TARGET... --rollout`` and ``lamina rollout status|pause|resume|abort``.

On a terminal the rollout shows live (each step, cluster and metric with its value against its
bound, as it happens); piped, it prints one plain line per event; ``--json`` prints the
rollout as it ended.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from lamina.cli import commands, lazy, output
from lamina.cli.session import Session, session
from lamina.clusters import connection, secrets
from lamina.core.states import PromotionStatus, RolloutStatus
from lamina.core.targets import TargetRef
from lamina.errors import Refused

if TYPE_CHECKING:
    from lamina.rollout import engine
    from lamina.store import rollouts
    from lamina.store.rollouts import RolloutRecord
else:
    engine = lazy.module("lamina.rollout.engine")
    rollouts = lazy.module("lamina.store.rollouts")


@click.group(cls=commands.Group, no_args_is_help=True)
def app() -> None:
    """Rollouts: an environment moved step by step, judged by its metrics."""


_STATUS_STYLES = {
    RolloutStatus.RUNNING: "cyan",
    RolloutStatus.PAUSED: "yellow",
    RolloutStatus.SUCCEEDED: "green",
    RolloutStatus.FAILED: "red",
    RolloutStatus.ABORTED: "red",
}
_OUTCOME_STYLES = {"passed": "green", "failed": "red", "inconclusive": "yellow"}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _driver(
    state: Session, kube: connection.KubeSettings, lookups: secrets.Lookups, live: bool
) -> engine.Driver:
    return engine.Driver(
        repo=state.repository(),
        db=state.database(),
        kube=kube,
        lookups=lookups,
        actor=state.actor_identity(),
        events=_show if live else (lambda event: None),
    )


def _show(event: engine.Event) -> None:
    """One line per event: styled on a terminal, plain when piped."""
    where = f"step {event.step + 1}"
    if event.kind == "measured":
        value = "no data" if event.value is None else f"{event.value:.4g}"
        outcome = event.outcome or ""
        output.out.print(
            f"{where}  {event.cluster}  {event.metric} = {value} ({event.bound})  ",
            output.styled(outcome, _OUTCOME_STYLES.get(outcome, "")),
            sep="",
        )
    elif event.cluster:
        output.out.print(f"{where}  {event.cluster}  {event.kind}: {event.text}")
    else:
        style = {"failed": "red bold", "paused": "yellow bold", "succeeded": "green bold"}.get(
            event.kind, "bold"
        )
        output.out.print(output.styled(f"{where}  {event.text}", style))


def run(state: Session, refs: Sequence[TargetRef], *, allow_dirty: bool, as_json: bool) -> None:
    """Start a rollout of refs and drive it until it ends or pauses (``apply --rollout``)."""
    from lamina.cli.apply import kube_settings

    repo = state.repository()
    kube = kube_settings(repo)
    with secrets.Lookups.from_environment(os.environ, kube) as lookups:
        driver = _driver(state, kube, lookups, live=not as_json)
        record = driver.start(refs, allow_dirty=allow_dirty)
        final = driver.drive(record.id)
    _finish(final, as_json)


def _finish(record: RolloutRecord, as_json: bool) -> None:
    if as_json:
        output.print_json(record.to_json())
    else:
        _print_status(record)
    if record.status in (RolloutStatus.FAILED, RolloutStatus.ABORTED):
        raise click.exceptions.Exit(1)


def _print_status(record: RolloutRecord) -> None:
    style = _STATUS_STYLES.get(record.status, "")
    output.out.print(
        output.styled(f"rollout {record.id}", "bold"),
        f" {record.environment} ",
        output.styled(record.status.value, style),
        f" (step {min(record.step + 1, record.steps)}/{record.steps}, {record.phase.value})",
        sep="",
    )
    if record.reason:
        output.out.print(f"  {record.reason}")
    latest: dict[tuple[str, str], tuple[float | None, str]] = {}
    for item in record.measurements:
        latest[(item.cluster, item.metric)] = (item.value, item.outcome.value)
    rows = []
    for cluster in record.clusters:
        metrics = "; ".join(
            f"{metric}={'-' if value is None else f'{value:.4g}'} {outcome}"
            for (name, metric), (value, outcome) in sorted(latest.items())
            if name == cluster.cluster
        )
        rows.append(
            [
                str(cluster.step + 1),
                cluster.cluster,
                cluster.state.value,
                cluster.configmap or "-",
                metrics or "-",
            ]
        )
    output.print_table(["STEP", "CLUSTER", "STATE", "CONFIGMAP", "LATEST MEASUREMENTS"], rows)


@app.command("status")
@click.argument("rollout_id", type=int, required=False, help="A rollout id (default: the newest rollouts).")
@commands.json_option
@click.pass_context
def status(ctx: click.Context, rollout_id: int | None, as_json: bool) -> None:
    """Show a rollout: its steps, clusters and measurements (or list the newest rollouts)."""
    state = session(ctx)
    db = state.database()
    if rollout_id is not None:
        record = rollouts.get(db, rollout_id)
        if as_json:
            output.print_json(record.to_json())
        else:
            _print_status(record)
        return
    found = rollouts.list_rollouts(db)
    if as_json:
        output.print_json([r.to_json(measurements=False) for r in found])
        return
    output.print_table(
        ["ID", "ENVIRONMENT", "STATUS", "STEP", "PHASE", "STARTED", "REASON"],
        [
            [
                str(r.id),
                r.environment,
                output.styled(r.status.value, _STATUS_STYLES.get(r.status, "")),
                f"{min(r.step + 1, r.steps)}/{r.steps}",
                r.phase.value,
                r.created_at.strftime("%Y-%m-%d %H:%M"),
                r.reason or "-",
            ]
            for r in found
        ],
    )


@app.command("pause")
@click.argument("rollout_id", type=int, help="The rollout.")
@click.pass_context
def pause(ctx: click.Context, rollout_id: int) -> None:
    """Pause a running rollout (it stops at its driver's next look)."""
    state = session(ctx)
    fleet = state.repository().fleet
    record = engine.pause(fleet, state.database(), rollout_id, state.actor_identity(), _now())
    _print_status(record)


@app.command("resume")
@click.argument("rollout_id", type=int, help="The rollout.")
@commands.json_option
@click.pass_context
def resume(ctx: click.Context, rollout_id: int, as_json: bool) -> None:
    """Resume a paused (or orphaned) rollout and drive it until it ends or pauses."""
    from lamina.cli.apply import kube_settings

    state = session(ctx)
    engine.resume(state.repository().fleet, state.database(), rollout_id, state.actor_identity(), _now())
    kube = kube_settings(state.repository())
    with secrets.Lookups.from_environment(os.environ, kube) as lookups:
        final = _driver(state, kube, lookups, live=not as_json).drive(rollout_id)
    _finish(final, as_json)


@app.command("abort")
@click.argument("rollout_id", type=int, help="The rollout.")
@commands.json_option
@click.pass_context
def abort(ctx: click.Context, rollout_id: int, as_json: bool) -> None:
    """Abort a rollout: every cluster it moved goes back to the config it ran before."""
    from lamina.cli.apply import kube_settings

    state = session(ctx)
    engine.abort(state.repository().fleet, state.database(), rollout_id, state.actor_identity(), _now())
    kube = kube_settings(state.repository())
    with secrets.Lookups.from_environment(os.environ, kube) as lookups:
        try:
            final = _driver(state, kube, lookups, live=not as_json).drive(rollout_id)
        except Refused:  # its driver elsewhere sends the clusters back
            final = rollouts.get(state.database(), rollout_id)
    if as_json:
        output.print_json(final.to_json())
    else:
        _print_status(final)


@app.command("verify")
@click.argument("request_id", help="A promoted request, PR-N.")
@commands.json_option
@click.pass_context
def verify(ctx: click.Context, request_id: str, as_json: bool) -> None:
    """Run [promotion] verify's analysis on a promoted request's target environment.

    Exit 1 when it fails (a rollback request is opened), 3 when it was inconclusive.
    """
    from lamina.cli.apply import kube_settings
    from lamina.promote import requests, verification

    state = session(ctx)
    repo = state.repository()
    with secrets.Lookups.from_environment(os.environ, kube_settings(repo)) as lookups:
        done = verification.verify(
            repo,
            state.database(),
            requests.parse_id(request_id),
            actor=state.actor_identity(),
            environ=os.environ,
            lookups=lookups,
        )
    record = done.request
    if as_json:
        output.print_json(
            {
                "request": requests.format_id(record.id),
                "status": record.status.value,
                "measurements": [m.to_json() for m in done.measurements],
                "rollback": requests.format_id(done.rollback.id) if done.rollback else None,
            }
        )
    else:
        style = "green" if record.status is PromotionStatus.VERIFIED else "red"
        output.out.print(
            requests.format_id(record.id), " ", output.styled(record.status.value, style), sep=""
        )
        for item in done.measurements:
            value = "-" if item.value is None else f"{item.value:.4g}"
            output.out.print(f"  {item.cluster}  {item.metric} = {value}  {item.outcome.value}")
        if done.rollback is not None:
            output.out.print(f"opened rollback request {requests.format_id(done.rollback.id)}")
    if record.status is PromotionStatus.VERIFICATION_FAILED:
        raise click.exceptions.Exit(1)
