"""``lamina audit [--verify]``: the append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from lamina.cli import commands, completing, lazy, output
from lamina.cli.session import session
from lamina.errors import InputError
from lamina.fleet import durations

if TYPE_CHECKING:
    from lamina.store import audit as audit_log
else:
    audit_log = lazy.module("lamina.store.audit")


@click.command()
@click.option("--verify", "verify", is_flag=True, help="Check the hash chain; exit 1 if broken.")
@click.option("--limit", "limit", type=int, default=100, help="Show at most this many rows, newest first.")
@commands.json_option
@click.option(
    "--env", "environment", help="Only rows about this environment.", shell_complete=completing.environments
)
@click.option("--actor", "actor", help="Only rows by this user.")
@click.option("--action", "action", help="Only this action (freeze matches freeze.* too).")
@click.option("--since", "since", help="Only rows at or after: an ISO 8601 time or a duration ago (7d).")
@click.pass_context
def audit(
    ctx: click.Context,
    verify: bool,
    limit: int,
    as_json: bool,
    environment: str | None,
    actor: str | None,
    action: str | None,
    since: str | None,
) -> None:
    """Show the audit log, or verify that no row was edited, removed or reordered."""
    db = session(ctx).database()
    if verify:
        result = db.read(audit_log.verify)
        if as_json:
            output.print_json(
                {
                    "ok": result.ok,
                    "rows": result.rows,
                    "first_broken": result.first_broken,
                    "problem": result.problem,
                }
            )
        elif result.ok:
            output.out.print(output.styled(f"audit chain intact: {result.rows} rows", "green"))
        else:
            output.out.print(
                output.styled(
                    f"audit chain broken at row {result.first_broken}: {result.problem}", "red bold"
                )
            )
        if not result.ok:
            raise click.exceptions.Exit(1)
        return
    start = _since(since) if since is not None else None
    rows = db.read(
        lambda s: [
            audit_log.to_json(r)
            for r in audit_log.newest(
                s, limit, environment=environment, actor=actor, action=action, since=start
            )
        ]
    )
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["#", "TIME", "ACTOR", "ACTION", "ENVIRONMENT", "SUBJECT", "DETAIL"],
        [
            [
                str(r["seq"]),
                output.moment(r["time"]),
                r["actor"],
                output.styled(r["action"], "red" if "emergency" in r["action"] else ""),
                r["environment"] or "-",
                r["subject"] or "-",
                _essentials(r["detail"]),
            ]
            for r in rows
        ],
    )


ESSENTIAL = ("reason", "until", "result", "config_hash", "revision", "forced", "overridden", "comment")
"""The details of a row worth a glance, in this order (``--json`` has them all)."""


def _essentials(detail: dict[str, Any] | None) -> str:
    shown = []
    for key in ESSENTIAL:
        value = (detail or {}).get(key)
        if value in (None, "", [], {}, False):
            continue
        if key in ("config_hash", "revision") and isinstance(value, str):
            value = value[:12]
        shown.append(f"{key}={value if isinstance(value, str) else output.short_value(value, 60)}")
    return "; ".join(shown) or "-"


def _since(text: str) -> datetime:
    """``--since``: a duration back from now (``7d``, ``12h``) or an ISO 8601 time (UTC without a zone)."""
    try:
        return datetime.now(UTC) - durations.parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--since {text!r} is neither an ISO 8601 time nor a duration like '7d'") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
