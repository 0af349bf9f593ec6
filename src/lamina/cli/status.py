"""``lamina status``: the promotion path, drift, what awaits you, backfills, freezes and rollouts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from lamina.cli import commands, output
from lamina.cli.session import session


@click.command()
@commands.json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """One screen: environments in promotion order with pins and lag, drift, requests awaiting you."""
    from lamina.promote import overview

    current = session(ctx)
    found = overview.status(
        current.repository(), current.database(), current.actor_identity(), datetime.now(UTC)
    )
    if as_json:
        output.print_json(found)
        return
    output.print_table(
        ["ENVIRONMENT", "PIN", "BEHIND UPSTREAM", "DRIFT", "FROZEN"],
        [_environment_row(env) for env in found["environments"]],
        title="promotion path",
    )
    waiting = found["awaiting_you"]
    output.out.print(
        output.cell(
            f"\n{len(waiting)} of {found['open_requests']} open requests await {found['user']}", "bold"
        )
    )
    for item in waiting:
        emergency = " EMERGENCY" if item["emergency"] else ""
        output.out.print(
            f"  {item['id']}  {item['kind']}{emergency} {item['source'] or ''} -> {item['target']}  "
            f"by {item['requested_by']} at {item['requested_at']}: {item['reason'] or ''}".rstrip(": ")
        )
    backfills = found["open_backfills"]
    output.out.print(output.cell(f"\n{len(backfills)} open backfills", "bold"))
    for item in backfills:
        due = f" (due {item['due']})" if item["due"] else ""
        lagging = ", ".join(item["lagging"])
        output.out.print(f"  {item['id']} into {item['target']}: {item['state']}{due}; lagging: {lagging}")
    rollouts = found["rollouts"]
    output.out.print(output.cell(f"\n{len(rollouts)} rollouts in progress", "bold"))
    for item in rollouts:
        style = "yellow" if item["status"] == "paused" else "cyan"
        reason = f": {item['reason']}" if item["reason"] else ""
        output.out.print(
            f"  rollout {item['id']} {item['environment']} ",
            output.cell(item["status"], style),
            f" step {item['step']}/{item['steps']} ({item['phase']}){reason}",
            sep="",
        )


def _environment_row(env: dict[str, Any]) -> list[str | output.Text]:
    drift = ", ".join(f"{count} {state}" for state, count in env["drift"].items()) or "not checked"
    if env["behind"] is None:
        behind = "-" if env["upstream"] is None else "?"
    else:
        count = env["behind"]
        plural = "s" if count != 1 else ""
        behind = f"{count} commit{plural} behind {env['upstream']}" if count else "up to date"
    frozen = env["frozen"]
    return [
        output.cell(env["name"], "bold"),
        env["pin"][:12] if env["pin"] else "working tree",
        behind,
        drift,
        f"until {frozen['until']} ({frozen['reason']})" if frozen else "-",
    ]
