"""``lamina validate [ENV...]``: schemas, policies, ordered keys, credentials, locks, lint (exit 1 on any)."""

from __future__ import annotations

import click

from lamina.cli import commands, completing, output
from lamina.cli.session import session
from lamina.validate import runner
from lamina.validate.diagnostics import Diagnostic, Severity


@click.command()
@commands.names_argument("environments", "Environments to validate (default: all).", completing.environments)
@commands.json_option
@click.pass_context
def validate(ctx: click.Context, environments: list[str] | None, as_json: bool) -> None:
    """Check every target and report every problem. Exit 1 when there is any."""
    repo = session(ctx).repository()
    report = runner.run(
        repo, environments or (), progress=lambda total: output.progress("validating", total, quiet=as_json)
    )
    if as_json:
        output.print_json(
            {
                "ok": report.ok,
                "targets": len(report.targets),
                "problems": [diagnostic.to_json() for diagnostic in report.diagnostics],
            }
        )
    else:
        print_report(report)
    if not report.ok:
        raise click.exceptions.Exit(1)


def print_report(report: runner.Report) -> None:
    """Problems grouped by target (then by file for problems that belong to no one target)."""
    count = len(report.targets)
    targets = f"{count} target{'s' if count != 1 else ''}"
    if report.ok:
        output.out.print(output.styled(f"{targets} valid", "green"))
        return
    groups: dict[str, list[Diagnostic]] = {}
    for diagnostic in report.diagnostics:
        groups.setdefault(diagnostic.where, []).append(diagnostic)
    for where, diagnostics in groups.items():
        output.out.print(output.styled(where, "bold"))
        rows: list[list[str | output.Text]] = []
        for diagnostic in diagnostics:
            kind = diagnostic.check.value
            if diagnostic.severity is Severity.WARNING:
                kind += " (warning)"
            # Text cells, not str: rich would read "[locks]" in a message as markup and drop it
            rows.append(
                [
                    output.Text(str(diagnostic.place) if diagnostic.place is not None else ""),
                    output.styled(kind, "yellow" if diagnostic.severity is Severity.WARNING else "red"),
                    output.Text(diagnostic.key or ""),
                    output.Text(diagnostic.message),
                ]
            )
        output.print_table(["PLACE", "CHECK", "KEY", "PROBLEM"], rows)
    problems = len(report.diagnostics)
    output.out.print(
        output.styled(f"{problems} problem{'s' if problems != 1 else ''} in {targets}", "red bold")
    )
