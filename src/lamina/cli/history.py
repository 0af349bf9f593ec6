"""``lamina history ENV [--stats]`` and ``lamina rollback ENV --to REV``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lamina.cli import commands, completing, lazy, output, promote, remote
from lamina.cli.promote import now, print_request
from lamina.cli.secrets import secret_lookups
from lamina.cli.session import session
from lamina.errors import InputError

if TYPE_CHECKING:
    from lamina.promote import history as promotion_history
    from lamina.promote import requests
else:
    promotion_history = lazy.module("lamina.promote.history")
    requests = lazy.module("lamina.promote.requests")


@click.command()
@click.argument(
    "environment",
    required=False,
    help="The environment (optional with --stats).",
    metavar="ENV",
    shell_complete=completing.environments,
)
@click.option("--stats", "stats", is_flag=True, help="The four DORA figures from lamina's records.")
@commands.json_option
@click.pass_context
def history(ctx: click.Context, environment: str | None, stats: bool, as_json: bool) -> None:
    """Pins, promotions and applies of ENV, newest first; or, with --stats, the DORA figures."""
    state = session(ctx)
    repo = state.repository()
    db = state.database()
    if stats:
        figures = promotion_history.stats(repo, db, now(), [environment] if environment else [])
        if as_json:
            output.print_json(figures)
            return
        output.out.print(f"last {figures['window_days']} days")
        for env, row in figures["deployment_frequency"].items():
            output.out.print(
                f"  deployment frequency {env}: {row['per_week']}/week "
                f"({row['promotions']} promotions in all)"
            )
        lead, cfr, ttr = (
            figures["lead_time_hours"],
            figures["change_failure_rate"],
            figures["time_to_restore_hours"],
        )
        output.out.print(
            f"  lead time to production: {_median(lead['median'], lead['samples'], 'promotions')}"
        )
        if cfr["rate"] is None:
            output.out.print("  change failure rate: no promotions yet")
        else:
            output.out.print(
                f"  change failure rate: {cfr['rate']} ({cfr['failures']} of {cfr['promotions']} promotions)"
            )
        output.out.print(f"  time to restore: {_median(ttr['median'], ttr['samples'], 'rollbacks')}")
        return
    if environment is None:
        raise InputError("history needs an environment (or --stats)")
    rows = promotion_history.events(repo, db, environment, now())
    if as_json:
        output.print_json([row.to_json() for row in rows])
        return
    styles = {"emergency": "red bold", "rollback": "yellow", "pin": "bold"}
    output.print_table(
        ["TIME", "KIND", "REVISION", "ACTOR", "REQUEST", "DETAIL"],
        [
            [
                output.moment(row.to_json()["time"]),
                output.styled(row.kind, styles.get(row.kind, "")),
                (row.revision or "-")[:12],
                row.actor or "-",
                row.request or "-",
                row.detail,
            ]
            for row in rows
        ],
    )


@click.command()
@click.argument(
    "environment", help="The environment to roll back.", metavar="ENV", shell_complete=completing.environments
)
@click.option("--to", "to", required=True, help="The older revision ENV should run again.")
@click.option("--reason", "reason", help="Why (recorded and committed).")
@commands.json_option
@click.pass_context
def rollback(ctx: click.Context, environment: str, to: str, reason: str | None, as_json: bool) -> None:
    """Request a rollback of ENV to an older revision: a promotion with the same gates and approvals."""
    if remote.server() is not None:
        body = {"environment": environment, "to": to, "reason": reason}
        promote.print_opened(remote.call("POST", "/promotions/rollbacks", body), as_json)
        return
    state = session(ctx)
    with secret_lookups(state.repository()) as lookups:
        record = requests.rollback(
            state.repository(),
            state.database(),
            target=environment,
            to=to,
            actor=state.actor_identity(),
            now=now,
            reason=reason,
            lookups=lookups,
        )
    print_request(record, as_json)
    if record.status == requests.Status.FAILED:
        raise click.exceptions.Exit(1)


def _median(hours: float | None, samples: int, of: str) -> str:
    """``median 3.5 h over 4 promotions``, or ``no promotions yet`` when there is nothing to measure."""
    if hours is None or not samples:
        return f"no {of} yet"
    return f"median {hours} h over {samples} {of}"
