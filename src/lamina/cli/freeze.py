"""``lamina freeze ENV --until T --reason R`` and ``lamina unfreeze ENV``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lamina.cli import completing, lazy, output, remote
from lamina.cli.promote import now
from lamina.cli.session import session

if TYPE_CHECKING:
    from lamina.promote import freezes
else:
    freezes = lazy.module("lamina.promote.freezes")


@click.command()
@click.argument(
    "environment", help="The environment to freeze.", metavar="ENV", shell_complete=completing.environments
)
@click.option("--until", "until", required=True, help="An ISO time (UTC if no zone) or a duration like 4h.")
@click.option("--reason", "reason", required=True, help="Why (shown to anyone refused).")
@click.pass_context
def freeze(ctx: click.Context, environment: str, until: str, reason: str) -> None:
    """Refuse promotions into ENV (except emergency ones) until a time."""
    if remote.server() is not None:
        answer = remote.call("PUT", f"/freezes/{environment}", {"until": until, "reason": reason})
        output.out.print(f"{answer['environment']} frozen until {answer['until']}: {answer['reason']}")
        return
    state = session(ctx)
    env = state.repository().fleet.environment(environment).name
    moment = now()
    end = freezes.parse_until(until, moment)
    freezes.freeze(
        state.repository(),
        state.database(),
        env,
        until=end,
        reason=reason,
        actor=state.actor_identity(),
        now=moment,
    )
    output.out.print(f"{env} frozen until {output.moment(end)}: {reason}")


@click.command()
@click.argument(
    "environment", help="The environment to unfreeze.", metavar="ENV", shell_complete=completing.environments
)
@click.pass_context
def unfreeze(ctx: click.Context, environment: str) -> None:
    """Lift the manual freeze of ENV (windows in lamina.toml still apply)."""
    if remote.server() is not None:
        answer = remote.call("DELETE", f"/freezes/{environment}")
        output.out.print(
            f"{answer['environment']} " + ("unfrozen" if answer["unfrozen"] else "had no manual freeze")
        )
        return
    state = session(ctx)
    repo = state.repository()
    env = repo.fleet.environment(environment).name
    if freezes.unfreeze(repo, state.database(), env, actor=state.actor_identity(), now=now()):
        output.out.print(f"{env} unfrozen")
    else:
        output.out.print(f"{env} had no manual freeze")
