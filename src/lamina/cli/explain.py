"""``lamina explain TARGET KEY``: every layer that set KEY, and which one won."""

from __future__ import annotations

from typing import Annotated

import typer

from lamina.cli import completing, output
from lamina.cli.session import session
from lamina.reports import presenting


def explain(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="ENV or ENV/CLUSTER, optionally @REV.", autocompletion=completing.targets)
    ],
    key: Annotated[
        str,
        typer.Argument(
            help="Dotted key, e.g. agent.model or tools[0].timeout.", autocompletion=completing.keys
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every layer that set KEY: file:line, value and reason; the winner last."""
    explanation = presenting.explanation(session(ctx).repository().resolve(target).explain(key))
    if as_json:
        output.print_json(explanation.to_json())
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
        rows.append(
            [
                setting.layer,
                f"{setting.file}:{setting.line}",
                output.short_value(setting.value),
                reason,
                mark,
            ]
        )
    output.print_table(["LAYER", "WHERE", "VALUE", "REASON", ""], rows)
