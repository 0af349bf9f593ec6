"""Commands registered by name and imported only when they run, so ``lamina`` starts fast.

``lamina --help`` lists the commands from the registration table in ``cli/app.py`` (name, where
the command lives, one line of help) without importing any of them; ``lamina build`` imports
``lamina.cli.build`` alone, and that module imports what building needs and nothing else.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer import _click as click
from typer._click.shell_completion import CompletionItem
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo


@dataclass(frozen=True)
class Lazy:
    """One registered command: ``module:attribute`` (a function or a ``typer.Typer``) and its help."""

    where: str
    help: str


class LazyGroup(TyperGroup):
    """A typer group whose commands come from the registration table, each imported on first use."""

    registry: ClassVar[dict[str, Lazy]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in self.registry if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.registry:
            self.commands[cmd_name] = load(cmd_name, self.registry[cmd_name])
        return self.commands.get(cmd_name)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Command names with their help from the table (no command module is imported)."""
        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        return [
            CompletionItem(name, help=entry.help)
            for name, entry in self.registry.items()
            if name.startswith(incomplete)
        ]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry.help) for name, entry in self.registry.items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def load(name: str, entry: Lazy) -> click.Command:
    """Import the command's module and make its click command (typer's conversion)."""
    module_name, _, attribute = entry.where.partition(":")
    target: Any = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        return get_group_from_info(
            TyperInfo(target, name=name),
            pretty_exceptions_short=True,
            rich_markup_mode=None,
            suggest_commands=True,
        )
    return get_command_from_info(
        CommandInfo(name=name, callback=target), pretty_exceptions_short=True, rich_markup_mode=None
    )


def group(registry: dict[str, Lazy]) -> type[LazyGroup]:
    """The group class serving this registration table."""
    return type("LaminaGroup", (LazyGroup,), {"registry": registry})
