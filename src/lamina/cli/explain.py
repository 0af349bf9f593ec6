"""``lamina explain TARGET KEY``: every layer that set KEY, and which one won."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lamina.cli import commands, completing, output
from lamina.cli.session import session
from lamina.reports import presenting

if TYPE_CHECKING:
    from lamina.resolve.provenance import Setting
    from lamina.resolve.repository import Repository
    from lamina.resolve.resolved import ResolvedConfig
    from lamina.source.blame import Blame


@click.command()
@click.argument("target", help="ENV or ENV/CLUSTER, optionally @REV.", shell_complete=completing.targets)
@click.argument(
    "key", help="Dotted key, e.g. agent.model or tools[0].timeout.", shell_complete=completing.keys
)
@commands.json_option
@click.option(
    "--blame", "blame", is_flag=True, help="Add the commit, author and date that last changed each line."
)
@click.pass_context
def explain(ctx: click.Context, target: str, key: str, as_json: bool, blame: bool) -> None:
    """Show every layer that set KEY: file:line, value and reason; the winner last."""
    repo = session(ctx).repository()
    resolved = repo.resolve(target)
    explanation = presenting.explanation(resolved.explain(key))
    blames: list[Blame | None] = []
    if blame:
        blames = [_blame(repo, resolved, setting) for setting in explanation.layers]
    if as_json:
        shape = explanation.to_json()
        if blame:
            for layer, found in zip(shape["layers"], blames, strict=True):
                layer["blame"] = found.to_json() if found else None
        output.print_json(shape)
        return
    output.out.print(
        output.styled(f"{explanation.target}  {explanation.key} = ", "bold")
        + output.styled(output.short_value(explanation.value, 200), "green bold")
    )
    if not explanation.layers:
        output.out.print("  (no layer sets it; it comes from a reference)")
        return
    rows = []
    last = len(explanation.layers) - 1
    for index, setting in enumerate(explanation.layers):
        mark = output.styled("won", "green bold") if index == last else output.styled("overridden", "dim")
        reason = setting.reason or (
            output.styled("(no reason given)", "red") if setting.kind != "base" else ""
        )
        row = [setting.layer, f"{setting.file}:{setting.line}", output.short_value(setting.value), reason]
        if blame:
            found = blames[index]
            if found is None or found.at is None:
                row.append(found.author if found else "-")
            else:
                row.append(
                    f"{found.commit[:10] if found.commit else ''} {found.author} {found.to_json()['date']}"
                )
        rows.append([*row, mark])
    columns = ["LAYER", "WHERE", "VALUE", "REASON", *(["LAST CHANGED"] if blame else []), ""]
    output.print_table(columns, rows)


def _blame(repo: Repository, resolved: ResolvedConfig, setting: Setting) -> Blame | None:
    from lamina.source import blame as blaming

    if repo.git is None or setting.line is None:
        return None
    revision = resolved.base_revision if setting.kind == "base" else resolved.revision
    return blaming.blame_line(repo.git, setting.file, setting.line, revision)
