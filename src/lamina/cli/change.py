"""``lamina change request ENV`` and ``lamina change apply ID``: let edits outside base/ reach a
protected environment, with the same gates, approvals and stale rule as a promotion.

A change request shares the ``PR-N`` ids, and ``lamina promote list|show|approve|reject``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lamina.cli import commands, completing, lazy, promote, remote
from lamina.cli.promote import now, print_request
from lamina.cli.secrets import secret_lookups
from lamina.cli.session import session

if TYPE_CHECKING:
    from lamina.promote import applying, requests
else:
    applying = lazy.module("lamina.promote.applying")
    requests = lazy.module("lamina.promote.requests")


@click.group(cls=commands.Group, no_args_is_help=True)
def app() -> None:
    """Request and apply changes outside base/ (overlays, cluster layers) for protected environments."""


@app.command("request")
@click.argument(
    "environment",
    help="The environment whose committed configs should ship.",
    shell_complete=completing.environments,
)
@click.option("--reason", "reason", help="Why (recorded).")
@commands.json_option
@click.pass_context
def request(ctx: click.Context, environment: str, reason: str | None, as_json: bool) -> None:
    """Request that ENV's configs as committed (HEAD) may ship; the gates run (exit 1 if one fails)."""
    if remote.server() is not None:
        body = {"environment": environment, "reason": reason}
        promote.print_opened(remote.call("POST", "/promotions/changes", body), as_json)
        return
    state = session(ctx)
    repo = state.repository()
    with secret_lookups(repo) as lookups:
        record = requests.change(
            repo,
            state.database(),
            target=environment,
            actor=state.actor_identity(),
            now=now,
            reason=reason,
            lookups=lookups,
        )
    print_request(record, as_json)
    if record.status == requests.Status.FAILED:
        said_no = any(g.status == "failed" for g in record.gates)
        raise click.exceptions.Exit(1 if said_no else 3)


@app.command("apply")
@click.argument("request_id", help="PR-7 or 7.", metavar="ID", shell_complete=completing.request_ids)
@commands.json_option
@click.pass_context
def apply(ctx: click.Context, request_id: str, as_json: bool) -> None:
    """Let the approved change request's configs ship (then `lamina apply ENV` ships them)."""
    promote.apply(ctx, request_id, as_json)  # a change request is applied like any request
