"""``lamina build TARGET``: the resolved config, keys sorted."""

from __future__ import annotations

import io
import sys
from enum import StrEnum
from typing import Any

import click

from lamina.cli import completing, output
from lamina.cli.session import session
from lamina.core import hashing
from lamina.reports import presenting


class Format(StrEnum):
    """Output formats of build."""

    json = "json"
    yaml = "yaml"
    toml = "toml"


@click.command()
@click.argument("target", help="ENV, ENV/CLUSTER, optionally @REV.", shell_complete=completing.targets)
@click.option("--format", "-o", "fmt", type=click.Choice(Format), default=Format.json, help="Output format.")
@click.option("--hash", "only_hash", is_flag=True, help="Print the config hash alone.")
@click.pass_context
def build(ctx: click.Context, target: str, fmt: Format, only_hash: bool) -> None:
    """Print the resolved config of a target."""
    config = session(ctx).repository().resolve(target)
    if only_hash:
        sys.stdout.write(config.config_hash + "\n")
        return
    # credential-like literals are masked in what people see; the hash covers the real values
    text = render(presenting.config(config), fmt)
    if output.is_terminal():
        from rich.syntax import Syntax

        output.out.print(Syntax(text, fmt.value, theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(text)


def render(data: dict[str, Any], fmt: Format) -> str:
    """The config as text in the chosen format, keys sorted."""
    if fmt is Format.json:
        return hashing.pretty_json(data)
    ordered = _sorted(data)
    if fmt is Format.yaml:
        from ruamel.yaml import YAML

        yaml = YAML(typ="rt")
        yaml.default_flow_style = False
        yaml.width = 4096  # a long value stays on its line: no folding at 80 columns
        stream = io.StringIO()
        yaml.dump(_literal_blocks(ordered), stream)
        return stream.getvalue()
    import tomlkit

    return tomlkit.dumps(ordered)


def _sorted(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _sorted(node[key]) for key in sorted(node)}
    if isinstance(node, list):
        return [_sorted(item) for item in node]
    return node


def _literal_blocks(node: Any) -> Any:
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(node, dict):
        return {key: _literal_blocks(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_literal_blocks(item) for item in node]
    if isinstance(node, str) and "\n" in node:
        return LiteralScalarString(node)
    return node
