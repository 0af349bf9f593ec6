"""``lamina notices [--send]``: the outbox of notices, and delivering what is due from here.

Every event worth a notice (a request awaiting approval, a failed gate, apply or rollout, an
overdue backfill, drift) writes one to the state database with the event itself; ``lamina
serve`` delivers them. Without a server, ``--send`` delivers what is due once, to the sinks
``[alerts]`` names (their URLs and keys from this process' environment variables).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from lamina.cli import commands, completing, lazy, output
from lamina.cli.session import session
from lamina.errors import InputError

if TYPE_CHECKING:
    from lamina.core import states
    from lamina.notify import sending, sinks
    from lamina.notify import settings as notify_settings
    from lamina.store import outbox
else:
    states = lazy.module("lamina.core.states")
    sending = lazy.module("lamina.notify.sending")
    sinks = lazy.module("lamina.notify.sinks")
    notify_settings = lazy.module("lamina.notify.settings")
    outbox = lazy.module("lamina.store.outbox")

_STYLES = {"pending": "yellow", "sent": "green", "failed": "red bold"}


@click.command()
@click.option("--send", "send", is_flag=True, help="Deliver the notices due now, then list.")
@click.option("--status", "status", help="Only notices in this status: pending, sent, failed.")
@click.option(
    "--env", "environment", help="Only notices of this environment.", shell_complete=completing.environments
)
@click.option("--limit", "limit", type=int, default=50, help="Show at most this many, newest first.")
@commands.json_option
@click.pass_context
def notices(
    ctx: click.Context, send: bool, status: str | None, environment: str | None, limit: int, as_json: bool
) -> None:
    """List the outbox's notices (newest first); --send delivers those due."""
    wanted: tuple[states.NoticeStatus, ...] = ()
    if status is not None:
        try:
            wanted = (states.NoticeStatus(status),)
        except ValueError:
            raise InputError(f"--status must be pending, sent or failed, not {status!r}") from None
    current = session(ctx)
    db = current.database()
    report = None
    if send:
        repo = current.repository()
        configured = notify_settings.load(repo.fleet.settings.alerts, os.environ)
        sender = sending.Sender(
            outbox.Mailbox(db),
            sinks.build_routes(configured.routes),
            public_url=repo.fleet.settings.server.public_url,
        )
        try:
            report = sender.send_due()
        finally:
            sender.stop()
    found = outbox.notices_in(db, wanted, environment, limit)
    if as_json:
        data: dict[str, object] = {"notices": [n.to_json() for n in found]}
        if report is not None:
            data["sent"] = {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}
        output.print_json(data)
        return
    if report is not None:
        line = f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}"
        output.out.print(output.styled(line, "red" if report.retrying or report.failed else "green"))
        for error in report.errors:
            output.err.print(output.styled(error, "yellow"))
    output.print_table(
        ["ID", "CREATED", "TOPIC", "ENVIRONMENT", "SUBJECT", "STATUS", "TRIES", "LAST ERROR"],
        [
            [
                str(n.id),
                output.moment(n.created_at),
                n.topic.value,
                n.environment or "-",
                n.subject or "-",
                output.cell(n.status.value, _STYLES[n.status.value]),
                str(n.attempts),
                n.last_error or "",
            ]
            for n in found
        ],
    )
