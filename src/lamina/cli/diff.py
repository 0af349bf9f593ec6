"""``lamina diff A B``: field-level differences between two targets (exit 1 when they differ)."""

from __future__ import annotations

import click

from lamina.cli import commands, completing, output
from lamina.cli.session import session
from lamina.core import diffs
from lamina.core.paths import format_path
from lamina.reports import presenting, views


@click.command()
@click.argument("a", help="First target (ENV, ENV/CLUSTER, @REV).", shell_complete=completing.targets)
@click.argument("b", help="Second target.", shell_complete=completing.targets)
@commands.json_option
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    """Field-level differences; prompts as unified diffs. Exit 1 when the targets differ."""
    repo = session(ctx).repository()
    left = repo.resolve(a)
    right = repo.resolve(b)
    if as_json:
        shown = views.diff(left, right, a, b)
        output.print_json(shown)
        differ = bool(shown["changes"])
    else:
        changes = presenting.changes_between(left, right)
        print_changes(changes, a, b)
        differ = bool(changes)
    if differ:
        raise click.exceptions.Exit(1)


def print_changes(changes: list[diffs.Change], a: str, b: str) -> None:
    """Human form of a list of changes: ~ changed, + added, - removed; texts as unified diffs."""
    if not changes:
        output.out.print(output.styled(f"{a} and {b} resolve to the same config", "green"))
        return
    output.out.print(output.styled(f"--- {a}\n+++ {b}", "bold"))
    for change in changes:
        path = format_path(change.path)
        if diffs.is_multiline(change.a) or diffs.is_multiline(change.b):
            output.out.print(output.styled(f"~ {path}:", "yellow bold"))
            for line in diffs.text_diff(
                change.a if isinstance(change.a, str) else "",
                change.b if isinstance(change.b, str) else "",
                a,
                b,
            )[2:]:
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "cyan"
                output.out.print(output.styled("    " + line, style if line[:1] in "+-@" else ""))
        elif change.kind == "added":
            output.out.print(output.styled(f"+ {path}: {output.short_value(change.b, 200)}", "green"))
        elif change.kind == "removed":
            output.out.print(output.styled(f"- {path}: {output.short_value(change.a, 200)}", "red"))
        else:
            output.out.print(
                output.styled(f"~ {path}: ", "yellow")
                + output.styled(output.short_value(change.a, 200), "red")
                + " -> "
                + output.styled(output.short_value(change.b, 200), "green")
            )
    output.out.print(f"{len(changes)} difference{'s' if len(changes) != 1 else ''}")
