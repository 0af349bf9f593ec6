"""``lamina parity``: environments side by side, every difference with its reasons."""

from __future__ import annotations

import click

from lamina.cli import commands, completing, output
from lamina.cli.session import session
from lamina.reports import parity as parity_report


@click.command()
@commands.names_argument("environments", "Environments to compare (default: all).", completing.environments)
@click.option("--strict", "strict", is_flag=True, help="Exit 1 when a difference has no reason.")
@commands.json_option
@click.pass_context
def parity(ctx: click.Context, environments: list[str] | None, strict: bool, as_json: bool) -> None:
    """Every key that differs between environments, with values and reasons."""
    repo = session(ctx).repository()
    names = environments or list(repo.fleet.ordered_environments())
    differences = parity_report.parity(repo, names)
    undocumented = sum(len(d.undocumented) for d in differences)
    if as_json:
        output.print_json(
            {
                "environments": names,
                "differences": [d.to_json() for d in differences],
                "undocumented": undocumented,
            }
        )
    elif not differences:
        output.out.print(output.styled("every environment resolves to the same config", "green"))
    else:
        rows = []
        for difference in differences:
            cells: list[str | output.Text] = [output.styled(difference.label, "bold")]
            for side in difference.sides:
                value = output.short_value(side.value, 40) if side.present else "(absent)"
                if side.undocumented:
                    cells.append(output.styled(f"{value}\n(no reason)", "red"))
                elif side.reason and side.layer != "base":
                    cells.append(output.Text(value) + output.styled(f"\n{side.reason}", "dim"))
                else:
                    cells.append(value)
            rows.append(cells)
        output.print_table(["KEY", *names], rows)
        summary = f"{len(differences)} differing keys, {undocumented} undocumented override"
        summary += "" if undocumented == 1 else "s"
        output.out.print(output.styled(summary, "red" if undocumented else "green"))
    if strict and undocumented:
        raise click.exceptions.Exit(1)
