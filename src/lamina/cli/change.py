"""``lamina change request ENV`` and ``lamina change apply ID``: let edits outside base/ reach a
protected environment, with the same gates, approvals and stale rule as a promotion.

A change request shares the ``PR-N`` ids, and ``lamina promote list|show|approve|reject``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lamina.cli import completing, lazy, promote, remote
from lamina.cli.promote import now, print_request
from lamina.cli.secrets import secret_lookups
from lamina.cli.session import session

if TYPE_CHECKING:
    from lamina.promote import applying, requests
else:
    applying = lazy.module("lamina.promote.applying")
    requests = lazy.module("lamina.promote.requests")

app = typer.Typer(
    help="Request and apply changes outside base/ (overlays, cluster layers) for protected environments.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("request")
def request(
    ctx: typer.Context,
    environment: Annotated[
        str,
        typer.Argument(
            help="The environment whose committed configs should ship.",
            autocompletion=completing.environments,
        ),
    ],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
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
        raise typer.Exit(1 if said_no else 3)


@app.command("apply")
def apply(
    ctx: typer.Context,
    request_id: Annotated[
        str, typer.Argument(metavar="ID", help="PR-7 or 7.", autocompletion=completing.request_ids)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Let the approved change request's configs ship (then `lamina apply ENV` ships them)."""
    promote.apply(ctx, request_id, as_json)  # a change request is applied like any request
