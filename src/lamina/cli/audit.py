"""``lamina audit [--verify]``: the append-only, hash-chained audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lamina.cli import lazy, output
from lamina.cli.session import session

if TYPE_CHECKING:
    from lamina.store import audit as audit_log
else:
    audit_log = lazy.module("lamina.store.audit")


def audit(
    ctx: typer.Context,
    verify: Annotated[bool, typer.Option("--verify", help="Check the hash chain; exit 1 if broken.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many rows, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
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
            raise typer.Exit(1)
        return
    rows = db.read(lambda s: [audit_log.to_json(r) for r in audit_log.newest(s, limit)])
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["#", "TIME", "ACTOR", "ACTION", "ENVIRONMENT", "SUBJECT"],
        [
            [
                str(r["seq"]),
                r["time"],
                r["actor"],
                output.styled(r["action"], "red" if "emergency" in r["action"] else ""),
                r["environment"] or "-",
                r["subject"] or "-",
            ]
            for r in rows
        ],
    )
